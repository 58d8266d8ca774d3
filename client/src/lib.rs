//! hookhole: the client side of the tunnel.
//!
//! It keeps a websocket to a relay (or starts one in-process), forwards each
//! delivery byte for byte to the local server, and sends the answer back.
//!
//! - [`engine`]: the relay link (connect, handshake, reconnect with
//!   [`backoff`], to the next relay when there are several) and the
//!   per-delivery work.
//! - [`outgoing`]: the one request a delivery becomes, checked (malformed
//!   deliveries are refused) and built from parts; [`target`]: the only
//!   place a delivery becomes a URL, always on the configured host;
//!   [`forward`]: sending it to the local server; [`route`]: which target
//!   (or which fixed answer) a delivery gets, by `[[listen.route]]`/`--route`.
//! - [`delivery`]: the one vocabulary of deliveries and attempts, and the
//!   rule for "failed"; [`replay`]: sending a stored delivery again.
//! - [`events`]: what the engine reports (JSON lines in headless mode).
//! - [`cli`]: the command line (every subcommand), which completions and
//!   man pages are generated from.
//! - [`doctor`]: `hookhole doctor`, what stands between the user and a
//!   working `listen`, checked with `listen`'s own settings.
//! - [`listen`]: the `listen` command; [`embedded`]: the in-process relay
//!   (with `hookhole relay`, the only user of the relay crate);
//!   [`memory`]: the remembered relay-assigned channel; [`relay_tls`]: which
//!   certificates an `https://` relay may present.
//! - [`webhook`]: which provider a delivery is from, and the `webhook`
//!   object (event type and id, duplicates, deadline, the provider's next
//!   step) every output shows.
//! - [`verification`]: signature verdicts per delivery; [`secrets`]: resolving
//!   `--secret` values; [`verify_cmd`]: `hookhole verify`, one request
//!   offline; [`providers`]: `hookhole providers`, from the preset data.
//! - [`netwatch`]: noticing sleep and network changes, after which the link
//!   to the relay is checked at once.
//! - [`present`]: how deliveries read (badges, bodies, curl commands), the
//!   same in the UI and the commands; [`output`]: the sinks that escape it.
//! - [`tui`]: the terminal UI (Elm style: `app` state and `update`, pure
//!   `ui::render`, one runtime loop).
//! - [`history`]: every delivery and attempt, in SQLite in the data dir;
//!   [`glob`]: the one glob rule (`history --event`, route matchers).
//! - [`retries`]: the provider's retries played locally (`--retries`, `p`).
//! - [`history_cmd`]: `history`, `show`, `replay`; [`export`]: HAR ([`har`]),
//!   JSON and curl exports.
//! - [`output`]: writing to stdout when the reader may have gone away.
//! - [`trigger`]: signed test webhooks; [`announce`]: where a running
//!   listener can be found.

pub mod announce;
pub mod backoff;
pub mod cli;
pub mod delivery;
pub mod doctor;
pub mod embedded;
pub mod engine;
pub mod events;
pub mod export;
pub mod forward;
pub mod glob;
pub mod har;
pub mod history;
pub mod history_cmd;
pub mod listen;
pub mod memory;
pub mod netwatch;
pub mod outgoing;
pub mod output;
pub mod present;
pub mod providers;
pub mod relay_tls;
pub mod replay;
pub mod retries;
pub mod route;
pub mod secrets;
pub mod target;
pub mod trigger;
pub mod tui;
pub mod verification;
pub mod verify_cmd;
pub mod webhook;
