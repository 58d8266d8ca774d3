//! hookhole-relay: the public side of the tunnel.
//!
//! One hyper service on one port: webhooks arrive at `/{channel}/{rest}`,
//! clients connect with a websocket at `/_hookhole/connect`, and
//! `/_hookhole/health` reports liveness. Each webhook is framed once and
//! fanned out to every client on its channel; the sender gets the first
//! real answer.
//!
//! - [`server`]: start-up checks ([`Relay::open`]), accept loop and graceful
//!   shutdown ([`serve`]).
//! - `connection`: one connection: TLS, its first head, its budget, hyper.
//! - `first_head`: reading and classifying a connection's first request head.
//! - `budget`: separate connection budgets for webhooks and clients.
//! - `routes`: dispatch and the websocket upgrade.
//! - `ingest`: turning a webhook into a delivery and waiting for its answer.
//! - [`body`]: reading a webhook body within its size and time bounds.
//! - [`forwarded`]: the `X-Forwarded-*` headers, and which proxies to trust.
//! - `hub`: channels, listeners, matching answers to waiting deliveries.
//! - [`buffer`]: deliveries kept in SQLite for absent clients.
//! - [`auth`]: client tokens and channel ownership.
//! - [`private_files`]: owner-only files and directories (0600 in 0700).
//! - [`bounded_read`]: reading whole files and standard input with a size bound.
//! - `tunnel`: one client's websocket session.
//! - `error`: every error as an HTTP status and a JSON body.
//! - [`cli`], [`settings`]: flags, environment and `hookhole.toml`.
//! - [`process`], [`logging`]: what both binaries share around their work:
//!   one-line usage errors, stopping on signals, printable logs.

pub mod auth;
pub mod body;
pub mod bounded_read;
mod budget;
pub mod buffer;
pub mod buffer_writer;
pub mod cli;
pub mod config;
mod connection;
mod error;
mod first_head;
pub mod forwarded;
mod hub;
mod ids;
mod ingest;
pub mod limits;
pub mod logging;
mod metrics;
pub mod private_files;
pub mod process;
mod routes;
pub mod server;
pub mod settings;
mod state;
pub mod tls;
mod tunnel;

pub use config::RelayConfig;
pub use server::{Relay, serve};
