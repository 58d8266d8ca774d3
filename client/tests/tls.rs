//! HTTPS end to end, with a certificate made at test time: senders reach
//! the relay over TLS, the client's websocket is wss:// and verifies the
//! relay against the given CA.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use hookhole_relay::RelayConfig;
use hookhole_relay::tls::TlsSource;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw HTTP/1.1 POST over TLS, trusting `ca`; returns the status line.
async fn https_post(
    addr: std::net::SocketAddr,
    ca: &CertificateDer<'static>,
    path: &str,
    body: &[u8],
) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost:{}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        addr.port(),
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(body).await.unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn webhooks_and_the_client_link_run_over_tls() {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let relay = TestRelay::start_with(RelayConfig {
        tls: Some(TlsSource::Files {
            cert: cert.clone(),
            key,
        }),
        ..RelayConfig::default()
    })
    .await;
    let relay_url = format!("https://localhost:{}", relay.addr.port());
    let mut target = TestTarget::echo().await;

    let mut config = engine_config(&relay_url, Some("secure"), &target.url());
    config.tls = Some(hookhole::relay_tls::client_config(Some(&cert), false).unwrap());
    let client = TestClient::start_with(config).await;
    assert_eq!(client.public_url, format!("{relay_url}/secure"));

    let status = within(
        "an HTTPS webhook",
        https_post(
            relay.addr,
            made.cert.der(),
            "/secure/hook",
            b"{\"tls\":true}",
        ),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let got = target.next_request().await;
    assert_eq!(got.body, b"{\"tls\":true}");
    assert_eq!(got.header("x-forwarded-proto"), Some(&b"https"[..]));

    // --insecure connects to a certificate it cannot verify (encrypted,
    // identity unchecked); without it the link is refused, never silently
    // downgraded.
    let mut insecure = engine_config(&relay_url, Some("secure"), &target.url());
    insecure.tls = Some(hookhole::relay_tls::client_config(None, true).unwrap());
    TestClient::start_with(insecure).await;
    let untrusting = hookhole::relay_tls::client_config(None, false).unwrap();
    let connector = tokio_rustls::TlsConnector::from(untrusting);
    let tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let refused = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(refused.is_err(), "an unknown CA must not be trusted");
}

fn trusting(cert: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn handshake(
    addr: std::net::SocketAddr,
    cert: &CertificateDer<'static>,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, std::io::Error> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    trusting(cert)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

#[tokio::test]
async fn sighup_reloads_the_certificate_without_dropping_clients_and_ingress_speaks_http2() {
    use common::process::{Proc, hookhole};
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let first = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(&cert, first.cert.pem()).unwrap();
    std::fs::write(&key, first.signing_key.serialize_pem()).unwrap();
    let mut relay_cmd = hookhole(dir.path());
    relay_cmd
        .args(["relay", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key);
    let mut relay = Proc::spawn(relay_cmd);
    let listening = relay.wait_event("listening").await;
    let addr: std::net::SocketAddr = listening["addr"].as_str().unwrap().parse().unwrap();
    let url = format!("https://localhost:{}", addr.port());
    let mut target = TestTarget::echo().await;
    let mut listen = hookhole(dir.path());
    listen.args([
        "listen",
        "--no-tui",
        "--relay",
        &url,
        "--insecure",
        "--channel",
        "reload",
        "--forward",
        &target.url(),
    ]);
    let mut client = Proc::spawn(listen);
    client.wait_event("ready").await;
    assert!(handshake(addr, first.cert.der()).await.is_ok());

    // New files, then SIGHUP: new handshakes get the new certificate.
    let second = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(&cert, second.cert.pem()).unwrap();
    std::fs::write(&key, second.signing_key.serialize_pem()).unwrap();
    relay.signal("HUP");
    within("the new certificate", async {
        while handshake(addr, second.cert.der()).await.is_err() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        handshake(addr, first.cert.der()).await.is_err(),
        "the old certificate is gone"
    );

    // The client's link made before the reload still delivers, over HTTP/2.
    let tls = handshake(addr, second.cert.der()).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("{url}/reload/h2"))
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"{\"h2\":true}",
        )))
        .unwrap();
    let response = within("an HTTP/2 webhook", sender.send_request(request))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let got = target.next_request().await;
    assert_eq!(
        (got.target.as_str(), got.body.as_slice()),
        ("/h2", &b"{\"h2\":true}"[..])
    );
    let authority = url.trim_start_matches("https://");
    assert_eq!(
        got.header("x-forwarded-host"),
        Some(authority.as_bytes()),
        "HTTP/2's :authority is the forwarded host"
    );
    assert_eq!(client.wait_event("delivery").await["status"], 200);
}
