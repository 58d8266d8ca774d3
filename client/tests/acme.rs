//! `hookhole-relay --domain`: certificates from an ACME CA, end to end
//! against Pebble (Let's Encrypt's test server) with the real relay and
//! client binaries: issuance by TLS-ALPN-01 and by HTTP-01, renewal under
//! a connected client, a restart that reuses the saved certificate, and a
//! failed renewal that keeps the last good one in service.

#![allow(clippy::unwrap_used)]

mod common;

use common::pebble::{DOMAIN, Pebble, hookhole_resolving_test_name, https};
use common::process::{Proc, hookhole};
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;

/// The relay, with its log in `dir/relay.log`.
async fn relay(dir: &Path, pebble: &Pebble, extra: &[String]) -> Proc {
    let mut cmd = hookhole(dir);
    cmd.args(pebble.relay_args(&dir.join("relay-data")))
        .args(extra)
        .env("RUST_LOG", "hookhole_relay=info");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("relay.log"))
        .unwrap();
    let mut proc = Proc::spawn_with_stderr({
        cmd.stderr(log);
        cmd
    });
    let listening = proc.wait_event("listening").await;
    // Without --public-url the relay advertises its domain.
    let url = format!("https://{DOMAIN}:{}", pebble.relay_port);
    assert_eq!(listening["public_url"], url.as_str());
    proc
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("relay.log")).unwrap_or_default()
}

/// The relay's health report over HTTPS by its name, or `None` while no
/// certificate the root vouches for is served.
async fn health(pebble: &Pebble, root: &[u8]) -> Option<Value> {
    let addr: SocketAddr = ([127, 0, 0, 1], pebble.relay_port).into();
    let (status, body, _) = https(addr, DOMAIN, root, "GET", "/_hookhole/health", b"")
        .await
        .ok()?;
    assert_eq!(status, 200);
    Some(serde_json::from_slice(&body).unwrap())
}

/// Waits for a health report whose `tls` satisfies `ready`.
async fn until_tls(
    dir: &Path,
    pebble: &Pebble,
    root: &[u8],
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let waited = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            if let Some(report) = health(pebble, root).await
                && ready(&report["tls"])
            {
                return report["tls"].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("timed out waiting for {what}; relay log:\n{}", log(dir)))
}

#[tokio::test]
async fn a_domain_gets_its_certificate_by_tls_alpn_and_renews_it_under_a_connected_client() {
    // 30-second certificates: renewal is due 20 seconds after each issue.
    let Some(pebble) = Pebble::start(30).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let _relay = relay(dir.path(), &pebble, &[]).await;
    let root_path = pebble.root().await;
    let root = std::fs::read(&root_path).unwrap();
    let first = until_tls(dir.path(), &pebble, &root, "the first certificate", |tls| {
        tls["serial"].is_string()
    })
    .await;
    assert_eq!(first["source"], "acme");
    assert_eq!(first["domains"][0], DOMAIN);
    assert!(first["not_after"].is_string(), "{first}");

    // A client reaches the relay by its name and verifies it against
    // Pebble's root only.
    let mut target = TestTarget::echo().await;
    let url = format!("https://{DOMAIN}:{}", pebble.relay_port);
    let mut listen = hookhole_resolving_test_name(dir.path());
    listen
        .args(["listen", "--no-tui", "--relay", &url, "--ca-cert"])
        .arg(&root_path)
        .args(["--channel", "acme", "--forward", &target.url()]);
    let mut client = Proc::spawn(listen);
    let ready = client.wait_event("ready").await;
    assert_eq!(ready["public_url"], format!("{url}/acme"));

    let addr: SocketAddr = ([127, 0, 0, 1], pebble.relay_port).into();
    let (status, _, shown_before) = https(addr, DOMAIN, &root, "POST", "/acme/hook", b"{\"n\":1}")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(target.next_request().await.body, b"{\"n\":1}");

    // The renewal swaps the certificate while the client stays connected.
    let renewed = until_tls(dir.path(), &pebble, &root, "the renewal", |tls| {
        tls["serial"].is_string() && tls["serial"] != first["serial"]
    })
    .await;
    assert_eq!(renewed["failures"], 0);
    let (status, _, shown_after) = https(addr, DOMAIN, &root, "POST", "/acme/hook", b"{\"n\":2}")
        .await
        .unwrap();
    assert_eq!(status, 200, "a webhook after the renewal round-trips");
    assert_eq!(target.next_request().await.body, b"{\"n\":2}");
    assert_ne!(
        shown_before, shown_after,
        "new handshakes get the new certificate"
    );
    let mut deliveries = 0;
    while deliveries < 2 {
        let event = client.next_json().await;
        assert_ne!(
            event["event"], "connection",
            "the link never dropped: {event}"
        );
        assert_ne!(
            event["event"], "ready",
            "the client never reconnected: {event}"
        );
        if event["event"] == "delivery" {
            deliveries += 1;
        }
    }
    let text = log(dir.path());
    assert!(
        text.contains("obtained a certificate for relay.hookhole.test"),
        "{text}"
    );
    assert!(
        text.contains("renewed the certificate for relay.hookhole.test"),
        "{text}"
    );
}

#[tokio::test]
async fn http_01_on_the_http_port_and_everything_else_there_is_redirected_to_https() {
    let Some(pebble) = Pebble::start(3600).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let http_port = pebble.http_port.to_string();
    let _relay = relay(dir.path(), &pebble, &["--http-port".into(), http_port]).await;
    let root = std::fs::read(pebble.root().await).unwrap();
    until_tls(
        dir.path(),
        &pebble,
        &root,
        "a certificate by HTTP-01",
        |tls| tls["serial"].is_string(),
    )
    .await;
    let pebble_log = std::fs::read_to_string(pebble.dir.path().join("pebble.log")).unwrap();
    assert!(pebble_log.contains("validate w/ HTTP"), "{pebble_log}");

    // The plain port sends everything else to the relay's own name.
    let plain = format!("http://127.0.0.1:{}/ch/hook?x=1", pebble.http_port);
    let moved = send("POST", &plain, &[("host", "evil.example")], b"{}").await;
    assert_eq!(moved.status, 308);
    let location = format!("https://{DOMAIN}:{}/ch/hook?x=1", pebble.relay_port);
    assert_eq!(moved.header("location"), Some(location.as_bytes()));
}

#[tokio::test]
async fn a_restart_reuses_the_saved_certificate_and_a_failed_renewal_keeps_the_last_good_one() {
    use std::os::unix::fs::PermissionsExt as _;
    // Renewal is due 16 seconds after the issue.
    let Some(pebble) = Pebble::start(24).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = relay(dir.path(), &pebble, &[]).await;
    let root = std::fs::read(pebble.root().await).unwrap();
    let issued = until_tls(dir.path(), &pebble, &root, "the first certificate", |tls| {
        tls["serial"].is_string()
    })
    .await;
    first.signal("TERM");
    first.exit().await;

    // Owner-only files in owner-only directories.
    let acme = dir.path().join("relay-data/acme");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&acme), 0o700);
    let ca_dirs: Vec<_> = std::fs::read_dir(&acme).unwrap().flatten().collect();
    assert_eq!(ca_dirs.len(), 1);
    let ca_dir = ca_dirs[0].path();
    assert_eq!(mode(&ca_dir), 0o700);
    for file in ["account.json", "cert.pem", "key.pem"] {
        assert_eq!(mode(&ca_dir.join(file)), 0o600, "{file}");
    }

    // From now on the CA finds nothing at the relay's name.
    pebble.resolve_to("127.0.0.2").await;
    let _second = relay(dir.path(), &pebble, &[]).await;
    let reused = until_tls(dir.path(), &pebble, &root, "the saved certificate", |tls| {
        tls["serial"].is_string()
    })
    .await;
    assert_eq!(reused["serial"], issued["serial"], "no new order at start");
    let failed = until_tls(dir.path(), &pebble, &root, "a failed renewal", |tls| {
        tls["failures"].as_u64() > Some(0)
    })
    .await;
    assert_eq!(
        failed["serial"], issued["serial"],
        "the last good certificate stays"
    );
    assert!(failed["next_try"].is_string(), "{failed}");
    let text = log(dir.path());
    assert_eq!(text.matches("obtained a certificate").count(), 1, "{text}");
    assert!(
        text.contains("reusing the saved certificate for relay.hookhole.test"),
        "{text}"
    );
    let warning = text
        .lines()
        .find(|l| l.contains("ACME order for relay.hookhole.test failed"))
        .unwrap_or_else(|| panic!("{text}"));
    for says in [
        "127.0.0.2",
        "DNS A/AAAA records of relay.hookhole.test",
        "port 443",
        "still serving the certificate valid until",
        "next try in 1m",
    ] {
        assert!(warning.contains(says), "{says:?} in {warning}");
    }
}
