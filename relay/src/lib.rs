//! hookhole-relay: the public side of the tunnel.
//!
//! One hyper service on one port: webhooks arrive at `/{channel}/{rest}`,
//! clients connect with a websocket at `/_hookhole/connect`, and
//! `/_hookhole/health` reports liveness. Each webhook is framed once and
//! fanned out to every client on its channel; the sender gets the first
//! real answer.
//!
//! - [`server`]: start-up checks ([`Relay::open`]), accept loop and graceful
//!   shutdown ([`serve`]); `state`: what its handlers share.
//! - [`config`]: the settings of a running relay ([`RelayConfig`]),
//!   however they were given.
//! - [`tls`]: certificates from PEM files (reloaded on SIGHUP) or
//!   self-signed; [`acme`]: from an ACME CA such as Let's Encrypt
//!   (`--domain`), renewed in the background.
//! - `connection`: one connection: TLS, its first head, its budget, hyper.
//! - `first_head`: reading and classifying a connection's first request head.
//! - `budget`: separate connection budgets for webhooks and clients.
//! - `routes`: dispatch and the websocket upgrade.
//! - `ingest`: turning a webhook into a delivery and waiting for its answer;
//!   `ids`: random delivery ids and channel names; `answer`: answer modes
//!   (answering a sender early once its delivery is kept).
//! - [`limits`]: per-channel rate and in-flight limits.
//! - [`body`]: reading a webhook body within its size and time bounds.
//! - [`forwarded`]: the `X-Forwarded-*` headers, and which proxies to trust.
//! - `hub`: channels, listeners, matching answers to waiting deliveries.
//! - [`buffer`]: deliveries kept in SQLite for absent clients;
//!   [`buffer_writer`]: its commits, batched on a thread of their own;
//!   `frame_upgrade`: frames a protocol-1 relay stored, made current when
//!   read (there and from the cluster's stream).
//! - [`auth`]: client tokens and channel ownership.
//! - [`cluster`]: relays sharing channels, buffer and owners through NATS
//!   (`--nats`); without it, none of it runs.
//! - `tunnel`: one client's websocket session.
//! - `error`: every error as an HTTP status and a JSON body; `metrics`:
//!   the counters behind `/_hookhole/metrics`.
//! - [`cli`]: the relay's flags, environment and `[relay]` in `hookhole.toml`;
//!   [`cli::Cli`]: the whole `hookhole-relay` command line.
//!
//! What both binaries need from the machine (usage errors, signals,
//! logging, owner-only files, bounded reads) is `hookhole-host`'s.

pub mod acme;
mod answer;
pub mod auth;
pub mod body;
mod budget;
pub mod buffer;
pub mod buffer_writer;
pub mod cli;
pub mod cluster;
pub mod config;
mod connection;
mod error;
mod first_head;
pub mod forwarded;
mod frame_upgrade;
mod hub;
mod ids;
mod ingest;
pub mod limits;
mod metrics;
mod routes;
pub mod server;
mod state;
pub mod tls;
mod tunnel;

pub use config::RelayConfig;
pub use server::{Relay, serve};
