//! `hookhole`: receive webhooks on your laptop.

use clap::{Parser, Subcommand};
use hookhole::listen::ListenArgs;
use hookhole::providers::ProvidersArgs;
use hookhole::trigger::TriggerArgs;
use hookhole::verify_cmd::VerifyArgs;
use hookhole_relay::cli::{RelayArgs, exit_for_clap, init_tracing, stop_on_signal};
use hookhole_relay::settings::UsageError;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// hookhole: a webhook tunnel and inspector. Webhooks sent to a relay
/// channel reach your local server byte for byte, and its answer goes back.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Config file [default: ./hookhole.toml, then the platform config dir]
    #[arg(long, env = "HOOKHOLE_CONFIG", value_name = "PATH", global = true)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Forward webhooks from a relay channel to a local server
    Listen(ListenArgs),
    /// Run a relay (the same as the hookhole-relay binary)
    Relay(RelayArgs),
    /// Verify one request's signature offline (exit 0 only when valid)
    Verify(VerifyArgs),
    /// List the providers whose signatures hookhole verifies
    Providers(ProvidersArgs),
    /// Send a realistic, correctly signed webhook from any provider
    Trigger(TriggerArgs),
}

/// `hookhole verify` found no valid signature.
#[derive(Debug, thiserror::Error)]
#[error("signature not valid")]
struct NotValid;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return exit_for_clap(e),
    };
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookhole: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = cli.config.as_deref();
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Listen(args) => {
                let listen = args.resolve(config)?;
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
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The verdict is already printed; the exit code says "not valid".
        Err(e) if e.downcast_ref::<NotValid>().is_some() => ExitCode::FAILURE,
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            eprintln!("hookhole: error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("hookhole: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
