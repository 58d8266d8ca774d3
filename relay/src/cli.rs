//! The relay's flags, shared by `hookhole-relay` and `hookhole relay`;
//! [`program`]: the whole `hookhole-relay` command line.

mod program;
pub use program::Cli;

use crate::config::{Offline, RelayConfig};
use crate::tls::TlsSource;
use hookhole_host::settings::{self, SizeValue, UsageError};
use serde::Deserialize;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    #[arg(long, env = "HOOKHOLE_RELAY_PUBLIC_URL", value_name = "URL",
          value_parser = crate::config::parse_public_url)]
    pub public_url: Option<String>,
    /// How long a sender waits for the local server's answer before 504
    /// [default: 10s]
    #[arg(long, env = "HOOKHOLE_RELAY_RESPONSE_TIMEOUT", value_name = "DURATION",
          value_parser = settings::parse_duration)]
    pub response_timeout: Option<Duration>,
    /// Largest webhook body accepted, e.g. 25MiB; larger ones get 413
    /// [default: 25MiB]
    #[arg(long, env = "HOOKHOLE_RELAY_MAX_BODY", value_name = "SIZE",
          value_parser = settings::parse_limit)]
    pub max_body: Option<usize>,
    /// Where deliveries for absent clients are kept
    /// [default: the platform data dir, hookhole-relay/]
    #[arg(long, env = "HOOKHOLE_RELAY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// With no client on a channel: queue webhooks (answer 202, deliver on
    /// connect) or reject them (503) [default: queue]
    #[arg(long, env = "HOOKHOLE_RELAY_OFFLINE", value_enum)]
    pub offline: Option<Offline>,
    /// Most deliveries queued per channel (429 beyond) [default: 1000]
    #[arg(long, env = "HOOKHOLE_RELAY_BUFFER_LIMIT", value_name = "COUNT",
          value_parser = settings::parse_count::<u64>)]
    pub buffer_limit: Option<u64>,
    /// Most bytes queued per channel (507 beyond) [default: 256MiB]
    #[arg(long, env = "HOOKHOLE_RELAY_BUFFER_BYTES", value_name = "SIZE",
          value_parser = settings::parse_limit)]
    pub buffer_bytes: Option<usize>,
    /// Most deliveries queued in all channels together (507 beyond)
    /// [default: 100000]
    #[arg(long, env = "HOOKHOLE_RELAY_BUFFER_TOTAL_LIMIT", value_name = "COUNT",
          value_parser = settings::parse_count::<u64>)]
    pub buffer_total_limit: Option<u64>,
    /// Most bytes queued in all channels together (507 beyond) [default: 1GiB]
    #[arg(long, env = "HOOKHOLE_RELAY_BUFFER_TOTAL_BYTES", value_name = "SIZE",
          value_parser = settings::parse_limit)]
    pub buffer_total_bytes: Option<usize>,
    /// Queued deliveries older than this are dropped [default: 24h]
    #[arg(long, env = "HOOKHOLE_RELAY_BUFFER_AGE", value_name = "DURATION",
          value_parser = settings::parse_duration)]
    pub buffer_age: Option<Duration>,
    /// A token clients must present (repeatable; at least 16 characters, or
    /// sha256:<hex> of one). Comma-separated in the environment
    #[arg(
        long = "token",
        env = "HOOKHOLE_RELAY_TOKENS",
        value_name = "TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub tokens: Vec<String>,
    /// A file of tokens, one per line (# comments; sha256:<hex> allowed)
    #[arg(long, env = "HOOKHOLE_RELAY_TOKENS_FILE", value_name = "PATH")]
    pub tokens_file: Option<PathBuf>,
    /// Listen on a public address without tokens; clients then get random
    /// channel names only
    #[arg(long, env = "HOOKHOLE_RELAY_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,
    /// Serve HTTPS with this certificate chain (PEM); reloaded on SIGHUP
    #[arg(
        long,
        env = "HOOKHOLE_RELAY_TLS_CERT",
        value_name = "PATH",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM)
    #[arg(
        long,
        env = "HOOKHOLE_RELAY_TLS_KEY",
        value_name = "PATH",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate made at startup (prints its fingerprint;
    /// clients need --ca-cert or --insecure)
    #[arg(
        long,
        env = "HOOKHOLE_RELAY_TLS_SELF_SIGNED",
        conflicts_with = "tls_cert"
    )]
    pub tls_self_signed: bool,
    /// Webhooks per second per channel; bursts of twice that pass (429 beyond)
    /// [default: 1000]
    #[arg(long, env = "HOOKHOLE_RELAY_RATE_LIMIT", value_name = "PER_SECOND")]
    pub rate_limit: Option<f64>,
    /// Deliveries per channel waiting for an answer (429 beyond) [default: 1000]
    #[arg(long, env = "HOOKHOLE_RELAY_MAX_IN_FLIGHT", value_name = "N",
          value_parser = settings::parse_count::<usize>)]
    pub max_in_flight: Option<usize>,
    /// Clients per channel [default: 16]
    #[arg(long, env = "HOOKHOLE_RELAY_MAX_CLIENTS", value_name = "N",
          value_parser = settings::parse_count::<usize>)]
    pub max_clients: Option<usize>,
    /// Time a sender has to send its request headers, against slow senders
    /// holding connections open [default: 10s]
    #[arg(long, env = "HOOKHOLE_RELAY_HEADER_TIMEOUT", value_name = "DURATION",
          value_parser = settings::parse_duration)]
    pub header_timeout: Option<Duration>,
    /// Longest wait for the next bytes of a webhook body, and the length of
    /// the windows --min-body-rate is checked over; slower senders get 408
    /// [default: 20s]
    #[arg(long, env = "HOOKHOLE_RELAY_BODY_TIMEOUT", value_name = "DURATION",
          value_parser = settings::parse_duration)]
    pub body_timeout: Option<Duration>,
    /// Slowest rate a webhook body may arrive at, in bytes per second
    /// (e.g. 1KiB), over each --body-timeout window since the body began;
    /// 0 checks no rate (408 below it) [default: 1KiB]
    #[arg(long, env = "HOOKHOLE_RELAY_MIN_BODY_RATE", value_name = "SIZE",
          value_parser = settings::parse_size)]
    pub min_body_rate: Option<usize>,
    /// Header fields per webhook (431 beyond) [default: 100]
    #[arg(long, env = "HOOKHOLE_RELAY_MAX_HEADERS", value_name = "N",
          value_parser = settings::parse_count::<usize>)]
    pub max_headers: Option<usize>,
    /// Named channels one token may claim [default: 32]
    #[arg(long, env = "HOOKHOLE_RELAY_MAX_CHANNELS_PER_TOKEN", value_name = "N",
          value_parser = settings::parse_count::<usize>)]
    pub max_channels_per_token: Option<usize>,
    /// Open webhook connections (503 beyond); as many again may be waiting
    /// to send their first request head, beyond which a new connection
    /// closes the one waiting longest [default: 16384]
    #[arg(long, env = "HOOKHOLE_RELAY_MAX_CONNECTIONS", value_name = "N",
          value_parser = settings::parse_count::<usize>)]
    pub max_connections: Option<usize>,
    /// Open client links, counted apart from webhooks so that neither can
    /// lock the other out (503 beyond) [default: 4096]
    #[arg(long, env = "HOOKHOLE_RELAY_MAX_CLIENT_CONNECTIONS", value_name = "N",
          value_parser = settings::parse_count::<usize>)]
    pub max_client_connections: Option<usize>,
    /// A proxy in front of the relay (address or range, repeatable) whose
    /// X-Forwarded-*, Forwarded, X-Real-IP and other origin headers are
    /// passed on to local servers; from anyone else they are replaced
    #[arg(long, env = "HOOKHOLE_RELAY_TRUSTED_PROXY", value_name = "ADDR[/BITS]",
          value_delimiter = ',', value_parser = crate::forwarded::parse_proxy)]
    pub trusted_proxy: Vec<ipnet::IpNet>,
    /// Heartbeat interval; a client silent for three is dropped [default: 15s]
    #[arg(long, env = "HOOKHOLE_RELAY_HEARTBEAT", value_name = "DURATION",
          value_parser = settings::parse_duration)]
    pub heartbeat: Option<Duration>,
    #[command(flatten)]
    pub acme: crate::acme::AcmeArgs,
    #[command(flatten)]
    pub cluster: crate::cluster::ClusterArgs,
}

/// The `[relay]` section of `hookhole.toml`: the same names as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RelayFile {
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    response_timeout: Option<String>,
    max_body: Option<SizeValue>,
    data_dir: Option<PathBuf>,
    offline: Option<String>,
    buffer_limit: Option<u64>,
    buffer_bytes: Option<SizeValue>,
    buffer_total_limit: Option<u64>,
    buffer_total_bytes: Option<SizeValue>,
    buffer_age: Option<String>,
    heartbeat: Option<String>,
    tokens_file: Option<PathBuf>,
    allow_anonymous: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_self_signed: Option<bool>,
    #[serde(default)]
    domain: Vec<String>,
    acme_email: Option<String>,
    acme_directory: Option<String>,
    acme_ca_cert: Option<PathBuf>,
    http_port: Option<u16>,
    rate_limit: Option<f64>,
    max_in_flight: Option<usize>,
    max_clients: Option<usize>,
    max_headers: Option<usize>,
    max_channels_per_token: Option<usize>,
    max_connections: Option<usize>,
    max_client_connections: Option<usize>,
    header_timeout: Option<String>,
    body_timeout: Option<String>,
    min_body_rate: Option<SizeValue>,
    trusted_proxy: Option<Vec<String>>,
    // The cluster's keys (serde cannot flatten with unknown keys denied).
    #[serde(default)]
    nats: Vec<String>,
    node: Option<String>,
    nats_outage_limit: Option<String>,
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
        config.public_url = match (&self.public_url, &file.public_url) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(url)) => Some(
                crate::config::parse_public_url(url)
                    .map_err(|e| UsageError(format!("public-url: {e}")))?,
            ),
            (None, None) => None,
        };
        let file_timeout =
            settings::file_duration(file.response_timeout.as_deref(), "response-timeout")?;
        if let Some(timeout) = self.response_timeout.or(file_timeout) {
            config.response_timeout = timeout;
            config.drain_timeout = timeout + Duration::from_secs(2);
        }
        if let Some(max) = self.max_body {
            config.max_body = max;
        } else if let Some(max) = &file.max_body {
            config.max_body = max.resolve_limit("max-body")?;
        }
        config.data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir)
            .or_else(|| dirs::data_dir().map(|d| d.join("hookhole-relay")));
        config.offline = match (self.offline, file.offline.as_deref()) {
            (Some(o), _) => o,
            (None, Some(text)) => {
                <Offline as clap::ValueEnum>::from_str(text, true).map_err(|_| {
                    UsageError(format!("offline: expected queue or reject, got {text:?}"))
                })?
            }
            (None, None) => Offline::Queue,
        };
        let file_limit = settings::file_count(file.buffer_limit, "buffer-limit")?;
        if let Some(n) = self.buffer_limit.or(file_limit) {
            config.buffer_limits.count = n;
        }
        if let Some(b) = self.buffer_bytes {
            config.buffer_limits.bytes = b as u64;
        } else if let Some(b) = &file.buffer_bytes {
            config.buffer_limits.bytes = b.resolve_limit("buffer-bytes")? as u64;
        }
        let file_total = settings::file_count(file.buffer_total_limit, "buffer-total-limit")?;
        if let Some(n) = self.buffer_total_limit.or(file_total) {
            config.buffer_limits.total_count = n;
        }
        if let Some(b) = self.buffer_total_bytes {
            config.buffer_limits.total_bytes = b as u64;
        } else if let Some(b) = &file.buffer_total_bytes {
            config.buffer_limits.total_bytes = b.resolve_limit("buffer-total-bytes")? as u64;
        }
        let file_age = settings::file_duration(file.buffer_age.as_deref(), "buffer-age")?;
        if let Some(age) = self.buffer_age.or(file_age) {
            config.buffer_limits.age = age;
        }
        let file_heartbeat = settings::file_duration(file.heartbeat.as_deref(), "heartbeat")?;
        if let Some(beat) = self.heartbeat.or(file_heartbeat) {
            config.heartbeat_interval = beat;
            config.heartbeat_timeout = beat * 3;
        }
        for token in &self.tokens {
            config
                .tokens
                .add(token)
                .map_err(|e| UsageError(format!("--token: {e}")))?;
        }
        if let Some(path) = self.tokens_file.clone().or(file.tokens_file) {
            config
                .tokens
                .add_file(&path)
                .map_err(|e| UsageError(format!("--tokens-file: {e}")))?;
        }
        config.tls = TlsSource::choose(
            self.tls_cert.clone().or(file.tls_cert),
            self.tls_key.clone().or(file.tls_key),
            self.tls_self_signed || file.tls_self_signed.unwrap_or(false),
            listen,
            config.public_url.as_deref(),
        )?;
        let acme_file = crate::acme::AcmeFile {
            domain: file.domain,
            acme_email: file.acme_email,
            acme_directory: file.acme_directory,
            acme_ca_cert: file.acme_ca_cert,
            http_port: file.http_port,
        };
        if let Some(acme) = self.acme.resolve(acme_file, config.tls.is_some())? {
            if acme.http_port == Some(listen.port()) {
                return Err(UsageError(format!(
                    "--http-port {} is the --listen port: give the plain HTTP port its own (80)",
                    listen.port()
                )));
            }
            config.tls = Some(TlsSource::Acme(acme));
        }
        let rate = self
            .rate_limit
            .or(file.rate_limit)
            .unwrap_or(crate::limits::DEFAULT_RATE);
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(UsageError("--rate-limit must be a positive number".into()));
        }
        config.limits.rate = rate;
        config.limits.burst = (rate * 2.0).max(1.0);
        let count = |flag: Option<usize>, file: Option<usize>, key: &str| {
            Ok::<_, UsageError>(flag.or(settings::file_count(file, key)?))
        };
        let limits = &mut config.limits;
        if let Some(n) = count(self.max_in_flight, file.max_in_flight, "max-in-flight")? {
            limits.in_flight = n;
        }
        if let Some(n) = count(self.max_clients, file.max_clients, "max-clients")? {
            limits.clients = n;
        }
        if let Some(n) = count(self.max_headers, file.max_headers, "max-headers")? {
            limits.headers = n;
        }
        let per_token = file.max_channels_per_token;
        if let Some(n) = count(
            self.max_channels_per_token,
            per_token,
            "max-channels-per-token",
        )? {
            limits.channels_per_token = n;
        }
        if let Some(n) = count(
            self.max_connections,
            file.max_connections,
            "max-connections",
        )? {
            limits.connections = n;
        }
        let clients = file.max_client_connections;
        if let Some(n) = count(
            self.max_client_connections,
            clients,
            "max-client-connections",
        )? {
            limits.client_connections = n;
        }
        let file_header_timeout =
            settings::file_duration(file.header_timeout.as_deref(), "header-timeout")?;
        if let Some(t) = self.header_timeout.or(file_header_timeout) {
            config.limits.header_timeout = t;
        }
        let file_body_timeout =
            settings::file_duration(file.body_timeout.as_deref(), "body-timeout")?;
        if let Some(t) = self.body_timeout.or(file_body_timeout) {
            config.limits.body_pace.timeout = t;
        }
        if let Some(rate) = self.min_body_rate {
            config.limits.body_pace.min_rate = rate as u64;
        } else if let Some(rate) = &file.min_body_rate {
            config.limits.body_pace.min_rate = rate.resolve("min-body-rate")? as u64;
        }
        config.trusted_proxies = if self.trusted_proxy.is_empty() {
            file.trusted_proxy
                .iter()
                .flatten()
                .map(|p| crate::forwarded::parse_proxy(p))
                .collect::<Result<_, _>>()
                .map_err(|e| UsageError(format!("trusted-proxy in the config file: {e}")))?
        } else {
            self.trusted_proxy.clone()
        };
        config.cluster = self.cluster.resolve(crate::cluster::ClusterFile {
            nats: file.nats,
            node: file.node,
            nats_outage_limit: file.nats_outage_limit,
        })?;
        let anonymous = self.allow_anonymous || file.allow_anonymous.unwrap_or(false);
        if config.tokens.is_empty() && !listen.ip().is_loopback() {
            if !anonymous {
                return Err(UsageError(format!(
                    "refusing to listen on {listen} without tokens: anyone could read the webhooks sent to it; pass --token (or --tokens-file), or --allow-anonymous"
                )));
            }
            config.anonymous_random_only = true;
        }
        Ok((listen, config))
    }
}

/// Runs a relay from the command line until Ctrl-C or SIGTERM.
pub async fn run(args: &RelayArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    let (listen, config) = args.resolve(config_file)?;
    // The data dir is checked before the port is taken or anything printed:
    // a relay that cannot start says only why.
    let mut relay = crate::server::Relay::open(config)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    if let Some(port) = relay.http_port() {
        let plain = std::net::SocketAddr::new(listen.ip(), port);
        let listener = TcpListener::bind(plain)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {plain} (--http-port): {e}"))?;
        relay.serve_http_port(listener);
    }
    let local = listener.local_addr()?;
    let base = relay.config().base_url(None, local);
    // One machine-readable line on stdout, so scripts and tests can find the
    // port when listening on port 0.
    // A closed stdout must not stop the relay. The URL comes from
    // `--public-url`: escaped like every other JSON line.
    let line =
        serde_json::json!({"event": "listening", "addr": local.to_string(), "public_url": base});
    let _ = writeln!(
        std::io::stdout(),
        "{}",
        hookhole_shared::printable::to_json(&line)?
    );
    tracing::info!("hookhole relay listening on {local}; send webhooks to {base}/{{channel}}/...");
    let shutdown = CancellationToken::new();
    tokio::spawn(hookhole_host::process::stop_on_signal(shutdown.clone()));
    relay.serve(listener, shutdown).await
}
