//! HTTPS: certificates from PEM files (reloaded on SIGHUP without dropping
//! connections) or a self-signed one made at startup (`--tls-self-signed`,
//! for local HTTPS, with its fingerprint printed to pin). A self-signed
//! certificate is written into the data dir (owner-only, like its key), so
//! clients can trust it with `hookhole listen --ca-cert PATH`, and reused by
//! the next start while it holds the names asked for: a restart must not
//! leave every client that trusts it unable to reconnect. With `--domain`
//! the certificate comes from an ACME CA (`crate::acme`), through a
//! resolver that also answers the CA's TLS-ALPN-01 challenges.

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// A certificate made at startup for these names (hosts or IPs).
    SelfSigned {
        names: Vec<String>,
    },
    /// Certificates ordered and renewed from an ACME CA (`--domain`).
    Acme(crate::acme::AcmeSettings),
}

impl TlsSource {
    /// The source the flags ask for: certificate files, a self-signed
    /// certificate for the names a client may call (the listen address,
    /// the public URL's host), or none.
    pub fn choose(
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        self_signed: bool,
        listen: std::net::SocketAddr,
        public_url: Option<&str>,
    ) -> Result<Option<TlsSource>, hookhole_host::settings::UsageError> {
        match (cert, key, self_signed) {
            (Some(cert), Some(key), false) => Ok(Some(TlsSource::Files { cert, key })),
            (None, None, true) => {
                let mut names = vec![
                    "localhost".to_string(),
                    "127.0.0.1".to_string(),
                    listen.ip().to_string(),
                ];
                if let Some(host) = public_url
                    .and_then(|u| u.split("://").nth(1))
                    .and_then(|r| r.split([':', '/']).next())
                {
                    names.push(host.to_string());
                }
                names.dedup();
                Ok(Some(TlsSource::SelfSigned { names }))
            }
            (None, None, false) => Ok(None),
            _ => Err(hookhole_host::settings::UsageError(
                "TLS needs both --tls-cert and --tls-key, or --tls-self-signed alone".into(),
            )),
        }
    }
}

/// The acceptor in use; swapped whole on reload, so a handshake in progress
/// keeps the configuration it started with.
pub struct Tls {
    source: TlsSource,
    acceptor: RwLock<TlsAcceptor>,
    /// SHA-256 of the certificate (hex, colon-separated), for pinning;
    /// `None` for ACME, whose certificate changes at each renewal.
    pub fingerprint: Option<String>,
    /// A certificate made at startup, as PEM: certificate and key.
    made: Option<(String, String)>,
}

/// File names of a self-signed certificate and its key in the data dir.
pub const SELF_SIGNED_CERT: &str = "self-signed-cert.pem";
pub const SELF_SIGNED_KEY: &str = "self-signed-key.pem";

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, String> {
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not fit together: {e}"))?;
    config.alpn_protocols = alpn();
    Ok(config)
}

/// HTTP/2 and HTTP/1.1 on ingress; websockets use HTTP/1.1.
fn alpn() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A loaded certificate: the server configuration, its fingerprint, and
/// for one made at startup its PEM certificate and key.
type Loaded = (ServerConfig, String, Option<(String, String)>);

fn load(source: &TlsSource) -> Result<Loaded, String> {
    match source {
        TlsSource::Files { cert, key } => {
            let pem = |path: &std::path::Path, flag: &str| {
                hookhole_host::bounded_read::read_file(
                    path,
                    hookhole_host::bounded_read::TEXT_FILE_MAX,
                )
                .map_err(|e| format!("{flag} {}: {e}", path.display()))
            };
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(&pem(cert, "--tls-cert")?)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
            let first = chain.first().ok_or_else(|| {
                format!("--tls-cert {}: no certificate in the file", cert.display())
            })?;
            let print = fingerprint(first);
            let key = PrivateKeyDer::from_pem_slice(&pem(key, "--tls-key")?)
                .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
            Ok((server_config(chain, key)?, print, None))
        }
        TlsSource::SelfSigned { names } => {
            let made = rcgen::generate_simple_self_signed(names.clone())
                .map_err(|e| format!("cannot make a self-signed certificate: {e}"))?;
            let cert = made.cert.der().clone();
            let print = fingerprint(&cert);
            let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
                .map_err(|e| format!("self-signed key: {e}"))?;
            let pem = (made.cert.pem(), made.signing_key.serialize_pem());
            Ok((server_config(vec![cert], key)?, print, Some(pem)))
        }
        TlsSource::Acme(_) => Err("an ACME certificate is ordered, not loaded".into()),
    }
}

/// The self-signed certificate an earlier start saved in `dir`, as files
/// to serve, if both files load and the certificate holds every one of
/// `names`.
pub fn saved_self_signed(dir: &Path, names: &[String]) -> Option<TlsSource> {
    let (cert, key) = (dir.join(SELF_SIGNED_CERT), dir.join(SELF_SIGNED_KEY));
    let der = CertificateDer::from_pem_file(&cert).ok()?;
    PrivateKeyDer::from_pem_file(&key).ok()?;
    let parsed = webpki::EndEntityCert::try_from(&der).ok()?;
    let holds = |name: &String| {
        rustls_pki_types::ServerName::try_from(name.as_str())
            .is_ok_and(|name| parsed.verify_is_valid_for_subject_name(&name).is_ok())
    };
    names
        .iter()
        .all(holds)
        .then_some(TlsSource::Files { cert, key })
}

impl Tls {
    pub fn new(source: TlsSource) -> Result<Tls, String> {
        let (config, fingerprint, made) = load(&source)?;
        Ok(Tls {
            source,
            acceptor: RwLock::new(TlsAcceptor::from(Arc::new(config))),
            fingerprint: Some(fingerprint),
            made,
        })
    }

    /// HTTPS with certificates from an ACME CA: `challenges` picks the
    /// certificate at each handshake (the CA's challenge under
    /// `acme-tls/1`, the issued one otherwise), so a renewal needs no new
    /// acceptor.
    pub fn acme(source: TlsSource, challenges: Arc<crate::acme::Challenges>) -> Tls {
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(challenges);
        config.alpn_protocols = alpn();
        // Last: offered only by a CA validating, which offers nothing else.
        config
            .alpn_protocols
            .push(crate::acme::ACME_TLS_ALPN.to_vec());
        Tls {
            source,
            acceptor: RwLock::new(TlsAcceptor::from(Arc::new(config))),
            fingerprint: None,
            made: None,
        }
    }

    /// Writes a certificate made at startup, and its key, into `dir`
    /// (owner-only); returns the certificate's path. `None` for
    /// certificates from files.
    pub fn save_self_signed(&self, dir: &Path) -> std::io::Result<Option<PathBuf>> {
        let Some((cert, key)) = &self.made else {
            return Ok(None);
        };
        hookhole_host::private_files::create_dir(dir)?;
        let cert_path = dir.join(SELF_SIGNED_CERT);
        hookhole_host::private_files::write(&dir.join(SELF_SIGNED_KEY), key.as_bytes())?;
        hookhole_host::private_files::write(&cert_path, cert.as_bytes())?;
        Ok(Some(cert_path))
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the certificate files again (SIGHUP); new connections use
    /// them, open ones keep theirs. A bad file keeps the old certificate.
    pub fn reload(&self) -> Result<(), String> {
        if !matches!(self.source, TlsSource::Files { .. }) {
            return Ok(());
        }
        let (config, _, _) = load(&self.source)?;
        *self.acceptor.write().unwrap_or_else(|p| p.into_inner()) =
            TlsAcceptor::from(Arc::new(config));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_self_signed_and_clear_errors() {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        let tls = Tls::new(TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        })
        .unwrap();
        assert_eq!(tls.fingerprint.as_ref().unwrap().len(), 32 * 3 - 1);
        tls.reload().unwrap();
        std::fs::write(&cert, "not a certificate").unwrap();
        assert!(
            tls.reload().is_err(),
            "a bad file is refused, the old certificate stays"
        );
        let err = Tls::new(TlsSource::Files {
            cert,
            key: dir.path().join("missing.pem"),
        })
        .err()
        .unwrap();
        assert!(err.contains("--tls"), "{err}");
        assert!(
            Tls::new(TlsSource::SelfSigned {
                names: vec!["localhost".into(), "127.0.0.1".into()]
            })
            .is_ok()
        );
    }

    #[test]
    fn a_self_signed_certificate_is_saved_owner_only_and_loads_as_a_ca() {
        use std::os::unix::fs::PermissionsExt as _;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        let tls = Tls::new(TlsSource::SelfSigned {
            names: vec!["localhost".into()],
        })
        .unwrap();
        let cert = tls.save_self_signed(&dir).unwrap().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&cert), 0o600);
        assert_eq!(mode(&dir.join(SELF_SIGNED_KEY)), 0o600);
        let der = CertificateDer::from_pem_file(&cert).unwrap();
        assert_eq!(Some(fingerprint(&der)), tls.fingerprint);
        PrivateKeyDer::from_pem_file(dir.join(SELF_SIGNED_KEY)).unwrap();

        // The next start serves the same certificate, while it holds the names.
        let names = ["localhost".to_string()];
        let saved = saved_self_signed(&dir, &names).expect("reusable");
        assert_eq!(Tls::new(saved).unwrap().fingerprint, tls.fingerprint);
        let more = ["localhost".to_string(), "relay.example".to_string()];
        assert!(saved_self_signed(&dir, &more).is_none(), "a new name");
        std::fs::write(dir.join(SELF_SIGNED_KEY), "garbage").unwrap();
        assert!(saved_self_signed(&dir, &names).is_none(), "a broken key");
    }
}
