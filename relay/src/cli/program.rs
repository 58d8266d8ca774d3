//! The `hookhole-relay` command line: the relay's flags at the top, and
//! `completions` and `man` as the only subcommands. Without a subcommand
//! the relay runs, so `hookhole-relay --listen ...` reads as it always has.
//!
//! In the library rather than in `main.rs` so that what is generated from
//! it (completions, man pages) and its tests see what the binary parses.

use super::RelayArgs;
use clap::Parser;
use hookhole_host::generated_docs::DocsCommand;
use std::path::PathBuf;

/// The hookhole relay: receives webhooks on public channel URLs and streams
/// them to connected hookhole clients.
#[derive(Debug, Parser)]
#[command(name = "hookhole-relay", version = hookhole_host::version::VERSION, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<DocsCommand>,
    #[command(flatten)]
    pub relay: RelayArgs,
    /// Config file [default: ./hookhole.toml, then the platform config dir]
    #[arg(long, env = "HOOKHOLE_CONFIG", value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
}
