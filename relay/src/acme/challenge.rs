//! Answering the CA's challenges, and the certificate every other
//! handshake gets.
//!
//! TLS-ALPN-01 (RFC 8737): the CA connects to the relay's own port
//! offering only the `acme-tls/1` protocol, and must be shown a
//! self-signed certificate for the name it validates that carries the
//! SHA-256 of the key authorization in the acmeIdentifier extension. So
//! one certificate resolver serves both: the challenge certificate for
//! `acme-tls/1`, the issued certificate for everything else. Renewal swaps
//! the issued certificate here; connections already open keep theirs.
//!
//! HTTP-01: `GET /.well-known/acme-challenge/TOKEN` on port 80 answers
//! the key authorization as text (see `http01`).

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The ALPN protocol of TLS-ALPN-01.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The challenges in progress and the issued certificate.
#[derive(Debug, Default)]
pub struct Challenges {
    /// The issued certificate; `None` until the first is in, when ordinary
    /// handshakes are refused (there is nothing honest to show them).
    current: RwLock<Option<Arc<CertifiedKey>>>,
    /// TLS-ALPN-01 certificates by the name validated.
    alpn: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// HTTP-01 key authorizations by token.
    http: RwLock<HashMap<String, String>>,
}

impl Challenges {
    /// Serves `certified` to every handshake from now on.
    pub fn install(&self, certified: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(certified);
    }

    /// Whether a certificate is being served.
    pub fn has_certificate(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Answers TLS-ALPN-01 for `domain` with a certificate proving
    /// `digest`, the SHA-256 of the key authorization.
    pub fn add_alpn(&self, domain: &str, digest: &[u8]) -> Result<(), String> {
        let mut params = rcgen::CertificateParams::new(vec![domain.to_string()])
            .map_err(|e| format!("challenge certificate for {domain}: {e}"))?;
        params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
        let key = rcgen::KeyPair::generate().map_err(|e| format!("challenge key: {e}"))?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| format!("challenge certificate for {domain}: {e}"))?;
        let key_der = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der())
            .map_err(|e| format!("challenge key: {e}"))?;
        let signing = rustls::crypto::ring::sign::any_supported_type(&key_der)
            .map_err(|e| format!("challenge key: {e}"))?;
        let certified = CertifiedKey::new(vec![cert.der().clone()], signing);
        self.alpn
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(domain.to_string(), Arc::new(certified));
        Ok(())
    }

    /// Answers HTTP-01 `token` with `key_authorization`.
    pub fn add_http(&self, token: &str, key_authorization: &str) {
        self.http
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.to_string(), key_authorization.to_string());
    }

    /// The key authorization for an HTTP-01 `token`, while its order runs.
    pub fn http_answer(&self, token: &str) -> Option<String> {
        self.http
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    /// Forgets every challenge once its order is over (won or lost).
    pub fn clear(&self) {
        self.alpn.write().unwrap_or_else(|p| p.into_inner()).clear();
        self.http.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl ResolvesServerCert for Challenges {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validating = hello
            .alpn()
            .is_some_and(|mut offered| offered.any(|p| p == ACME_TLS_ALPN));
        if validating {
            // Only for a name with a challenge in progress; never the
            // issued certificate under the challenge protocol.
            let name = hello.server_name()?.to_ascii_lowercase();
            return self
                .alpn
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(&name)
                .cloned();
        }
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
