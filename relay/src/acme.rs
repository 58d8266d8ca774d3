//! Automatic HTTPS certificates through ACME (RFC 8555): `--domain`.
//!
//! At start the relay serves the certificate saved in the data dir when it
//! still holds every `--domain` (see `store`); otherwise it has none yet,
//! answers only the CA's challenges, and refuses every other TLS handshake
//! until the first certificate is in (a placeholder would teach clients to
//! click through warnings). A background task orders the first
//! certificate, then renews at two thirds of each certificate's lifetime
//! (about 30 days before the end of a 90-day Let's Encrypt one), swapping
//! it in the resolver: handshakes from then on get the new one,
//! connections and websockets already open keep theirs.
//!
//! A failed order is logged with what to check (`failure`) and retried
//! with backoff, while the last good certificate stays in service.
//!
//! - `settings`: the flags (`--domain`, `--acme-*`, `--http-port`) and
//!   their checks; `domain`: which names `--domain` accepts.
//! - `challenge`: the certificate resolver, TLS-ALPN-01 and HTTP-01 answers.
//! - `http01`: the plain HTTP port (`--http-port`): challenges, else 308 to https.
//! - `order`: one order through instant-acme.
//! - `store`: the account and certificate files; `validity`: a
//!   certificate's serial and dates.
//! - `failure`: what went wrong, what to check, when to retry.

mod challenge;
mod domain;
mod failure;
pub mod http01;
mod order;
mod settings;
mod store;
mod validity;

pub use challenge::{ACME_TLS_ALPN, Challenges};
pub use domain::parse_domain;
pub use failure::sanitize;
pub use settings::{AcmeArgs, AcmeFile, AcmeSettings, LETS_ENCRYPT, LETS_ENCRYPT_STAGING};
pub use store::{ACCOUNT, CERT, KEY};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// The longest single sleep of the renewal task: it looks at the clock
/// again at least this often, so a machine that slept (or a clock that
/// jumped) renews on time.
const LONGEST_SLEEP: Duration = Duration::from_secs(3600);

/// The certificates in `--acme-ca-cert` (PEM).
fn read_ca_cert(path: &Path) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject as _;
    let pem =
        hookhole_host::bounded_read::read_file(path, hookhole_host::bounded_read::TEXT_FILE_MAX)
            .map_err(|e| format!("--acme-ca-cert {}: {e}", path.display()))?;
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--acme-ca-cert {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "--acme-ca-cert {}: no certificate in the file",
            path.display()
        ));
    }
    Ok(certs)
}

/// What the health report says about the certificate.
#[derive(Debug, Clone, Default)]
struct Status {
    serving: Option<validity::Validity>,
    renew_at: Option<SystemTime>,
    failures: u32,
    last_error: Option<String>,
    next_try: Option<SystemTime>,
}

/// The certificates of one relay: what it serves, and the task that keeps
/// it current.
pub struct Acme {
    settings: AcmeSettings,
    store: store::Store,
    challenges: Arc<Challenges>,
    status: Mutex<Status>,
}

impl Acme {
    /// Loads the saved certificate, if one still serves. `--acme-ca-cert`
    /// is read now: a bad file is the user's mistake, reported at start.
    pub fn open(settings: AcmeSettings, data_dir: &Path) -> Result<Acme, String> {
        if let Some(path) = &settings.ca_cert {
            read_ca_cert(path)?;
        }
        let store = store::Store::new(data_dir, &settings.directory);
        let acme = Acme {
            store,
            challenges: Arc::new(Challenges::default()),
            status: Mutex::new(Status::default()),
            settings,
        };
        match acme
            .store
            .certificate(&acme.settings.domains, SystemTime::now())
        {
            Some(saved) => {
                tracing::info!(
                    "reusing the saved certificate for {} (serial {}, valid until {}) from {}",
                    acme.settings.domains.join(", "),
                    saved.validity.serial,
                    humantime::format_rfc3339_seconds(saved.validity.not_after),
                    acme.store.dir().display()
                );
                acme.serve(saved);
            }
            None => tracing::info!(
                "no saved certificate for {}: ordering one; until it is in, only the CA's challenges are answered over TLS",
                acme.settings.domains.join(", ")
            ),
        }
        Ok(acme)
    }

    pub fn settings(&self) -> &AcmeSettings {
        &self.settings
    }

    /// The certificate resolver to build the TLS acceptor on.
    pub fn challenges(&self) -> Arc<Challenges> {
        self.challenges.clone()
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn serve(&self, issued: store::Issued) {
        self.challenges.install(issued.certified);
        let mut status = self.status();
        status.renew_at = Some(renew_at(&issued.validity));
        status.serving = Some(issued.validity);
        status.failures = 0;
        status.last_error = None;
        status.next_try = None;
    }

    /// The `tls` part of the health report.
    pub fn report(&self) -> serde_json::Value {
        let status = self.status();
        let time =
            |t: Option<SystemTime>| t.map(|t| humantime::format_rfc3339_seconds(t).to_string());
        serde_json::json!({
            "source": "acme",
            "domains": self.settings.domains,
            "serial": status.serving.as_ref().map(|v| v.serial.clone()),
            "not_after": time(status.serving.as_ref().map(|v| v.not_after)),
            "renew_at": time(status.renew_at),
            "failures": status.failures,
            "last_error": status.last_error,
            "next_try": time(status.next_try),
        })
    }

    /// Orders and renews until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut account = None;
        loop {
            let due = {
                let status = self.status();
                status.next_try.or(status.renew_at)
            };
            let wait = due
                .and_then(|at| at.duration_since(SystemTime::now()).ok())
                .unwrap_or_default();
            if !wait.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(wait.min(LONGEST_SLEEP)) => continue,
                    () = shutdown.cancelled() => return,
                }
            }
            let attempt = async {
                if account.is_none() {
                    account = Some(order::account(&self.settings, &self.store).await?);
                }
                let account = account.as_ref().expect("set just above");
                let chain = order::obtain(account, &self.settings, &self.challenges).await?;
                self.keep(chain)
            };
            let outcome = tokio::select! {
                outcome = attempt => outcome,
                () = shutdown.cancelled() => return,
            };
            if let Err(failure) = outcome {
                self.failed(&failure);
            }
        }
    }

    /// Checks, saves and serves a certificate the CA issued.
    fn keep(&self, chain: order::Chain) -> Result<(), failure::Failure> {
        let other = |e: String| failure::Failure::new(failure::Kind::Other, &e);
        let issued = store::issued(
            chain.chain_pem.as_bytes(),
            chain.key_pem.as_bytes(),
            &self.settings.domains,
        )
        .map_err(|e| other(format!("the CA's certificate is unusable: {e}")))?;
        if let Err(e) = self
            .store
            .save_certificate(&chain.chain_pem, &chain.key_pem)
        {
            // Served all the same; the next start orders again.
            tracing::warn!("{e}");
        }
        let renewal = self.status().serving.is_some();
        tracing::info!(
            "{} certificate for {}: serial {}, valid until {}, renewal from {}",
            if renewal { "renewed the" } else { "obtained a" },
            self.settings.domains.join(", "),
            issued.validity.serial,
            humantime::format_rfc3339_seconds(issued.validity.not_after),
            humantime::format_rfc3339_seconds(renew_at(&issued.validity)),
        );
        self.serve(issued);
        Ok(())
    }

    fn failed(&self, failure: &failure::Failure) {
        let mut status = self.status();
        status.failures = status.failures.saturating_add(1);
        let delay = failure.retry_in(status.failures);
        status.next_try = Some(SystemTime::now() + delay);
        status.last_error = Some(failure.detail.clone());
        let keeping = match &status.serving {
            Some(v) => format!(
                "still serving the certificate valid until {}",
                humantime::format_rfc3339_seconds(v.not_after)
            ),
            None => "no certificate yet: only the CA's challenges are answered".into(),
        };
        tracing::warn!(
            "ACME order for {} failed: {}; {keeping}; next try in {}",
            self.settings.domains.join(", "),
            failure.explain(
                &self.settings.domains,
                self.settings.http_port,
                &self.settings.directory
            ),
            humantime::format_duration(delay),
        );
    }
}

/// When to renew: two thirds into the certificate's lifetime.
fn renew_at(validity: &validity::Validity) -> SystemTime {
    let lifetime = validity
        .not_after
        .duration_since(validity.not_before)
        .unwrap_or_default();
    validity.not_before + lifetime * 2 / 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_two_thirds_into_the_lifetime() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let validity = validity::Validity {
            serial: "01".into(),
            not_before: start,
            not_after: start + Duration::from_secs(90 * 86_400),
        };
        assert_eq!(
            renew_at(&validity),
            start + Duration::from_secs(60 * 86_400)
        );
    }
}
