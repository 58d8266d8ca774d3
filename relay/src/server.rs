//! The accept loop and graceful shutdown.
//!
//! Shutdown order matters: stop accepting, let webhooks in flight get their
//! answers (bounded by the drain timeout) while client links stay open, then
//! close every client link with "going away".

use crate::config::RelayConfig;
use crate::hub::Hub;
use crate::state::RelayState;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long closing websockets may take once the drain is over.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTPS certificate: from files, self-signed, or from an ACME CA. A
/// self-signed one is kept in the data dir, reused while it holds the
/// names asked for, and its path logged for clients' `--ca-cert`.
fn start_tls(
    source: &crate::tls::TlsSource,
    data_dir: Option<&std::path::Path>,
) -> anyhow::Result<(crate::tls::Tls, Option<Arc<crate::acme::Acme>>)> {
    if let crate::tls::TlsSource::Acme(settings) = source {
        let dir = data_dir.ok_or_else(|| {
            hookhole_host::settings::UsageError(
                "--domain keeps its ACME account and certificate in the data dir: give --data-dir"
                    .into(),
            )
        })?;
        let acme = crate::acme::Acme::open(settings.clone(), dir)
            .map_err(hookhole_host::settings::UsageError)?;
        let tls = crate::tls::Tls::acme(source.clone(), acme.challenges());
        return Ok((tls, Some(Arc::new(acme))));
    }
    start_certificate(source, data_dir).map(|tls| (tls, None))
}

fn start_certificate(
    source: &crate::tls::TlsSource,
    data_dir: Option<&std::path::Path>,
) -> anyhow::Result<crate::tls::Tls> {
    let crate::tls::TlsSource::SelfSigned { names } = source else {
        // The user's own files: one that is missing or not a certificate
        // is a mistake in what they gave us (exit 2, nothing printed).
        return crate::tls::Tls::new(source.clone())
            .map_err(|e| hookhole_host::settings::UsageError(e).into());
    };
    let Some(dir) = data_dir else {
        return crate::tls::Tls::new(source.clone()).map_err(anyhow::Error::msg);
    };
    let saved = crate::tls::saved_self_signed(dir, names);
    let reused = saved.is_some();
    let tls = crate::tls::Tls::new(saved.unwrap_or_else(|| source.clone()))
        .map_err(anyhow::Error::msg)?;
    let path = dir.join(crate::tls::SELF_SIGNED_CERT);
    match tls.save_self_signed(dir) {
        Ok(_) => tracing::info!(
            "{} self-signed certificate {1}; clients trust it with: hookhole listen --ca-cert {1}",
            if reused { "reusing the" } else { "wrote a new" },
            path.display()
        ),
        Err(e) => tracing::warn!(
            "cannot write the self-signed certificate into {}: {e}; clients need --insecure",
            dir.display()
        ),
    }
    Ok(tls)
}

/// Starts ordering and renewing, and the plain HTTP port when bound.
fn start_acme(
    acme: &Arc<crate::acme::Acme>,
    http_port: Option<TcpListener>,
    config: &RelayConfig,
    local_addr: std::net::SocketAddr,
    shutdown: &CancellationToken,
) {
    tracing::info!(
        "HTTPS for {} with certificates from {}",
        acme.settings().domains.join(", "),
        crate::acme::sanitize(&acme.settings().directory)
    );
    tokio::spawn(acme.clone().run(shutdown.clone()));
    if let Some(listener) = http_port {
        // Redirects go to the relay's own name, never to a request's Host.
        let name = acme
            .settings()
            .domains
            .first()
            .map_or("localhost", String::as_str);
        let base = match &config.public_url {
            Some(url) => url.clone(),
            None if local_addr.port() == 443 => format!("https://{name}"),
            None => format!("https://{name}:{}", local_addr.port()),
        };
        tokio::spawn(crate::acme::http01::serve(
            listener,
            acme.challenges(),
            base,
            shutdown.clone(),
        ));
    }
}

/// Reloads the certificate files on SIGHUP, until shutdown.
async fn reload_on_hangup(tls: Arc<crate::tls::Tls>, shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        loop {
            tokio::select! {
                _ = hangups.recv() => match tls.reload() {
                    Ok(()) => tracing::info!("SIGHUP: certificate reloaded"),
                    Err(e) => tracing::warn!("SIGHUP: kept the old certificate: {e}"),
                },
                _ = shutdown.cancelled() => return,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (tls, shutdown);
}

/// Serves the relay on `listener` until `shutdown` is cancelled, then drains.
pub async fn serve(
    listener: TcpListener,
    config: RelayConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    Relay::open(config)?.serve(listener, shutdown).await
}

/// A relay that has passed its start-up checks and holds what it keeps
/// across restarts (channel owners, certificate, buffer), not yet serving.
/// Opening it first lets a command line refuse to start before it says it
/// is listening.
pub struct Relay {
    config: RelayConfig,
    owners: crate::auth::Owners,
    tls: Option<Arc<crate::tls::Tls>>,
    /// Orders and renews the certificate (`--domain`).
    acme: Option<Arc<crate::acme::Acme>>,
    /// The plain HTTP port of `--http-port`, once bound.
    http_port: Option<TcpListener>,
    buffer: Option<crate::buffer_writer::BufferWriter>,
}

impl Relay {
    /// Reads the data dir and the certificate. The owners are read first,
    /// as they only read: a damaged `owners.json` refuses the start (a
    /// [`hookhole_host::settings::UsageError`]) before anything is written.
    pub fn open(config: RelayConfig) -> anyhow::Result<Relay> {
        let owners = crate::auth::Owners::open(config.data_dir.as_deref())?;
        let (tls, acme) = match &config.tls {
            Some(source) => {
                let (tls, acme) = start_tls(source, config.data_dir.as_deref())?;
                (Some(Arc::new(tls)), acme)
            }
            None => (None, None),
        };
        let buffer = match (&config.data_dir, config.offline) {
            (Some(dir), crate::config::Offline::Queue) => {
                let buffer =
                    crate::buffer::Buffer::open(dir, config.buffer_limits).map_err(|e| {
                        // At start, like a bad flag: exit 2, one line, and what
                        // to do. Nothing was written to the file.
                        hookhole_host::settings::UsageError(format!(
                            "{e}; it holds the webhooks waiting for clients, so the relay \
                             will not start without it: restore it from a backup, or move it \
                             away (with its -wal and -shm files) to start with an empty buffer"
                        ))
                    })?;
                Some(
                    crate::buffer_writer::BufferWriter::start(Arc::new(buffer))
                        .map_err(anyhow::Error::msg)?,
                )
            }
            _ => None,
        };
        Ok(Relay {
            config,
            owners,
            tls,
            acme,
            http_port: None,
            buffer,
        })
    }

    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// The plain HTTP port `--http-port` asks for, to bind before serving.
    pub fn http_port(&self) -> Option<u16> {
        self.acme
            .as_ref()
            .and_then(|acme| acme.settings().http_port)
    }

    /// Serves the CA's HTTP-01 challenges and redirects to HTTPS on
    /// `listener` (see [`Relay::http_port`]).
    pub fn serve_http_port(&mut self, listener: TcpListener) {
        self.http_port = Some(listener);
    }

    /// Serves on `listener` until `shutdown` is cancelled, then drains.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let Relay {
            config,
            owners,
            tls,
            acme,
            http_port,
            buffer,
        } = self;
        let local_addr = listener.local_addr()?;
        let drain_timeout = config.drain_timeout;
        if let Some(tls) = &tls {
            if let Some(fingerprint) = &tls.fingerprint {
                tracing::info!("HTTPS on; certificate SHA-256 {fingerprint}");
            }
            tokio::spawn(reload_on_hangup(tls.clone(), shutdown.clone()));
        }
        if let Some(acme) = &acme {
            start_acme(acme, http_port, &config, local_addr, &shutdown);
        }
        let cluster = match &config.cluster {
            Some(settings) => Some(Arc::new(
                crate::cluster::Cluster::connect(settings.clone(), &config).await?,
            )),
            None => None,
        };
        let budgets = crate::budget::Budgets::new(
            config.limits.connections,
            config.limits.client_connections,
        );
        let state = Arc::new(RelayState {
            budgets: budgets.clone(),
            buffer,
            cluster,
            gate: tokio::sync::Mutex::new(()),
            owners,
            limiter: crate::limits::Gate::default(),
            metrics: crate::metrics::Metrics::default(),
            acme,
            config,
            hub: Hub::default(),
            local_addr,
            close_links: CancellationToken::new(),
            sessions: TaskTracker::new(),
        });
        crate::cluster::Cluster::start(&state);
        let graceful = GracefulShutdown::new();
        let headers_backstop = state.config.limits.headers.saturating_mul(2).max(128);
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(state.config.limits.header_timeout)
            // Above the relay's own (JSON) header limit: hyper's bare 431 only
            // for requests far beyond it.
            .max_headers(headers_backstop);

        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: keep serving the
                        // connections we have and try again shortly.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = shutdown.cancelled() => break,
            };
            let _ = stream.set_nodelay(true);
            // Never refused here: at worst it evicts the longest waiting.
            let slot = budgets.admit();
            let context = crate::connection::Context {
                state: state.clone(),
                http: http.clone(),
                tls: tls.as_ref().map(|tls| tls.acceptor()),
                watcher: graceful.watcher(),
            };
            tokio::spawn(crate::connection::serve(context, stream, peer, slot));
        }

        drop(listener);
        tracing::info!("shutting down: draining deliveries in flight");
        if tokio::time::timeout(drain_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("drain timeout reached; closing the remaining connections");
        }
        state.close_links.cancel();
        state.sessions.close();
        if tokio::time::timeout(CLOSE_TIMEOUT, state.sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!("some client links did not close in time");
        }
        if let Some(cluster) = &state.cluster {
            cluster.stop().await;
        }
        tracing::info!("relay stopped");
        Ok(())
    }
}
