//! The cluster's flags (`--nats`, `--node`, `--nats-outage-limit`) and what
//! they resolve to.

use hookhole_host::settings::{self, UsageError};
use std::time::Duration;

/// How long a clustered relay may be cut off from NATS before its health
/// check fails (a load balancer then sends webhooks to another node).
pub const DEFAULT_OUTAGE_LIMIT: Duration = Duration::from_secs(30);

/// Longest node name: it becomes part of NATS subjects and log lines.
const MAX_NODE_LEN: usize = 64;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClusterArgs {
    /// Join a cluster of relays through this NATS server (nats://host:port;
    /// repeatable, comma-separated in the environment). Needs JetStream on
    /// the server [default: no cluster]
    #[arg(long = "nats", env = "HOOKHOLE_RELAY_NATS", value_name = "URL",
          value_delimiter = ',', value_parser = parse_server)]
    pub nats: Vec<String>,
    /// This relay's name in the cluster ([A-Za-z0-9_-], up to 64)
    /// [default: relay- and random letters]
    #[arg(long, env = "HOOKHOLE_RELAY_NODE", value_name = "NAME",
          value_parser = parse_node, requires = "nats")]
    pub node: Option<String>,
    /// Time without NATS after which /_hookhole/health fails [default: 30s]
    #[arg(long, env = "HOOKHOLE_RELAY_NATS_OUTAGE_LIMIT", value_name = "DURATION",
          value_parser = settings::parse_duration, requires = "nats")]
    pub nats_outage_limit: Option<Duration>,
}

/// The same settings from the `[relay]` section of `hookhole.toml`.
#[derive(Debug, Default)]
pub struct ClusterFile {
    pub nats: Vec<String>,
    pub node: Option<String>,
    pub nats_outage_limit: Option<String>,
}

/// A clustered relay's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// NATS servers to try, in order.
    pub servers: Vec<String>,
    pub node: String,
    pub outage_limit: Duration,
}

impl ClusterArgs {
    /// `None` without `--nats` (a relay on its own, as always).
    pub fn resolve(&self, file: ClusterFile) -> Result<Option<ClusterConfig>, UsageError> {
        let servers = if self.nats.is_empty() {
            file.nats
                .iter()
                .map(|s| parse_server(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| UsageError(format!("nats in the config file: {e}")))?
        } else {
            self.nats.clone()
        };
        if servers.is_empty() {
            if file.node.is_some() || file.nats_outage_limit.is_some() {
                return Err(UsageError(
                    "node and nats-outage-limit in the config file need nats".into(),
                ));
            }
            return Ok(None);
        }
        let node = match (&self.node, file.node) {
            (Some(node), _) => node.clone(),
            (None, Some(node)) => parse_node(&node)
                .map_err(|e| UsageError(format!("node in the config file: {e}")))?,
            (None, None) => format!("relay-{}", crate::ids::short_name()),
        };
        let file_limit =
            settings::file_duration(file.nats_outage_limit.as_deref(), "nats-outage-limit")?;
        Ok(Some(ClusterConfig {
            servers,
            node,
            outage_limit: self
                .nats_outage_limit
                .or(file_limit)
                .unwrap_or(DEFAULT_OUTAGE_LIMIT),
        }))
    }
}

/// A NATS server address: `nats://`, `tls://` or a bare `host:port`, with
/// no spaces or control characters (it is logged and handed to the client).
pub fn parse_server(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty NATS server address".into());
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("a NATS server address has no spaces or control characters".into());
    }
    let parsed: Result<async_nats::ServerAddr, _> = text.parse();
    match parsed {
        Ok(_) => Ok(text.to_string()),
        Err(e) => Err(format!(
            "not a NATS server address ({e}): use nats://HOST:PORT"
        )),
    }
}

/// A node name: letters, digits, `-` and `_`, up to 64.
pub fn parse_node(text: &str) -> Result<String, String> {
    let fine = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if text.is_empty() || text.len() > MAX_NODE_LEN || !text.chars().all(fine) {
        return Err(format!(
            "a node name is 1 to {MAX_NODE_LEN} letters, digits, - or _"
        ));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_and_node_names_are_checked() {
        assert_eq!(
            parse_server("nats://127.0.0.1:4222").as_deref(),
            Ok("nats://127.0.0.1:4222")
        );
        assert!(parse_server("127.0.0.1:4222").is_ok());
        for bad in ["", "nats://a b", "nats://x\u{1b}]0;t", "http://[::1"] {
            assert!(parse_server(bad).is_err(), "{bad:?}");
        }
        assert!(parse_node("eu-1_a").is_ok());
        for bad in ["", "a.b", "a*", "a>", &"x".repeat(65)] {
            assert!(parse_node(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn no_nats_means_no_cluster() {
        let args = ClusterArgs::default();
        assert_eq!(args.resolve(ClusterFile::default()).unwrap(), None);
        let file = ClusterFile {
            node: Some("a".into()),
            ..ClusterFile::default()
        };
        assert!(args.resolve(file).is_err());
        let args = ClusterArgs {
            nats: vec!["nats://127.0.0.1:1".into()],
            ..ClusterArgs::default()
        };
        let config = args.resolve(ClusterFile::default()).unwrap().unwrap();
        assert!(config.node.starts_with("relay-"));
        assert_eq!(config.outage_limit, DEFAULT_OUTAGE_LIMIT);
    }
}
