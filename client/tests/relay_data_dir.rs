//! What the relay keeps in its data dir is private (0600 files in a 0700
//! directory), and the self-signed certificate it writes there (and reuses
//! after a restart) is what a client needs to trust it; a client that does not trust the relay says
//! why and how to fix it, and stops.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use hookhole::engine::{self, EngineError};
use hookhole::events::{Event, LinkState};
use hookhole_relay::RelayConfig;
use hookhole_relay::tls::TlsSource;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "relay-data-dir-token-0123456789";

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

async fn https_relay(data_dir: &Path) -> TestRelay {
    let mut config = RelayConfig {
        tls: Some(TlsSource::SelfSigned {
            names: vec!["localhost".into(), "127.0.0.1".into()],
        }),
        data_dir: Some(data_dir.to_path_buf()),
        ..RelayConfig::default()
    };
    config.tokens.add(TOKEN).unwrap();
    TestRelay::start_with(config).await
}

#[tokio::test]
async fn an_untrusted_relay_certificate_stops_the_client_with_the_fix() {
    let root = tempfile::tempdir().unwrap();
    let relay = https_relay(&root.path().join("relay")).await;
    let url = format!("https://localhost:{}", relay.addr.port());
    let mut config = engine_config(&url, Some("shop"), "http://127.0.0.1:9");
    config.token = Some(hookhole_shared::protocol::Token(TOKEN.into()));
    config.tls = Some(hookhole::relay_tls::client_config(None, false).unwrap());
    let (tx, mut events) = mpsc::channel(64);
    let ended = within(
        "the engine to give up",
        engine::run(config, tx, CancellationToken::new()),
    )
    .await;
    let Err(EngineError::Untrusted(why)) = ended else {
        panic!("expected an untrusted certificate, got {ended:?}");
    };
    assert!(why.contains("not trusted"), "{why}");
    assert!(
        why.contains("--ca-cert") && why.contains("--insecure"),
        "{why}"
    );
    let mut failed = None;
    while let Ok(event) = events.try_recv() {
        if let Event::Connection(c) = event
            && c.state == LinkState::Failed
        {
            failed = c.reason;
        }
    }
    assert_eq!(
        failed.as_deref(),
        Some(why.as_str()),
        "the UI and JSON lines see it"
    );
}

#[tokio::test]
async fn the_data_dir_is_private_and_its_certificate_lets_a_client_in() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("relay");
    let relay = https_relay(&dir).await;
    let cert = dir.join(hookhole_relay::tls::SELF_SIGNED_CERT);
    within("the certificate to be written at startup", async {
        while !cert.exists() {
            tokio::task::yield_now().await;
        }
    })
    .await;

    let url = format!("https://localhost:{}", relay.addr.port());
    let target = TestTarget::echo().await;
    let mut config = engine_config(&url, Some("shop"), &target.url());
    config.token = Some(hookhole_shared::protocol::Token(TOKEN.into()));
    config.tls = Some(hookhole::relay_tls::client_config(Some(&cert), false).unwrap());
    let client = TestClient::start_with(config).await;
    assert_eq!(client.public_url, format!("{url}/shop"));
    client.stop().await.unwrap();

    // A delivery queued for the absent client: the buffer's files exist.
    let status = within("a queued webhook", async {
        let tls = hookhole::relay_tls::client_config(Some(&cert), false).unwrap();
        let connector = tokio_rustls::TlsConnector::from(tls);
        let tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut stream = connector.connect(name, tcp).await.unwrap();
        let head = "POST /shop/x HTTP/1.1\r\nhost: localhost\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
        tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes())
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await;
    assert!(status.starts_with("HTTP/1.1 202"), "{status}");

    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "owners.json",
        "buffer.sqlite",
        "buffer.sqlite-wal",
        "buffer.sqlite-shm",
        "self-signed-cert.pem",
        "self-signed-key.pem",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert_eq!(mode(&dir), 0o700);
    for name in &names {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    relay.stop().await;

    // Restarted, the relay serves the same certificate: a client that
    // trusts the file still gets in.
    let before = std::fs::read(&cert).unwrap();
    let again = https_relay(&dir).await;
    let url = format!("https://localhost:{}", again.addr.port());
    let mut config = engine_config(&url, Some("shop"), &target.url());
    config.token = Some(hookhole_shared::protocol::Token(TOKEN.into()));
    config.tls = Some(hookhole::relay_tls::client_config(Some(&cert), false).unwrap());
    let client = TestClient::start_with(config).await;
    assert_eq!(client.channel, "shop");
    assert_eq!(std::fs::read(&cert).unwrap(), before);
}
