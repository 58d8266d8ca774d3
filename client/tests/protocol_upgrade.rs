//! Protocol version 2 (the body digest became BLAKE3) meets version 1: a
//! relay and a client of different versions refuse each other, each saying
//! which side to upgrade.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, hookhole};
use common::*;
use futures_util::{SinkExt, StreamExt};
use hookhole_shared::protocol::{VERSION, close};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// What a version-1 relay (every release before protocol 2) answers a
/// version-2 hello with.
const V1_REFUSAL: &str = "unsupported protocol version 2; this relay speaks version 1";

#[tokio::test]
async fn a_version_1_client_is_told_to_upgrade_hookhole() {
    assert_eq!(VERSION, 2);
    let relay = TestRelay::start().await;
    // The hello every release before protocol 2 sends.
    let mut old = raw_peer(
        relay.addr,
        Some(r#"{"type":"hello","version":1,"channel":"old","agent":"hookhole/0.1.0"}"#),
    )
    .await;
    let (code, reason) = close_frame(&mut old).await;
    assert_eq!(code, close::UNSUPPORTED_VERSION);
    // An old client prints this as it is: it must say what to do.
    assert_eq!(
        reason,
        "this relay speaks protocol 2 and the client 1: upgrade hookhole (the client)"
    );
    let health = send(
        "GET",
        &format!("{}/_hookhole/health", relay.url()),
        &[],
        b"",
    )
    .await;
    assert_eq!(health.json()["protocol"], 2);
}

/// A relay of protocol 1 on `listener`: it reads each client's hello and
/// closes with 4001 and `reason`, as a version-1 relay does; returns the
/// hellos it got.
async fn version_1_relay(listener: TcpListener, reason: &'static str) -> Vec<serde_json::Value> {
    let mut hellos = Vec::new();
    let (tcp, _) = within("the client to connect", listener.accept())
        .await
        .unwrap();
    let mut ws = within("the upgrade", tokio_tungstenite::accept_async(tcp))
        .await
        .unwrap();
    let hello = within("hello", ws.next()).await.unwrap().unwrap();
    hellos.push(serde_json::from_str(hello.to_text().unwrap()).unwrap());
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::from(close::UNSUPPORTED_VERSION),
        reason: reason.into(),
    })))
    .await
    .unwrap();
    hellos
}

#[tokio::test]
async fn a_version_2_client_refused_by_a_version_1_relay_says_to_upgrade_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    // The second relay's reason carries a terminal escape: shown escaped.
    let cases = [
        (
            V1_REFUSAL,
            format!("the relay said: {V1_REFUSAL}) (close code 4001)"),
        ),
        (
            "unsupported protocol version 2; this relay speaks version 1\x1b]0;owned\x07",
            r"this relay speaks version 1\x1b]0;owned\x07) (close code 4001)".to_string(),
        ),
    ];
    for (reason, tail) in cases {
        let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", fake.local_addr().unwrap());
        let relay = tokio::spawn(version_1_relay(fake, reason));
        let mut listen = hookhole(dir.path());
        listen.args([
            "listen",
            "--no-tui",
            "--relay",
            &url,
            "--channel",
            "dev",
            "--forward",
            "http://127.0.0.1:9",
        ]);
        let mut listener = Proc::spawn(listen);
        let failed = listener.wait_event("connection").await;
        let (code, stderr) = listener.exit().await;
        let hellos = within("the fake relay", relay).await.unwrap();
        assert_eq!(hellos[0]["version"], 2, "{hellos:?}");

        assert_eq!(code, Some(1), "{stderr}");
        let line = stderr.lines().last().unwrap_or_default();
        assert!(
            line.starts_with(
                "hookhole: error: the relay refused the connection: the relay is older: \
                 it speaks protocol 1 and this client 2; upgrade the relay (the relay said: "
            ),
            "{stderr}"
        );
        assert!(line.ends_with(&tail), "{line}");
        assert!(!stderr.contains('\x1b'), "{stderr:?}");
        // The JSON line says the same, for scripts and the terminal UI.
        assert_eq!(failed["state"], "failed");
        let said = failed["reason"].as_str().unwrap();
        assert!(said.starts_with("the relay is older"), "{said}");
        assert!(line.contains(&said.replace('\x1b', r"\x1b").replace('\x07', r"\x07")));
    }
}
