//! `hookhole listen`: flags, config file, and wiring the engine to its
//! relay (remote or embedded) and to the headless output.

use crate::announce::Announce;
use crate::embedded;
use crate::engine::relays::Relay;
use crate::engine::{self, EngineConfig};
use crate::forward::{DEFAULT_MAX_RESPONSE, Forwarder};
use crate::history::{History, Keep};
use crate::memory::ChannelMemory;
use crate::secrets;
use crate::target::Target;
use crate::verification::Verifier;
use hookhole_host::settings::{self, UsageError};
use hookhole_shared::protocol::Answer;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod file;
mod headless;
mod resolve;

use file::ListenFile;
pub use resolve::{FileSettings, SecretSetting};

pub const DEFAULT_PORT: u16 = 8080;
pub const DEFAULT_FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ListenArgs {
    /// Local server to forward to: http://HOST:PORT[/PATH], HOST:PORT[/PATH], or a port
    #[arg(long, short = 'f', env = "HOOKHOLE_FORWARD", value_name = "URL")]
    pub forward: Option<String>,
    /// Relay to connect to, e.g. http://relay.example.com; repeat for more (each
    /// reconnect tries the next one) [default: start an embedded relay on 127.0.0.1]
    #[arg(
        long,
        env = "HOOKHOLE_RELAY",
        value_name = "URL",
        value_delimiter = ','
    )]
    pub relay: Vec<String>,
    /// Channel name ([a-z0-9-], up to 63) [default: one the relay assigns,
    /// remembered for later runs]
    #[arg(long, short = 'c', env = "HOOKHOLE_CHANNEL", value_name = "NAME")]
    pub channel: Option<String>,
    /// Port of the embedded relay; a free one is used if it is taken [default: 8080]
    #[arg(long, short = 'p', env = "HOOKHOLE_PORT", value_name = "PORT")]
    pub port: Option<u16>,
    /// Print one JSON object per line instead of the terminal UI (always so
    /// when stdout is not a terminal)
    #[arg(long, env = "HOOKHOLE_NO_TUI")]
    pub no_tui: bool,
    /// Where hookhole keeps its state [default: the platform data dir]
    #[arg(long, env = "HOOKHOLE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Embedded relay: how long a sender waits for the local answer before 504
    /// [default: 10s]
    #[arg(long, env = "HOOKHOLE_RESPONSE_TIMEOUT", value_name = "DURATION",
          value_parser = settings::parse_duration)]
    pub response_timeout: Option<Duration>,
    /// Secret to verify signatures with: PROVIDER=SECRET[,key=value...]; SECRET may be
    /// @path or env:NAME. Repeat for more providers or rotated secrets
    #[arg(
        long,
        short = 's',
        env = "HOOKHOLE_SECRET",
        value_name = "PROVIDER=SECRET"
    )]
    pub secret: Vec<String>,
    /// History to keep: a count, an age, or both, e.g. 5000,7d [default: 10000,30d]
    #[arg(long, env = "HOOKHOLE_KEEP", value_name = "COUNT,AGE", value_parser = Keep::parse)]
    pub keep: Option<Keep>,
    /// Trust this CA (PEM) for an https:// relay with a private or self-signed certificate
    #[arg(long, env = "HOOKHOLE_CA_CERT", value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate from an https:// relay (self-signed, on a network you trust)
    #[arg(long, env = "HOOKHOLE_INSECURE")]
    pub insecure: bool,
    /// Token for a relay that requires one (never shown in logs)
    #[arg(
        long,
        env = "HOOKHOLE_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// How long to wait for the local server's answer [default: 30s]
    #[arg(long, env = "HOOKHOLE_FORWARD_TIMEOUT", value_name = "DURATION",
          value_parser = settings::parse_duration)]
    pub forward_timeout: Option<Duration>,
    /// The provider of deliveries that carry no signature it can be told by
    /// (Maestra, say): its event type, id, deadline and retries are read
    /// from them [default: only signed deliveries name theirs]
    #[arg(long, env = "HOOKHOLE_PROVIDER", value_name = "ID")]
    pub provider: Option<String>,
    /// Play the provider's retries locally when its delivery fails here
    /// (not 2xx, no answer, or past its deadline), on its documented schedule
    #[arg(long, env = "HOOKHOLE_RETRIES")]
    pub retries: bool,
    /// How many times faster than the provider's schedule retries play
    /// (whole number, at least 1) [default: 60, an hour in a minute]
    #[arg(long, env = "HOOKHOLE_RETRY_SPEED", value_name = "N",
          value_parser = parse_retry_speed)]
    pub retry_speed: Option<u32>,
    /// Send the deliveries a route matches elsewhere, or answer them without
    /// forwarding: KEY=VALUE,... e.g. event=order.*,forward=4000 (see
    /// docs/routes.md); repeat for more, the first that matches wins
    /// [default: the config file's [[listen.route]]]
    #[arg(long, value_name = "KEY=VALUE,...")]
    pub route: Vec<String>,
    /// How the relay answers senders: local (the local server's answer),
    /// now or now=STATUS (202 or STATUS at once, once the relay has kept the
    /// delivery), within=DURATION (the local answer if it comes in time,
    /// else 202) [default: local]
    #[arg(long, env = "HOOKHOLE_ANSWER", value_name = "MODE",
          value_parser = parse_answer)]
    pub answer: Option<Answer>,
}

/// `--retry-speed`: a whole number from 1.
fn parse_retry_speed(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err(format!(
            "{text:?} is not a speed: a whole number from 1 (60 plays an hour in a minute)"
        )),
        Ok(speed) => Ok(speed),
    }
}

fn parse_answer(text: &str) -> Result<Answer, String> {
    text.parse()
        .map_err(|e: hookhole_shared::protocol::answer::AnswerError| e.to_string())
}

/// Everything `listen` needs, merged from flags, environment and file.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    pub target: Target,
    /// The relays to use, in order; none: start the embedded relay.
    pub relays: Vec<String>,
    pub channel: Option<String>,
    pub port: u16,
    pub data_dir: Option<PathBuf>,
    pub response_timeout: Option<Duration>,
    pub forward_timeout: Duration,
    pub verifier: Verifier,
    /// Show the terminal UI (stdout is a terminal and `--no-tui` not given).
    pub tui: bool,
    pub keep: Keep,
    /// Redacted in `Debug`: never in a log.
    pub token: Option<hookhole_shared::protocol::Token>,
    /// Trust for an `https://` relay.
    #[doc(hidden)]
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// The provider of deliveries whose signature names none (`--provider`).
    pub provider: Option<String>,
    /// `--route`s, else the config file's `[[listen.route]]`s.
    pub routes: crate::route::Routes,
    /// How senders are answered (`--answer`).
    pub answer: Answer,
    /// Local time offset for displayed times (read at startup, before any
    /// thread exists, as the platform requires).
    pub utc_offset_s: i64,
    /// Play providers' retries of failed deliveries (`--retries`).
    pub retries: bool,
    /// How much faster than documented they play (`--retry-speed`).
    pub retry_speed: u32,
}

/// The routes in force: the `--route` flags when there are any (they
/// replace the file's, as `--forward` replaces `forward`), else the
/// config file's `[[listen.route]]` tables.
fn routes(
    flags: &[String],
    tables: &[toml::Table],
    registry: &hookhole_shared::signature::Registry,
) -> Result<crate::route::Routes, UsageError> {
    use crate::route::parse;
    let (setting, given) = if flags.is_empty() {
        let given = tables.iter().enumerate().map(|(i, table)| {
            parse::from_table(table).map_err(|why| format!("route {}: {why}", i + 1))
        });
        ("route", given.collect::<Result<Vec<_>, _>>())
    } else {
        let given = flags.iter().enumerate().map(|(i, flag)| {
            parse::from_flag(flag).map_err(|why| format!("--route {}: {why}", i + 1))
        });
        ("--route", given.collect())
    };
    let given = given.map_err(UsageError)?;
    parse::build(&given, setting, registry).map_err(UsageError)
}

/// The `[listen]` settings other commands share with `listen` (trigger finds
/// the listener through the data dir and signs with the same secrets).
pub struct Shared {
    pub data_dir: Option<PathBuf>,
    /// The config file's secrets (`@path` relative to the file).
    pub secrets: Vec<hookhole_shared::signature::secret::Secret>,
}

/// The config file's `[listen] forward`, for commands that replay.
pub fn file_forward(config_file: Option<&Path>) -> Result<Option<String>, UsageError> {
    let file: ListenFile = settings::load_section(config_file, "listen")?;
    Ok(file.forward)
}

pub fn shared_settings(
    config_file: Option<&Path>,
    registry: &hookhole_shared::signature::Registry,
    data_dir_flag: Option<PathBuf>,
) -> Result<Shared, UsageError> {
    let file: ListenFile = settings::load_section(config_file, "listen")?;
    let file_dir = settings::find(config_file).and_then(|p| p.parent().map(Path::to_path_buf));
    Ok(Shared {
        data_dir: data_dir_of(data_dir_flag, file.data_dir),
        secrets: secrets::resolve(&file.secret, registry, file_dir.as_deref())?,
    })
}

/// The data dir: the flag's, else the config file's, else the platform's.
fn data_dir_of(flag: Option<PathBuf>, in_file: Option<PathBuf>) -> Option<PathBuf> {
    flag.or(in_file)
        .or_else(|| dirs::data_dir().map(|d| d.join("hookhole")))
}

/// Runs `hookhole listen` until `shutdown` is cancelled.
pub async fn run(config: ListenConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let forwarder = Forwarder::new(
        config.target.clone(),
        config.forward_timeout,
        DEFAULT_MAX_RESPONSE,
    );
    let mut token = config.token.clone();
    let (embedded, relays) = if config.relays.is_empty() {
        // An early answer needs somewhere to keep deliveries: the embedded
        // relay gets a buffer in the data dir for it (and none otherwise).
        let keep = config
            .data_dir
            .as_deref()
            .filter(|_| config.answer != Answer::Local)
            .map(|dir| dir.join("embedded-relay"));
        let relay = embedded::start(config.port, config.response_timeout, keep).await?;
        // `--token` is for a remote relay; the embedded one knows only
        // the token it was started with.
        token = Some(relay.token.clone());
        let url = relay.url();
        let known_as = Relay {
            url,
            memory_key: "embedded".to_string(),
        };
        (Some(relay), vec![known_as])
    } else {
        (None, config.relays.iter().map(Relay::new).collect())
    };
    let mut engine_config = EngineConfig::with_relays(relays, forwarder);
    engine_config.channel = config.channel.clone();
    engine_config.token = token;
    engine_config.tls = config.tls.clone();
    engine_config.verifier = std::sync::Arc::new(config.verifier.clone());
    engine_config.provider = config.provider.clone();
    engine_config.routes = std::sync::Arc::new(config.routes.clone());
    engine_config.answer = config.answer;
    if let Some(dir) = &config.data_dir {
        // The writer creates, upgrades and prunes the history; the engine
        // and the UI only read it (and save replays).
        // A history that cannot be opened stops the start like a bad flag:
        // one line saying what to do, exit code 2.
        let writer = crate::history::Writer::start(dir, config.keep).map_err(UsageError)?;
        let history = History::open_existing(dir).map_err(UsageError)?;
        engine_config.history = Some(std::sync::Arc::new(history));
        engine_config.writer = Some(writer);
    } else {
        tracing::warn!("no data dir: the history is not saved");
    }
    engine_config.memory = config.data_dir.as_deref().map(ChannelMemory::new);

    let (engine_tx, engine_rx) = mpsc::channel(1024);
    let (tx, rx) = mpsc::channel(4096);
    let announce = config
        .data_dir
        .as_deref()
        .map(|dir| Announce::new(dir, &std::env::current_dir().unwrap_or_default()));
    tokio::spawn(headless::tap(engine_rx, tx, announce));
    let replayer = crate::replay::Replayer {
        forwarder: engine_config.forwarder.clone(),
        verifier: engine_config.verifier.clone(),
        history: engine_config.history.clone(),
    };
    // Its events go where the engine's do; it holds a sender only while a
    // listener or the UI holds it, so the output ends with the engine.
    let retrier = crate::retries::Retrier::new(
        replayer.clone(),
        engine_tx.clone(),
        config.retry_speed,
        shutdown.child_token(),
    );
    engine_config.retries = config.retries.then(|| retrier.clone());
    let tui = config.tui.then(|| crate::tui::Context {
        replayer,
        retrier,
        history: engine_config.history.clone(),
        utc_offset_s: config.utc_offset_s,
    });
    let engine = tokio::spawn(engine::run(engine_config, engine_tx, shutdown.clone()));
    let ui_result = match tui {
        Some(ctx) => {
            let result = crate::tui::run(rx, ctx, shutdown.clone()).await;
            // Leaving the UI stops hookhole.
            shutdown.cancel();
            result
        }
        // Ends when the engine does (it drops its sender).
        None => {
            headless::print_events(rx).await;
            Ok(())
        }
    };
    let result = engine.await;
    if let Some(relay) = embedded {
        relay.stop().await;
    }
    ui_result?;
    match result {
        Ok(r) => r.map_err(anyhow::Error::from),
        Err(e) => Err(anyhow::anyhow!("the engine task failed: {e}")),
    }
}
