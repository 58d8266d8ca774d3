//! A hostile relay cannot point the client anywhere but its forward target:
//! a fake relay speaking our protocol sends deliveries whose path, method,
//! id, header names or query break the rules, while a second listener on
//! another port (the would-be victim) watches. The real `hookhole listen`
//! answers each `failed` with `protocol_error` (an `ack` for a queued one),
//! records it, and sends nothing anywhere; a good delivery still goes
//! through, and a replay of a refused one is refused the same way.

#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::process::{Proc, hookhole, run};
use common::*;
use futures_util::{SinkExt, StreamExt};
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::{
    ClientMessage, Delivery, FailureCode, Message as _, RelayMessage, Welcome, Wire,
};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

fn delivery(id: &str, method: &str, path: &str, query: Option<&str>, body: &[u8]) -> Delivery {
    Delivery {
        id: id.into(),
        seq: 0,
        received_at_ms: 1_700_000_000_000,
        method: method.into(),
        path: path.into(),
        query: query.map(str::to_string),
        headers: vec![Header::new("content-type", "text/plain")],
        body_blake3: hookhole_shared::body_digest::of(body),
        url: "http://relay.example/dev".into(),
        queued: false,
        answered: false,
        body: Bytes::copy_from_slice(body),
    }
}

fn wire(message: RelayMessage) -> Message {
    match message.encode() {
        Wire::Text(text) => Message::text(text),
        Wire::Binary(bytes) => Message::binary(bytes),
    }
}

/// Would-be victim: a listener that reports every connection it gets.
fn victim(listener: TcpListener) -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            let _ = tx.send(());
        }
    });
    rx
}

/// The client's next answer about a delivery (heartbeats skipped); fails
/// at once if the victim is contacted meanwhile.
async fn next_answer(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    victim: &mut mpsc::UnboundedReceiver<()>,
) -> ClientMessage {
    within("the client's answer", async {
        loop {
            let message = tokio::select! {
                message = ws.next() => message.unwrap().unwrap(),
                _ = victim.recv() => panic!("the victim port was contacted"),
            };
            let decoded = match message {
                Message::Text(text) => ClientMessage::decode_text(text.as_str()).unwrap(),
                Message::Binary(bytes) => ClientMessage::decode_binary(bytes).unwrap(),
                _ => continue,
            };
            if !matches!(decoded, ClientMessage::Heartbeat) {
                return decoded;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_hostile_relay_cannot_send_the_client_to_another_host_or_port() {
    let dir = tempfile::tempdir().unwrap();
    let victim_socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let victim_port = victim_socket.local_addr().unwrap().port();
    let mut contacted = victim(victim_socket);
    let mut target = TestTarget::echo().await;
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_url = format!("http://{}", fake.local_addr().unwrap());

    let mut listen = hookhole(dir.path());
    listen.args([
        "listen",
        "--no-tui",
        "--relay",
        &relay_url,
        "--channel",
        "dev",
        "--forward",
        &target.url(),
    ]);
    let mut listener = Proc::spawn(listen);

    // The handshake, as the relay does it: hello in, welcome out.
    let (tcp, _) = within("the client to connect", fake.accept())
        .await
        .unwrap();
    let mut ws = within(
        "the websocket upgrade",
        tokio_tungstenite::accept_async(tcp),
    )
    .await
    .unwrap();
    let hello = within("hello", ws.next()).await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().contains("\"hello\""), "{hello:?}");
    ws.send(wire(RelayMessage::Welcome(Welcome {
        version: hookhole_shared::protocol::VERSION,
        channel: "dev".into(),
        public_url: format!("{relay_url}/dev"),
        listeners: 1,
        heartbeat_secs: 15,
        heartbeat_ms: None,
        max_body: 1024 * 1024,
        answer: None,
    })))
    .await
    .unwrap();
    listener.wait_event("ready").await;

    // Joined to "http://127.0.0.1:PORT" as strings, the first three name
    // the victim (userinfo), port PORT0, and host 127.0.0.1:PORT.evil.example.
    let hostile_path = format!("@127.0.0.1:{victim_port}/x");
    let bad: Vec<(Delivery, &str)> = vec![
        (
            delivery("bad00001", "POST", &hostile_path, None, b"a"),
            "does not start with '/'",
        ),
        (
            delivery("bad00002", "POST", "0/x", None, b"a"),
            "the path \"0/x\" does not start with '/'",
        ),
        (
            delivery("bad00003", "POST", ".evil.example/x", None, b"a"),
            "does not start with '/'",
        ),
        (
            delivery("bad00004", "POST", "/x", Some("a#b"), b"a"),
            "the query \"a#b\" has a byte a URI query cannot carry",
        ),
        (
            delivery("bad00005", "POST", "/x y", None, b"a"),
            "the path \"/x y\" has a byte",
        ),
        (
            delivery("bad00006", "GET /x HTTP/1.1\r\nHost: evil", "/x", None, b""),
            "the method \"GET /x HTTP/1.1\\r\\nHost: evil\" is not an HTTP token",
        ),
        (
            delivery("../../x", "POST", "/x", None, b"a"),
            "the delivery id \"../../x\"",
        ),
        (
            Delivery {
                headers: vec![Header::new("x-ok", "1"), Header::new("bad name", "1")],
                ..delivery("bad00008", "POST", "/x", None, b"a")
            },
            "the header name \"bad name\" is not an HTTP token",
        ),
        (
            Delivery {
                headers: vec![Header::new("x-a", "1\r\nHost: evil")],
                ..delivery("bad00009", "POST", "/x", None, b"a")
            },
            "the value of header \"x-a\" has a byte HTTP cannot carry",
        ),
    ];
    for (n, (d, expected)) in bad.iter().enumerate() {
        let d = Delivery {
            seq: n as u64 + 1,
            ..d.clone()
        };
        ws.send(wire(RelayMessage::Delivery(d.clone())))
            .await
            .unwrap();
        let answer = next_answer(&mut ws, &mut contacted).await;
        let ClientMessage::Failed(failure) = answer else {
            panic!("{}: expected failed, got {answer:?}", d.id);
        };
        assert_eq!(failure.id, d.id);
        assert_eq!(failure.code, FailureCode::ProtocolError, "{}", d.id);
        assert!(
            failure.message.contains(expected),
            "{}: {}",
            d.id,
            failure.message
        );
        assert!(
            !failure.message.contains(&target.addr.port().to_string()),
            "the error does not name the target as if it had been contacted: {}",
            failure.message
        );
        let event = listener.wait_event("delivery").await;
        assert_eq!(event["id"], d.id.as_str());
        assert!(
            event["error"]
                .as_str()
                .unwrap()
                .starts_with("protocol_error: not forwarded: "),
            "{event}"
        );
    }

    // A queued one is acknowledged (its sender was answered long ago),
    // recorded as refused, and not forwarded either.
    let queued = Delivery {
        seq: 100,
        queued: true,
        answered: false,
        ..delivery("bad00010", "POST", &hostile_path, None, b"q")
    };
    ws.send(wire(RelayMessage::Delivery(queued))).await.unwrap();
    assert_eq!(
        next_answer(&mut ws, &mut contacted).await,
        ClientMessage::Ack {
            id: "bad00010".into(),
            seq: 100
        }
    );

    // A good delivery still reaches the target, and only the target.
    let good = Delivery {
        seq: 101,
        ..delivery("good0001", "POST", "/ok", Some("q=1"), b"fine")
    };
    ws.send(wire(RelayMessage::Delivery(good))).await.unwrap();
    let ClientMessage::Response(response) = next_answer(&mut ws, &mut contacted).await else {
        panic!("expected a response");
    };
    assert_eq!((response.id.as_str(), response.status), ("good0001", 200));
    assert_eq!(target.next_request().await.target, "/ok?q=1");
    assert!(
        target.requests.try_recv().is_err(),
        "nothing else reached the target"
    );
    // Every answer above came after the client decided; a connection to the
    // victim would have been reported by now.
    assert!(
        contacted.try_recv().is_err(),
        "the victim port was contacted"
    );

    listener.signal("INT");
    listener.exit().await;
    let (code, stdout, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["history", "--json", "--limit", "100"]);
        c
    })
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), bad.len() + 2, "{stdout}");
    let refused = rows
        .iter()
        .filter(|r| r["error"] == "protocol_error")
        .count();
    assert_eq!(refused, bad.len() + 1, "{stdout}");

    // Replaying one from the history is refused the same way: replays go
    // through the same check.
    let (code, stdout, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["replay", "bad00001", "--forward", &target.url()]);
        c
    })
    .await;
    assert_ne!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("protocol_error: not forwarded: the path"),
        "{stdout}"
    );
    assert!(
        target.requests.try_recv().is_err() && contacted.try_recv().is_err(),
        "a refused replay contacts nobody"
    );
}
