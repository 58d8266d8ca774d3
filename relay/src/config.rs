//! Settings of a running relay, independent of how they were given.

use crate::buffer::Limits;
use std::path::PathBuf;
use std::time::Duration;

/// What happens to a webhook for a channel nobody listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Offline {
    /// Keep it (answer `202`) and deliver it when a client connects.
    #[default]
    Queue,
    /// Answer `503`.
    Reject,
}

/// Default body limit: 25 MiB, above the largest payloads the common
/// providers document (GitHub caps at 25 MB).
pub const DEFAULT_MAX_BODY: usize = 25 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Base URL advertised to clients (`https://relay.example`); `None` derives
    /// it from the `Host` header the client or sender used.
    pub public_url: Option<String>,
    /// How long a sender waits for the local server's answer before `504`.
    pub response_timeout: Duration,
    /// Largest request body accepted (`413` above).
    pub max_body: usize,
    /// How often heartbeats go to each client.
    pub heartbeat_interval: Duration,
    /// Silence after which a client is considered dead.
    pub heartbeat_timeout: Duration,
    /// How long the first websocket message (`hello`) may take.
    pub handshake_timeout: Duration,
    /// How long shutdown waits for in-flight deliveries before closing links.
    pub drain_timeout: Duration,
    /// Where deliveries for absent clients are kept; `None` keeps nothing
    /// (the embedded relay: it lives only while its client does).
    pub data_dir: Option<PathBuf>,
    pub offline: Offline,
    pub buffer_limits: Limits,
    /// Client tokens; empty means anonymous clients are accepted.
    pub tokens: crate::auth::Tokens,
    /// Anonymous clients get relay-assigned random channel names only (a
    /// public relay with `--allow-anonymous`): nobody can pick a name
    /// another developer uses.
    pub anonymous_random_only: bool,
    /// HTTPS on ingress and for client websockets, when set.
    pub tls: Option<crate::tls::TlsSource>,
    /// Per-channel rate, in-flight and client limits.
    pub limits: crate::limits::Limits,
    /// Proxies whose `X-Forwarded-*` headers are passed on instead of
    /// replaced (`--trusted-proxy`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The cluster to join (`--nats`); `None` for a relay on its own.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        let response_timeout = Duration::from_secs(10);
        RelayConfig {
            public_url: None,
            response_timeout,
            max_body: DEFAULT_MAX_BODY,
            heartbeat_interval: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(45),
            handshake_timeout: Duration::from_secs(10),
            // Deliveries in flight at shutdown end within the response timeout;
            // a little more lets their answers reach the senders.
            drain_timeout: response_timeout + Duration::from_secs(2),
            data_dir: None,
            offline: Offline::Queue,
            buffer_limits: Limits::default(),
            tokens: crate::auth::Tokens::default(),
            anonymous_random_only: false,
            tls: None,
            limits: crate::limits::Limits::default(),
            trusted_proxies: Vec::new(),
            cluster: None,
        }
    }
}

impl RelayConfig {
    /// The public base URL (no trailing slash) for a request that arrived with
    /// `host` as its `Host` header.
    pub fn base_url(&self, host: Option<&str>, local_addr: std::net::SocketAddr) -> String {
        self.base_url_as(self.scheme(), host, local_addr)
    }

    /// The same for a request that a proxy received with `scheme`.
    pub fn base_url_as(
        &self,
        scheme: &str,
        host: Option<&str>,
        local_addr: std::net::SocketAddr,
    ) -> String {
        match (&self.public_url, host) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(host)) => format!("{scheme}://{host}"),
            // With --domain the relay's name is known: clients verify it.
            (None, None) => match &self.tls {
                Some(crate::tls::TlsSource::Acme(acme)) if !acme.domains.is_empty() => {
                    match local_addr.port() {
                        443 => format!("https://{}", acme.domains[0]),
                        port => format!("https://{}:{port}", acme.domains[0]),
                    }
                }
                _ => format!("{scheme}://{local_addr}"),
            },
        }
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// Checks `--public-url`: an `http://` or `https://` URL with a host, no
/// credentials, and a port (if any) from 1 to 65535; a bad one would be
/// handed to every client as its channel URL.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        return Err("must start with http:// or https://".into());
    }
    let uri: http::Uri = text.parse().map_err(|e| format!("not a URL ({e})"))?;
    let authority = uri.authority().ok_or("no host in the URL")?;
    if authority.host().is_empty() {
        return Err("no host in the URL".into());
    }
    if authority.as_str().contains('@') {
        return Err("no credentials allowed in the URL".into());
    }
    // `Authority::port` skips a port it cannot read; look at the text.
    let after_host = authority
        .as_str()
        .rsplit_once(']')
        .map_or(authority.as_str(), |(_, rest)| rest);
    if let Some((_, port)) = after_host.rsplit_once(':')
        && !matches!(port.parse::<u16>(), Ok(1..))
    {
        return Err("invalid port in the URL: give 1 to 65535".into());
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_need_a_scheme_a_host_and_a_real_port() {
        for good in [
            "https://hooks.example.com",
            "http://relay:8080/",
            "http://[::1]:8080",
            "https://hooks.example.com/base",
        ] {
            assert_eq!(parse_public_url(good).as_deref(), Ok(good));
        }
        for (bad, why) in [
            ("http://x:99999", "invalid port"),
            ("http://x:0", "invalid port"),
            ("http://x:", "invalid port"),
            ("http://[::1]:70000", "invalid port"),
            ("ftp://x", "must start with"),
            ("http://", "not a URL"),
            ("http://u:p@x", "credentials"),
        ] {
            let error = parse_public_url(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
