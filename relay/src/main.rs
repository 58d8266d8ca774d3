//! `hookhole-relay`: run a relay.

use clap::{CommandFactory as _, Parser as _};
use hookhole_host::process::{exit_for_clap, print_error};
use hookhole_host::settings::UsageError;
use hookhole_relay::cli::Cli;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a delivery allocates and frees its
/// buffers on different threads, where glibc's arenas spent 14-18% of the
/// CPU per delivery (docs/performance.md, "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PROGRAM: &str = "hookhole-relay";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return exit_for_clap(e),
    };
    if let Some(docs) = &cli.command {
        return docs.run(Cli::command(), &[]);
    }
    hookhole_host::logging::init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            print_error(PROGRAM, &format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(hookhole_relay::cli::run(&cli.relay, cli.config.as_deref())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            print_error(PROGRAM, &e.to_string());
            ExitCode::from(2)
        }
        Err(e) => {
            print_error(PROGRAM, &format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}
