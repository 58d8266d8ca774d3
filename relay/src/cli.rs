//! The relay's flags, shared by `hookhole-relay` and `hookhole relay`.

use crate::config::RelayConfig;
use crate::settings::{self, SizeValue, UsageError};
use serde::Deserialize;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, Default, clap::Args)]
pub struct RelayArgs {
    /// Address to listen on: webhooks, client websockets and health on one port
    /// [default: 127.0.0.1:8080]
    #[arg(long, env = "HOOKHOLE_RELAY_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Base URL to advertise to clients, e.g. https://relay.example.com
    /// [default: http:// + the Host header the client connected with]
    #[arg(long, env = "HOOKHOLE_RELAY_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// How long a sender waits for the local server's answer before 504
    /// [default: 10s]
    #[arg(long, env = "HOOKHOLE_RELAY_RESPONSE_TIMEOUT", value_name = "DURATION",
          value_parser = settings::parse_duration)]
    pub response_timeout: Option<Duration>,
    /// Largest webhook body accepted, e.g. 25MiB; larger ones get 413
    /// [default: 25MiB]
    #[arg(long, env = "HOOKHOLE_RELAY_MAX_BODY", value_name = "SIZE",
          value_parser = settings::parse_size)]
    pub max_body: Option<usize>,
}

/// The `[relay]` section of `hookhole.toml`: the same names as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RelayFile {
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    response_timeout: Option<String>,
    max_body: Option<SizeValue>,
}

impl RelayArgs {
    /// Merges flags, environment and the config file into the address to
    /// listen on and the relay settings.
    pub fn resolve(
        &self,
        config_file: Option<&Path>,
    ) -> Result<(SocketAddr, RelayConfig), UsageError> {
        let file: RelayFile = settings::load_section(config_file, "relay")?;
        let listen = match self.listen.or(file.listen) {
            Some(addr) => addr,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|e| UsageError(format!("bad default address: {e}")))?,
        };
        let mut config = RelayConfig::default();
        if let Some(url) = self.public_url.clone().or(file.public_url) {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(UsageError(format!(
                    "--public-url must start with http:// or https:// (got {url:?})"
                )));
            }
            config.public_url = Some(url);
        }
        let file_timeout =
            settings::file_duration(file.response_timeout.as_deref(), "response-timeout")?;
        if let Some(timeout) = self.response_timeout.or(file_timeout) {
            config.response_timeout = timeout;
            config.drain_timeout = timeout + Duration::from_secs(2);
        }
        if let Some(max) = self.max_body {
            config.max_body = max;
        } else if let Some(max) = &file.max_body {
            config.max_body = max.resolve("max-body")?;
        }
        Ok((listen, config))
    }
}

/// Runs a relay from the command line until Ctrl-C or SIGTERM.
pub async fn run(args: &RelayArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    let (listen, config) = args.resolve(config_file)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr()?;
    let base = config.base_url(None, local);
    // One machine-readable line on stdout, so scripts and tests can find the
    // port when listening on port 0.
    // A closed stdout must not stop the relay.
    let _ = writeln!(
        std::io::stdout(),
        "{}",
        serde_json::json!({"event": "listening", "addr": local.to_string(), "public_url": base})
    );
    tracing::info!("hookhole relay listening on {local}; send webhooks to {base}/{{channel}}/...");
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    crate::serve(listener, config, shutdown).await
}

/// Cancels `token` on Ctrl-C (SIGINT) or SIGTERM.
pub async fn stop_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot watch SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
                return token.cancel();
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("signal received, shutting down");
    token.cancel();
}

/// Prints a clap error as one line (help and version as usual) and returns
/// the exit code: 2 for usage errors, as clap does, 0 for help.
pub fn exit_for_clap(err: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return std::process::ExitCode::SUCCESS;
    }
    let rendered = err.render().to_string();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("error: invalid arguments");
    // Keep clap's "tip: a similar argument exists" when there is one.
    match lines.find(|l| l.starts_with("tip:")) {
        Some(tip) => eprintln!("{first} ({tip}); see --help"),
        None => eprintln!("{first}; see --help"),
    }
    std::process::ExitCode::from(2)
}

/// Logs to stderr, filtered by `RUST_LOG` (e.g. `debug`, `hookhole_relay=trace`),
/// `info` by default. Stdout stays free for machine-readable lines.
pub fn init_tracing() {
    use std::io::IsTerminal as _;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(color),
        )
        .with(filter)
        .try_init();
}
