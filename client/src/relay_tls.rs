//! Trust for `https://` relays: the web's usual roots (bundled, so no
//! system store is read), plus `--ca-cert` for a private or self-signed
//! relay, or nothing at all with `--insecure`.

use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// The client TLS settings for the relay link.
pub fn client_config(ca_cert: Option<&Path>, insecure: bool) -> Result<Arc<ClientConfig>, String> {
    if insecure {
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        let config = ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(algorithms)))
            .with_no_client_auth();
        return Ok(Arc::new(config));
    }
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_cert {
        let pem = hookhole_host::bounded_read::read_file(
            path,
            hookhole_host::bounded_read::TEXT_FILE_MAX,
        )
        .map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "--ca-cert {}: no certificate in the file",
                path.display()
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
        }
    }
    Ok(Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// `--insecure`: any certificate is accepted (self-signed relays on a
/// network you trust). Signatures are still checked, so the link is
/// encrypted; only the relay's identity is not. Holds the provider's
/// algorithms, looked up once rather than at every handshake.
#[derive(Debug)]
struct AcceptAnything(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// What to tell the user when the relay's certificate failed verification:
/// why, and how to fix it. `None` for any other connection error. These are
/// not retried: the same certificate fails the same way until the user
/// changes a flag.
pub fn untrusted(error: &tokio_tungstenite::tungstenite::Error) -> Option<String> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let WsError::Io(io) = error else {
        return None;
    };
    let refusal = Refusal::of(io)?;
    Some(match refusal.reason {
        Reason::UnknownIssuer | Reason::BadSignature => {
            format!("the relay's certificate is not trusted: {}", refusal.fix)
        }
        Reason::NameMismatch => format!(
            "the relay's certificate is not valid for the host in --relay: {}",
            refusal.fix
        ),
        ref reason => format!(
            "the relay's certificate was refused ({reason}): {}",
            refusal.fix
        ),
    })
}

/// Why a relay's certificate was refused, in a few words, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub fix: String,
}

/// The refusals a user can act on, named as a person would say them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    UnknownIssuer,
    BadSignature,
    NameMismatch,
    Expired,
    NotValidYet,
    /// Any other, as rustls names it.
    Other(String),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::UnknownIssuer => "unknown issuer",
            Reason::BadSignature => "bad signature",
            Reason::NameMismatch => "name mismatch",
            Reason::Expired => "expired",
            Reason::NotValidYet => "not valid yet",
            Reason::Other(other) => other,
        })
    }
}

impl Refusal {
    /// The refusal inside a failed handshake's error, if that is what it was.
    pub fn of(io: &std::io::Error) -> Option<Refusal> {
        match io.get_ref()?.downcast_ref::<rustls::Error>()? {
            rustls::Error::InvalidCertificate(cert) => Some(Refusal::from(cert)),
            _ => None,
        }
    }

    fn from(cert: &rustls::CertificateError) -> Refusal {
        use rustls::CertificateError as Cert;
        const TRUST: &str = "pass --ca-cert PATH with the relay's certificate (a relay started \
            with --tls-self-signed writes it to self-signed-cert.pem in its data dir and logs the \
            path), or --insecure to skip verification";
        let (reason, fix) = match cert {
            Cert::UnknownIssuer => (Reason::UnknownIssuer, TRUST.to_string()),
            Cert::BadSignature => (Reason::BadSignature, TRUST.to_string()),
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => (
                Reason::NameMismatch,
                format!(
                    "use a name the certificate holds (a --tls-self-signed relay's: localhost, \
                     127.0.0.1 and its listen address), or {TRUST}"
                ),
            ),
            Cert::Expired | Cert::ExpiredContext { .. } => (
                Reason::Expired,
                "the relay's operator must renew its certificate (or this machine's clock is \
                 wrong); --insecure skips verification meanwhile"
                    .to_string(),
            ),
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => (
                Reason::NotValidYet,
                "check this machine's clock and the relay's; --insecure skips verification \
                 meanwhile"
                    .to_string(),
            ),
            other => (Reason::Other(format!("{other:?}")), TRUST.to_string()),
        };
        Refusal { reason, fix }
    }
}
