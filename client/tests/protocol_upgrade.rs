//! Protocol version 2 (the body digest became BLAKE3) meets version 1: a
//! relay and a client of different versions refuse each other, each saying
//! which side to upgrade; and a buffer a version-1 relay wrote (its frames
//! carry `body_sha256`) still reaches a version-2 client, byte for byte.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::nats::{ClusterRelay, Nats};
use common::process::headless as client;
use common::process::{Proc, hookhole};
use common::*;
use futures_util::{SinkExt, StreamExt};
use hookhole::events::Event;
use hookhole_relay::RelayConfig;
use hookhole_shared::frame;
use hookhole_shared::protocol::{VERSION, close};
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
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
    let health = relay.health().await;
    assert_eq!(health["protocol"], 2);
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

/// The offline buffer's table as a version-1 relay made it.
const V1_BUFFER_SCHEMA: &str = "
CREATE TABLE buffered (
    channel        TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    id             TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    size           INTEGER NOT NULL,
    frame          BLOB NOT NULL,
    PRIMARY KEY (channel, seq)
);
CREATE INDEX buffered_by_age ON buffered (channel, received_at_ms);
";

/// A delivery frame exactly as a version-1 relay buffered it: `body_sha256`
/// (here `sha256`, which a damaged body no longer matches), `queued`.
fn v1_frame(id: &str, seq: u64, body: &[u8], sha256: &str) -> Vec<u8> {
    let header = format!(
        r#"{{"type":"delivery","id":"{id}","seq":{seq},"received_at_ms":1700000000000,"method":"POST","path":"/hook","headers":[["content-type","application/octet-stream"],["x-forwarded-for","127.0.0.1"],["x-forwarded-proto","http"]],"body_sha256":"{sha256}","url":"http://127.0.0.1:8080/old/hook","queued":true}}"#
    );
    frame::encode(header.as_bytes(), body)
}

/// A relay data dir holding a version-1 buffer with these deliveries for
/// `channel`: (id, body, the SHA-256 stored with it).
fn written_by_a_version_1_relay(data: &Path, channel: &str, deliveries: &[(&str, &[u8], String)]) {
    std::fs::create_dir(data).unwrap();
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let db = rusqlite::Connection::open(data.join("buffer.sqlite")).unwrap();
    db.execute_batch(V1_BUFFER_SCHEMA).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for (n, (id, body, sha256)) in deliveries.iter().enumerate() {
        let seq = n as i64 + 1;
        let frame = v1_frame(id, seq as u64, body, sha256);
        db.execute(
            "INSERT INTO buffered (channel, seq, id, received_at_ms, size, frame)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![channel, seq, id, now, frame.len() as i64, frame],
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_buffer_written_by_a_version_1_relay_reaches_a_version_2_client_intact() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("relay");
    // Binary, across BLAKE3's SIMD batches.
    let large: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 256) as u8).collect();
    let sha256 = |body: &[u8]| hex::encode(Sha256::digest(body));
    written_by_a_version_1_relay(
        &data,
        "old",
        &[
            ("oldsmall00000001", b"{\"n\":1}", sha256(b"{\"n\":1}")),
            // Damaged while stored: it no longer matches its SHA-256.
            ("olddamaged000002", b"{\"n\":2}", sha256(b"{\"n\":0}")),
            ("oldlarge00000003", &large, sha256(&large)),
        ],
    );
    let relay = TestRelay::start_with(RelayConfig {
        data_dir: Some(data),
        ..RelayConfig::default()
    })
    .await;
    let mut target = TestTarget::echo().await;
    let mut client = TestClient::start(&relay.url(), Some("old"), &target.url()).await;

    let mut outcomes = Vec::new();
    within("the three buffered deliveries", async {
        while outcomes.len() < 3 {
            match client.events.recv().await {
                Some(Event::Delivery(d)) => {
                    outcomes.push((d.id.clone(), d.status, d.error.clone()))
                }
                Some(_) => {}
                None => panic!("the engine stopped"),
            }
        }
    })
    .await;
    assert_eq!(outcomes[0], ("oldsmall00000001".into(), Some(200), None));
    let (id, status, error) = &outcomes[1];
    assert_eq!((id.as_str(), *status), ("olddamaged000002", None));
    assert!(
        error
            .as_deref()
            .unwrap_or_default()
            .starts_with("body_mismatch"),
        "{error:?}"
    );
    assert_eq!(outcomes[2], ("oldlarge00000003".into(), Some(200), None));

    // The local server got the intact two, byte for byte, and not the
    // damaged one (deliveries from the buffer go one at a time, in order).
    let first = target.next_request().await;
    assert_eq!(
        (first.target.as_str(), &first.body[..]),
        ("/hook", &b"{\"n\":1}"[..])
    );
    let second = target.next_request().await;
    assert_eq!(second.body, large);

    // Each one was acknowledged: the buffer is empty.
    within("the buffer to empty", async {
        loop {
            let health = relay.health().await;
            if health["buffered"] == 0 {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
}

/// Stores `frame` in the cluster's stream for `channel` as a version-1 relay
/// did (same subject, same headers), over the NATS protocol by hand.
async fn stored_by_a_version_1_relay(nats: &Nats, channel: &str, id: &str, frame: &[u8]) {
    let tcp = TcpStream::connect(("127.0.0.1", nats.port)).await.unwrap();
    let mut nats = BufReader::new(tcp);
    let mut line = String::new();
    nats.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("INFO "), "{line}");
    let headers = format!("NATS/1.0\r\nNats-Msg-Id: {channel}.{id}\r\nHookhole-Id: {id}\r\n\r\n");
    let mut out = format!(
        "CONNECT {{\"verbose\":false,\"headers\":true}}\r\nHPUB hh.v1.stored.{channel} {} {}\r\n{headers}",
        headers.len(),
        headers.len() + frame.len()
    )
    .into_bytes();
    out.extend_from_slice(frame);
    out.extend_from_slice(b"\r\nPING\r\n");
    nats.get_mut().write_all(&out).await.unwrap();
    // The server answers PING after it has handled what came before.
    within("PONG", async {
        loop {
            line.clear();
            nats.read_line(&mut line).await.unwrap();
            assert!(!line.starts_with("-ERR"), "{line}");
            if line.starts_with("PONG") {
                return;
            }
        }
    })
    .await;
}

/// In a cluster the stores are the relays' outboxes and the stream: what
/// relays of version 1 left in either reaches a version-2 client.
#[tokio::test]
async fn a_clusters_stores_written_by_version_1_relays_reach_a_version_2_client() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sha256 = |body: &[u8]| hex::encode(Sha256::digest(body));
    // Kept in A's outbox while NATS was away, before the upgrade.
    written_by_a_version_1_relay(
        &dir.path().join("relay-a"),
        "kept",
        &[
            ("outbox0000000001", b"outbox-1", sha256(b"outbox-1")),
            ("outbox0000000002", b"outbox-2", sha256(b"outbox-2")),
        ],
    );
    let a = ClusterRelay::start(dir.path(), &nats, "a", &[]).await;
    within("A's outbox to move to the stream", async {
        while a.metric("hookhole_cluster_moved_total").await < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // Stored in the stream by a version-1 relay.
    let body = b"stream-3";
    let frame = v1_frame("stream0000000003", 3, body, &sha256(body));
    stored_by_a_version_1_relay(&nats, "kept", "stream0000000003", &frame).await;

    let mut target = TestTarget::echo().await;
    let mut listener = client(dir.path(), &a.url, "kept", &target.url()).await;
    let mut bodies = Vec::new();
    for _ in 0..3 {
        bodies.push(target.next_request().await.body);
    }
    bodies.sort();
    assert_eq!(bodies, [&b"outbox-1"[..], b"outbox-2", b"stream-3"]);
    for _ in 0..3 {
        let event = listener.wait_event("delivery").await;
        assert_eq!(event["status"], 200, "{event}");
    }
}
