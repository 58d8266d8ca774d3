//! `hookhole`: receive webhooks on your laptop.

use clap::{CommandFactory as _, Parser as _};
use hookhole::cli::{Cli, Command};
use hookhole::{export, history_cmd};
use hookhole_host::logging::{self, init_tracing};
use hookhole_host::private_files;
use hookhole_host::process::{exit_for_clap, print_error, stop_on_signal};
use hookhole_host::settings::UsageError;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a delivery allocates and frees its
/// buffers on different threads, where glibc's arenas spent 14-18% of the
/// CPU per delivery (docs/performance.md, "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio_util::sync::CancellationToken;

const PROGRAM: &str = "hookhole";

/// `hookhole verify` found no valid signature.
#[derive(Debug, thiserror::Error)]
#[error("signature not valid")]
struct NotValid;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return exit_for_clap(e),
    };
    // Nothing to set up for these: no config, logs or runtime. The man
    // pages of `hookhole relay` are those of the relay binary it is.
    if let Command::Docs(docs) = &cli.command {
        return docs.run(Cli::command(), &[hookhole_relay::cli::Cli::command()]);
    }
    // Read while this is the only thread: the platform's local-time lookup
    // is refused once other threads exist.
    let utc_offset_s =
        time::UtcOffset::current_local_offset().map_or(0, |o| i64::from(o.whole_seconds()));
    let config = cli.config.as_deref();
    // `listen` is resolved first: with the terminal UI, logs go to a file.
    let listen = match &cli.command {
        Command::Listen(args) => match args.resolve(config) {
            Ok(mut listen) => {
                listen.utc_offset_s = utc_offset_s;
                Some(listen)
            }
            Err(e) => {
                print_error(PROGRAM, &e.to_string());
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    match &listen {
        Some(l) if l.tui => init_tracing_to_file(l.data_dir.as_deref()),
        _ => init_tracing(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            print_error(PROGRAM, &format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Listen(_) => {
                let listen = listen.ok_or_else(|| anyhow::anyhow!("listen settings missing"))?;
                let shutdown = CancellationToken::new();
                tokio::spawn(stop_on_signal(shutdown.clone()));
                hookhole::listen::run(listen, shutdown).await
            }
            Command::Relay(args) => hookhole_relay::cli::run(args, config).await,
            Command::Verify(args) => match hookhole::verify_cmd::run(args, config)? {
                true => Ok(()),
                false => Err(anyhow::Error::new(NotValid)),
            },
            Command::Providers(args) => hookhole::providers::run(args, config),
            Command::Trigger(args) => hookhole::trigger::run(args, config).await,
            Command::History(args) => history_cmd::history(args, config),
            Command::Show(args) => history_cmd::show(args, config),
            Command::Replay(args) => history_cmd::replay(args, config).await,
            Command::Export(args) => export::export(args, config),
            Command::Doctor(args) => hookhole::doctor::run(args, config).await,
            // Run above, before the runtime.
            Command::Docs(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The verdict is already printed; the exit code says "not valid".
        Err(e) if e.downcast_ref::<NotValid>().is_some() => ExitCode::FAILURE,
        // Errors can quote what a relay or sender sent (ids, reasons):
        // `print_error` escapes them.
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

/// With the terminal UI on screen, logs go to `hookhole.log` in the data
/// dir (or nowhere without one): never onto the screen being drawn.
fn init_tracing_to_file(data_dir: Option<&std::path::Path>) {
    let Some(dir) = data_dir else {
        return;
    };
    let file = private_files::create_dir(dir)
        .and_then(|()| private_files::open_append(&dir.join("hookhole.log")));
    if let Ok(file) = file {
        logging::init_tracing_to_file(file);
    }
}
