//! Pebble, Let's Encrypt's ACME test server, with pebble-challtestsrv as
//! its DNS (every name answers 127.0.0.1), for the relay's `--domain`
//! tests; and HTTPS requests to a relay by its test name.
//!
//! Both binaries come from the Debian package `pebble`. Without them the
//! tests are skipped with a message, except in CI (`CI` set), where they
//! fail: CI installs the package and the tests must run.
//!
//! Pebble and challtestsrv take their ports from their configuration, so
//! free ports are found first (bind to port 0, note it, release it); the
//! relay's port is one of them, as Pebble's validator must know where to
//! connect for TLS-ALPN-01 (`tlsPort`) and HTTP-01 (`httpPort`).

use super::process::hookhole;
use super::{WAIT, within};
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The name the relay certifies in these tests.
pub const DOMAIN: &str = "relay.hookhole.test";

pub struct Pebble {
    _pebble: Child,
    _challtestsrv: Child,
    acme_port: u16,
    roots_port: u16,
    dns_admin_port: u16,
    /// Where Pebble validates TLS-ALPN-01: the relay's --listen port.
    pub relay_port: u16,
    /// Where Pebble validates HTTP-01: the relay's --http-port.
    pub http_port: u16,
    /// The CA of Pebble's own HTTPS (for the relay's --acme-ca-cert).
    pub ca_cert: PathBuf,
    pub dir: tempfile::TempDir,
}

fn installed() -> bool {
    ["pebble", "pebble-challtestsrv"].iter().all(|name| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA, and a certificate it signed for `localhost` and 127.0.0.1 (rustls
/// refuses a self-signed certificate used directly by a server).
fn test_ca(dir: &Path) -> PathBuf {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hookhole test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    std::fs::write(dir.join("pebble.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("pebble.key"), leaf_key.serialize_pem()).unwrap();
    let ca_path = dir.join("pebble-ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    ca_path
}

impl Pebble {
    /// Starts challtestsrv and Pebble issuing certificates valid for
    /// `validity` seconds; `None` (the test then returns) when they are
    /// not installed outside CI.
    pub async fn start(validity: u64) -> Option<Pebble> {
        if !installed() {
            assert!(
                std::env::var_os("CI").is_none(),
                "pebble is not installed: CI must install it (apt-get install pebble)"
            );
            eprintln!("skipping: pebble is not installed (apt-get install pebble)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ca_cert = test_ca(dir.path());
        let [
            acme_port,
            roots_port,
            dns_port,
            dns_admin_port,
            relay_port,
            http_port,
        ] = std::array::from_fn(|_| free_port());
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
        let challtestsrv = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_admin_port}")])
            .stdin(Stdio::null())
            .stdout(log("challtestsrv.log"))
            .stderr(log("challtestsrv.err"))
            .kill_on_drop(true)
            .spawn()
            .expect("start pebble-challtestsrv");
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{roots_port}"),
            "certificate": dir.path().join("pebble.pem"),
            "privateKey": dir.path().join("pebble.key"),
            "httpPort": http_port,
            "tlsPort": relay_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": validity,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            // No random validation delays, no nonces rejected on purpose,
            // and every order validated afresh (no reused authorization):
            // each test sees the same steps every run.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdin(Stdio::null())
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .kill_on_drop(true)
            .spawn()
            .expect("start pebble");
        let pebble = Pebble {
            _pebble: pebble,
            _challtestsrv: challtestsrv,
            acme_port,
            roots_port,
            dns_admin_port,
            relay_port,
            http_port,
            ca_cert,
            dir,
        };
        for port in [dns_admin_port, acme_port, roots_port] {
            within("pebble to listen", async {
                while tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_err()
                {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            })
            .await;
        }
        Some(pebble)
    }

    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.acme_port)
    }

    /// The root Pebble signs with (new at every start), saved as PEM for a
    /// client's --ca-cert.
    pub async fn root(&self) -> PathBuf {
        let ca = std::fs::read(&self.ca_cert).unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], self.roots_port).into();
        let (status, body, _) = https(addr, "localhost", &ca, "GET", "/roots/0", b"")
            .await
            .expect("pebble's root");
        assert_eq!(status, 200);
        let path = self.dir.path().join("pebble-root.pem");
        std::fs::write(&path, &body).unwrap();
        path
    }

    /// Makes the test DNS answer `address` for the relay's name.
    pub async fn resolve_to(&self, address: &str) {
        let url = format!("http://127.0.0.1:{}/add-a", self.dns_admin_port);
        let body = serde_json::json!({"host": format!("{DOMAIN}."), "addresses": [address]});
        let sent = super::send("POST", &url, &[], body.to_string().as_bytes()).await;
        assert_eq!(sent.status, 200, "challtestsrv add-a");
    }

    /// The relay's flags for this CA, with its data in `data`.
    pub fn relay_args(&self, data: &Path) -> Vec<String> {
        vec![
            "relay".into(),
            "--listen".into(),
            format!("127.0.0.1:{}", self.relay_port),
            "--domain".into(),
            DOMAIN.into(),
            "--acme-directory".into(),
            self.directory(),
            "--acme-ca-cert".into(),
            self.ca_cert.display().to_string(),
            "--data-dir".into(),
            data.display().to_string(),
        ]
    }
}

/// `hookhole ARGS` run from `dir` as [`hookhole`] does, but in a mount
/// namespace of its own where `/etc/hosts` sends the test name to
/// 127.0.0.1: the client reaches the relay by its name, as on the
/// internet, and verifies the certificate for it.
pub fn hookhole_resolving_test_name(dir: &Path) -> Command {
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, format!("127.0.0.1 localhost {DOMAIN}\n")).unwrap();
    let isolated = hookhole(dir);
    let std = isolated.as_std();
    let mut cmd = Command::new("unshare");
    cmd.args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg("mount --bind \"$0\" /etc/hosts && exec \"$@\"")
        .arg(&hosts)
        .arg(std.get_program());
    if let Some(cwd) = std.get_current_dir() {
        cmd.current_dir(cwd);
    }
    for (key, value) in std.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

/// One HTTP/1.1 request over TLS to `addr`, verifying the certificate for
/// `name` against `root` (PEM): the status, the body and the certificate
/// the server showed.
pub async fn https(
    addr: SocketAddr,
    name: &str,
    root: &[u8],
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>, CertificateDer<'static>)> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(root) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let server_name = ServerName::try_from(name.to_string()).unwrap();
        let mut tls = connector.connect(server_name, tcp).await?;
        let shown = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {name}:{}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            addr.port(),
            body.len()
        );
        tls.write_all(head.as_bytes()).await?;
        tls.write_all(body).await?;
        let mut response = Vec::new();
        // A peer closing without close_notify after a whole answer is fine.
        let _ = tls.read_to_end(&mut response).await;
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(head_len)) = parsed.parse(&response) else {
            return Err(std::io::Error::other("no complete answer"));
        };
        Ok((parsed.code.unwrap(), response[head_len..].to_vec(), shown))
    };
    tokio::time::timeout(WAIT, exchange)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("timed out")))
}
