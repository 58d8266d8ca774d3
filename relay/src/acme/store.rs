//! What ACME leaves in the data dir: the account and the certificate,
//! owner-only (0600 files in 0700 directories), one folder per CA
//! directory URL so that a staging certificate is never served once the
//! production directory is configured:
//!
//! ```text
//! DATA_DIR/acme/<first 16 hex of SHA-256(directory URL)>/
//!     account.json   the account's id and private key (instant-acme's credentials)
//!     key.pem        the certificate's private key
//!     cert.pem       the chain the CA issued, leaf first
//! ```
//!
//! A saved certificate is served again at start while it holds every
//! `--domain` and has not expired, so a restart never orders a new one
//! (Let's Encrypt limits how many a name gets per week).

use super::validity::{self, Validity};
use hookhole_host::{bounded_read, private_files};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

pub const ACCOUNT: &str = "account.json";
pub const KEY: &str = "key.pem";
pub const CERT: &str = "cert.pem";

/// A certificate ready to serve, and what it says about itself.
#[derive(Debug, Clone)]
pub struct Issued {
    pub certified: Arc<CertifiedKey>,
    pub validity: Validity,
}

/// The folder of one CA directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(data_dir: &Path, directory_url: &str) -> Store {
        let digest = hex::encode(Sha256::digest(directory_url.as_bytes()));
        Store {
            dir: data_dir.join("acme").join(&digest[..16]),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        let file = private_files::open_read(&self.dir.join(name))?;
        bounded_read::read_limited(file, bounded_read::TEXT_FILE_MAX)
    }

    /// The saved account; `None` when there is none yet. A damaged file is
    /// an error: the caller says so and registers a new account.
    pub fn account(&self) -> Result<Option<instant_acme::AccountCredentials>, String> {
        match self.read(ACCOUNT) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", self.dir.join(ACCOUNT).display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", self.dir.join(ACCOUNT).display())),
        }
    }

    pub fn save_account(
        &self,
        credentials: &instant_acme::AccountCredentials,
    ) -> Result<(), String> {
        let json = serde_json::to_vec(credentials).map_err(|e| format!("account: {e}"))?;
        private_files::create_dir(&self.dir)
            .and_then(|()| private_files::write(&self.dir.join(ACCOUNT), &json))
            .map_err(|e| {
                format!(
                    "cannot save the ACME account in {}: {e}",
                    self.dir.display()
                )
            })
    }

    /// The saved certificate, if it loads, holds every one of `domains`
    /// and is valid at `now`.
    pub fn certificate(&self, domains: &[String], now: SystemTime) -> Option<Issued> {
        let chain = self.read(CERT).ok()?;
        let key = self.read(KEY).ok()?;
        let issued = issued(&chain, &key, domains).ok()?;
        (now < issued.validity.not_after).then_some(issued)
    }

    /// Saves a certificate and its key (the key first: a crash between the
    /// two leaves a pair that does not match, which the next start refuses
    /// and orders again, rather than a new key beside an old chain that
    /// seems fine).
    pub fn save_certificate(&self, chain_pem: &str, key_pem: &str) -> Result<(), String> {
        private_files::create_dir(&self.dir)
            .and_then(|()| private_files::write(&self.dir.join(KEY), key_pem.as_bytes()))
            .and_then(|()| private_files::write(&self.dir.join(CERT), chain_pem.as_bytes()))
            .map_err(|e| format!("cannot save the certificate in {}: {e}", self.dir.display()))
    }
}

/// Checks a chain and key (PEM) for serving `domains`: the key fits the
/// leaf, the leaf names every domain, and its validity can be read.
pub fn issued(chain_pem: &[u8], key_pem: &[u8], domains: &[String]) -> Result<Issued, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate chain: {e}"))?;
    let leaf = chain.first().ok_or("no certificate in the chain")?;
    let validity = validity::read(leaf)?;
    let parsed = webpki::EndEntityCert::try_from(leaf).map_err(|e| format!("certificate: {e}"))?;
    for domain in domains {
        let name = rustls_pki_types::ServerName::try_from(domain.as_str())
            .map_err(|e| format!("{domain}: {e}"))?;
        parsed
            .verify_is_valid_for_subject_name(&name)
            .map_err(|_| format!("the certificate does not name {domain}"))?;
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("key: {e}"))?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider)
        .map_err(|e| format!("the key does not fit the certificate: {e}"))?;
    Ok(Issued {
        certified: Arc::new(certified),
        validity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn made(names: &[&str]) -> (String, String) {
        let made = rcgen::generate_simple_self_signed(
            names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        (made.cert.pem(), made.signing_key.serialize_pem())
    }

    #[test]
    fn a_saved_certificate_is_owner_only_and_reused_while_it_holds_the_names() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path(), "https://ca.test/dir");
        let (cert, key) = made(&["relay.example", "hooks.example"]);
        store.save_certificate(&cert, &key).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root.path().join("acme")), 0o700);
        assert_eq!(mode(store.dir()), 0o700);
        assert_eq!(mode(&store.dir().join(CERT)), 0o600);
        assert_eq!(mode(&store.dir().join(KEY)), 0o600);

        let now = SystemTime::now();
        let names = ["relay.example".to_string()];
        assert!(store.certificate(&names, now).is_some());
        let more = ["relay.example".to_string(), "new.example".to_string()];
        assert!(store.certificate(&more, now).is_none(), "a name it lacks");
        // rcgen's certificates last until 4096.
        let later = now + std::time::Duration::from_secs(3000 * 366 * 86_400);
        assert!(store.certificate(&names, later).is_none(), "expired");
        let other = Store::new(root.path(), "https://staging.ca.test/dir");
        assert!(
            other.certificate(&names, now).is_none(),
            "another CA's folder"
        );

        let (_, other_key) = made(&["relay.example"]);
        store.save_certificate(&cert, &other_key).unwrap();
        assert!(
            store.certificate(&names, now).is_none(),
            "a key that does not fit"
        );
    }

    #[test]
    fn a_missing_account_is_none_and_a_damaged_one_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path(), "https://ca.test/dir");
        assert!(store.account().unwrap().is_none());
        std::fs::create_dir_all(store.dir()).unwrap();
        std::fs::write(store.dir().join(ACCOUNT), "{not json").unwrap();
        let Err(error) = store.account() else {
            panic!("a damaged account file must be reported");
        };
        assert!(error.contains(ACCOUNT), "{error}");
    }
}
