//! The connection to NATS: opening it, and knowing at every moment whether
//! it is up and for how long it has been down.

use super::ClusterConfig;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How often the relay pings NATS. Short, so that a server that stopped
/// answering is noticed within seconds (then the relay routes and buffers
/// on its own) rather than after the default two minutes.
const PING_INTERVAL: Duration = Duration::from_secs(2);

/// The state of the link, updated by the NATS client's events.
pub struct Link {
    up: AtomicBool,
    /// Since when the link is down; `None` while up.
    down_since: Mutex<Option<Instant>>,
    /// Woken each time the link comes (back) up.
    pub back: Notify,
}

impl Link {
    pub fn new() -> Link {
        Link {
            up: AtomicBool::new(false),
            down_since: Mutex::new(Some(Instant::now())),
            back: Notify::new(),
        }
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// How long the link has been down; `None` while up.
    pub fn down_for(&self) -> Option<Duration> {
        self.down_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|since| since.elapsed())
    }

    fn set(&self, up: bool) {
        let mut since = self.down_since.lock().unwrap_or_else(|p| p.into_inner());
        let was = self.up.swap(up, Ordering::AcqRel);
        if up {
            *since = None;
            self.back.notify_waiters();
            tracing::info!("NATS link up");
        } else if was || since.is_none() {
            *since = Some(Instant::now());
            tracing::warn!("NATS link down: webhooks for clients elsewhere wait in the outbox");
        }
    }
}

/// Opens the NATS connection. A server that does not answer yet is retried
/// for as long as the relay runs (the link reports it down meanwhile); only
/// a malformed address is an error.
pub async fn connect(
    config: &ClusterConfig,
    link: Arc<Link>,
) -> anyhow::Result<async_nats::Client> {
    let servers = config
        .servers
        .iter()
        .map(|s| s.parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| hookhole_host::settings::UsageError(format!("--nats: {e}")))?;
    let events = link.clone();
    let mut options = async_nats::ConnectOptions::new();
    // The crate takes no credentials from the URL itself: a user and
    // password (or a token alone) given there are passed on here.
    if let Some(addr) = servers.iter().find(|a| a.has_user_pass()) {
        options = match (addr.username(), addr.password()) {
            (Some(user), Some(pass)) => options.user_and_password(user.into(), pass.into()),
            (Some(token), None) => options.token(token.into()),
            _ => options,
        };
    }
    let client = options
        .name(format!("hookhole-relay {}", config.node))
        .ping_interval(PING_INTERVAL)
        .connection_timeout(Duration::from_secs(2))
        .retry_on_initial_connect()
        // A node asks the others; its own clients already have the webhook.
        .no_echo()
        .max_reconnects(None)
        // Replies to other nodes' requests can be large; never drop them
        // silently for a slow reader.
        .subscription_capacity(4096)
        .event_callback(move |event| {
            let link = events.clone();
            async move {
                match event {
                    async_nats::Event::Connected => link.set(true),
                    async_nats::Event::Disconnected | async_nats::Event::Closed => link.set(false),
                    other => tracing::warn!("NATS: {other}"),
                }
            }
        })
        .connect(servers)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to NATS: {e}"))?;
    // The first `Connected` event may come before the callback was set up.
    if client.connection_state() == async_nats::connection::State::Connected {
        link.set(true);
    }
    Ok(client)
}

/// A server address as it may be shown: without the credentials it holds.
pub fn shown(server: &str) -> String {
    match server.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://{host}"),
            None => server.to_string(),
        },
        None => server
            .rsplit_once('@')
            .map_or(server, |(_, host)| host)
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_are_never_shown() {
        assert_eq!(
            super::shown("nats://hh:secret@10.0.0.1:4222"),
            "nats://10.0.0.1:4222"
        );
        assert_eq!(super::shown("nats://token@n1:4222"), "nats://n1:4222");
        assert_eq!(super::shown("u:p@n1:4222"), "n1:4222");
        assert_eq!(super::shown("nats://n1:4222"), "nats://n1:4222");
    }
}
