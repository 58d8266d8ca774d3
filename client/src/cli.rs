//! The `hookhole` command line: every subcommand and the global flags.
//!
//! In the library rather than in `main.rs` so that what is generated from
//! it (completions, man pages) and the tests that check those see the same
//! definition the binary parses.

use crate::listen::ListenArgs;
use crate::providers::ProvidersArgs;
use crate::trigger::TriggerArgs;
use crate::verify_cmd::VerifyArgs;
use crate::{export, history_cmd};
use clap::{Parser, Subcommand};
use hookhole_host::generated_docs::DocsCommand;
use hookhole_relay::cli::RelayArgs;
use std::path::PathBuf;

/// hookhole: a webhook tunnel and inspector. Webhooks sent to a relay
/// channel reach your local server byte for byte, and its answer goes back.
#[derive(Debug, Parser)]
#[command(name = "hookhole", version = hookhole_host::version::VERSION, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Config file [default: ./hookhole.toml, then the platform config dir]
    #[arg(long, env = "HOOKHOLE_CONFIG", value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Forward webhooks from a relay channel to a local server
    Listen(ListenArgs),
    /// Run a relay (the same as the hookhole-relay binary)
    // Boxed: the relay has many flags, the other commands few.
    Relay(Box<RelayArgs>),
    /// Verify one request's signature offline (exit 0 only when valid)
    Verify(VerifyArgs),
    /// List the providers whose signatures hookhole verifies
    Providers(ProvidersArgs),
    /// Send a realistic, correctly signed webhook from any provider
    Trigger(TriggerArgs),
    /// List saved deliveries
    History(history_cmd::HistoryArgs),
    /// Show one saved delivery with every attempt
    Show(history_cmd::ShowArgs),
    /// Send saved deliveries to the local server again
    Replay(history_cmd::ReplayArgs),
    /// Export saved deliveries as HAR, curl commands or JSON
    Export(export::ExportArgs),
    /// Check what stands between you and a working `listen` (same flags)
    Doctor(crate::doctor::DoctorArgs),
    // `completions SHELL` and `man DIR`, the same in both binaries.
    #[command(flatten)]
    Docs(DocsCommand),
}
