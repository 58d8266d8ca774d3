//! A client with several relays (`--relay A --relay B`): it moves to the
//! next one when its relay dies or shuts down, keeps its channel and token,
//! follows the URL the new relay gives, and records nothing twice. Two
//! independent relays stand in for a cluster's nodes: to a client, nodes
//! are relays that share channels.

#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, history_counts, hookhole, numbered, relay, run};
use common::*;
use hookhole::engine::relays::Relay;
use hookhole::events::{ConnectionEvent, Event, LinkState};
use hookhole_relay::RelayConfig;
use serde_json::Value;
use std::path::Path;

/// A headless `hookhole listen` on channel `moving` with these relays.
async fn client(dir: &Path, ports: &[u16], target: &TestTarget) -> Proc {
    let mut cmd = hookhole(dir);
    cmd.args(["listen", "--no-tui", "--channel", "moving", "--forward"])
        .arg(target.url());
    for port in ports {
        cmd.args(["--relay", &format!("http://127.0.0.1:{port}")]);
    }
    Proc::spawn(cmd)
}

/// Skips stdout lines until a `connection` event in `state`.
async fn link(proc: &mut Proc, state: &str) -> Value {
    loop {
        let event = proc.wait_event("connection").await;
        if event["state"] == state {
            return event;
        }
    }
}

fn on(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_killed_relay_is_replaced_by_the_next_and_nothing_is_recorded_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (a, port_a) = relay(dir.path(), &dir.path().join("a"), 0).await;
    let (_b, port_b) = relay(dir.path(), &dir.path().join("b"), 0).await;
    let mut target = TestTarget::echo().await;
    let mut listener = client(dir.path(), &[port_a, port_b], &target).await;
    let ready = listener.wait_event("ready").await;
    assert_eq!(ready["relay"], on(port_a), "the first relay first");
    assert_eq!(ready["public_url"], format!("{}/moving", on(port_a)));

    let sent = post(&format!("{}/moving/hook", on(port_a)), &numbered(0)).await;
    assert_eq!(sent.status, 200);
    assert_eq!(target.next_request().await.body, numbered(0));

    a.signal("KILL");
    a.exit().await;
    // Sent while the client moves: queued by B, or delivered live if the
    // client is there already. Either way acknowledged, so it must arrive.
    let sent = post(&format!("{}/moving/hook", on(port_b)), &numbered(1)).await;
    assert!(sent.status == 200 || sent.status == 202, "{}", sent.status);
    let lost = link(&mut listener, "reconnecting").await;
    assert_eq!(
        (&lost["relay"], &lost["next_relay"]),
        (&Value::from(on(port_a)), &Value::from(on(port_b)))
    );
    let moved = link(&mut listener, "connected").await;
    assert_eq!(moved["relay"], on(port_b), "{moved}");
    assert_eq!(moved["public_url"], format!("{}/moving", on(port_b)));
    assert_eq!(target.next_request().await.body, numbered(1));

    let sent = post(&format!("{}/moving/hook", on(port_b)), &numbered(2)).await;
    assert_eq!(sent.status, 200);
    assert_eq!(target.next_request().await.body, numbered(2));
    let counts = history_counts(dir.path()).await;
    assert_eq!(counts, [(0, 1), (1, 1), (2, 1)].into(), "each saved once");
}

#[tokio::test]
async fn a_relay_shutting_down_sends_the_client_to_the_next_one_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, port_a) = relay(dir.path(), &dir.path().join("a"), 0).await;
    let (_b, port_b) = relay(dir.path(), &dir.path().join("b"), 0).await;
    let mut target = TestTarget::echo().await;
    let mut listener = client(dir.path(), &[port_a, port_b], &target).await;
    assert_eq!(listener.wait_event("ready").await["relay"], on(port_a));

    // SIGTERM: the relay drains, then closes its links with "going away".
    a.signal("TERM");
    let lost = listener.wait_event("connection").await;
    assert_eq!(lost["state"], "reconnecting", "{lost}");
    assert!(
        lost["reason"]
            .as_str()
            .unwrap()
            .contains("relay shutting down"),
        "{lost}"
    );
    // No backoff (it would be 125 ms or more): the next attempt is at once,
    // and it goes to B, which takes the client on the first try.
    assert_eq!(lost["retry_in_ms"], 0, "{lost}");
    assert_eq!(lost["next_relay"], on(port_b), "{lost}");
    let moved = listener.wait_event("connection").await;
    assert_eq!(
        (&moved["state"], &moved["relay"]),
        (&Value::from("connected"), &Value::from(on(port_b))),
        "the first event after the move: {moved}"
    );
    let (code, stderr) = a.exit().await;
    assert_eq!(code, Some(0), "{stderr}");

    let sent = post(&format!("{}/moving/after", on(port_b)), b"{}").await;
    assert_eq!(sent.status, 200);
    assert_eq!(target.next_request().await.target, "/after");
}

/// Several relays but no `--channel`: the name the first relay assigned is
/// asked of the next one, with the same token, and remembered under each
/// relay, so a later run with either keeps the URL pasted into a provider.
#[tokio::test]
async fn a_relay_assigned_channel_and_the_token_go_with_the_client() {
    let token = "moving-token-0123456789";
    let config = || {
        let mut tokens = hookhole_relay::auth::Tokens::default();
        tokens.add(token).unwrap();
        RelayConfig {
            tokens,
            ..RelayConfig::default()
        }
    };
    let a = TestRelay::start_with(config()).await;
    let b = TestRelay::start_with(config()).await;
    let target = TestTarget::echo().await;
    let data = tempfile::tempdir().unwrap();
    let engine = |relays: &[String]| {
        let mut c = engine_config(&relays[0], None, &target.url());
        c.relays = relays.iter().map(Relay::new).collect();
        c.token = Some(hookhole_shared::protocol::Token(token.into()));
        c.memory = Some(hookhole::memory::ChannelMemory::new(data.path()));
        c
    };
    let mut client = TestClient::start_with(engine(&[a.url(), b.url()])).await;
    let channel = client.channel.clone();
    assert_eq!(channel.len(), 26, "a random name, assigned by A");
    assert_eq!(client.public_url, format!("{}/{channel}", a.url()));

    a.stop().await;
    let moved = client
        .wait_for(
            "the client on B",
            |e| matches!(e, Event::Connection(c) if c.state == LinkState::Connected),
        )
        .await;
    let Event::Connection(ConnectionEvent {
        relay, public_url, ..
    }) = moved
    else {
        unreachable!()
    };
    assert_eq!(relay, Some(b.url()));
    assert_eq!(public_url, Some(format!("{}/{channel}", b.url())));
    let sent = post(&format!("{}/{channel}/x", b.url()), b"{}").await;
    assert_eq!(sent.status, 200);
    client.stop().await.unwrap();

    let again = TestClient::start_with(engine(&[b.url()])).await;
    assert_eq!(again.channel, channel, "remembered under B too");
}

/// A relay's sequence numbers are its own clock: B's number for a webhook
/// it queued can be lower than the last one the client saved from A. The
/// client does not send A's number to B, so B drops nothing unseen.
#[tokio::test]
async fn a_webhook_another_relay_queued_earlier_is_not_lost_on_the_move() {
    let dir = tempfile::tempdir().unwrap();
    let (a, port_a) = relay(dir.path(), &dir.path().join("a"), 0).await;
    let (_b, port_b) = relay(dir.path(), &dir.path().join("b"), 0).await;
    let mut target = TestTarget::echo().await;
    let mut listener = client(dir.path(), &[port_a, port_b], &target).await;
    listener.wait_event("ready").await;

    let early = post(&format!("{}/moving/hook", on(port_b)), &numbered(0)).await;
    assert_eq!(early.status, 202, "nobody on B: queued");
    let late = post(&format!("{}/moving/hook", on(port_a)), &numbered(1)).await;
    assert_eq!(late.status, 200);
    assert_eq!(target.next_request().await.body, numbered(1));

    a.signal("KILL");
    a.exit().await;
    link(&mut listener, "connected").await;
    assert_eq!(target.next_request().await.body, numbered(0));
    let counts = history_counts(dir.path()).await;
    assert_eq!(counts, [(0, 1), (1, 1)].into());
}

/// A relay resends a queued delivery the client saved but whose ack it
/// never got (here: B holds a copy of A's buffer, as a cluster's shared
/// buffer would). The client acknowledges it again without forwarding it
/// or saving it twice, and B's buffer empties.
#[tokio::test]
async fn a_delivery_resent_over_another_relay_is_not_recorded_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let (a, port_a) = relay(dir.path(), &data_a, 0).await;
    let sent = post(&format!("{}/moving/hook", on(port_a)), &numbered(0)).await;
    assert_eq!(sent.status, 202, "nobody listening: queued");
    a.signal("TERM");
    a.exit().await;
    copy_dir(&data_a, &data_b);
    let (a, port_a) = relay(dir.path(), &data_a, 0).await;
    let (_b, port_b) = relay(dir.path(), &data_b, 0).await;
    let health_b = format!("{}/_hookhole/health", on(port_b));
    assert_eq!(send("GET", &health_b, &[], b"").await.json()["buffered"], 1);

    let mut target = TestTarget::echo().await;
    let mut listener = client(dir.path(), &[port_a, port_b], &target).await;
    assert_eq!(target.next_request().await.body, numbered(0));
    listener.wait_event("delivery").await;
    a.signal("KILL");
    a.exit().await;
    link(&mut listener, "connected").await;
    within("B's copy to be acknowledged", async {
        while send("GET", &health_b, &[], b"").await.json()["buffered"] != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // A webhook after the resend arrives, and is the only other request.
    let sent = post(&format!("{}/moving/hook", on(port_b)), &numbered(1)).await;
    assert_eq!(sent.status, 200);
    assert_eq!(
        target.next_request().await.body,
        numbered(1),
        "the resent delivery was not forwarded again"
    );
    let counts = history_counts(dir.path()).await;
    assert_eq!(counts, [(0, 1), (1, 1)].into());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// `relay` in the config file may be a list, and `HOOKHOLE_RELAY` a
/// comma-separated one: a relay that is down costs one attempt, the next
/// one takes the client.
#[tokio::test]
async fn the_config_file_and_the_environment_take_a_list_of_relays() {
    let dir = tempfile::tempdir().unwrap();
    let (_b, port_b) = relay(dir.path(), &dir.path().join("b"), 0).await;
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let target = TestTarget::echo().await;
    let list = format!("\"{}\", \"{}\"", on(down), on(port_b));
    for from_env in [false, true] {
        let mut cmd = hookhole(dir.path());
        cmd.args(["listen", "--no-tui", "--forward", &target.url()]);
        let file = if from_env {
            cmd.env("HOOKHOLE_RELAY", format!("{},{}", on(down), on(port_b)));
            "[listen]\nchannel = \"moving\"\n".to_string()
        } else {
            format!("[listen]\nrelay = [{list}]\nchannel = \"moving\"\n")
        };
        std::fs::write(dir.path().join("hookhole.toml"), file).unwrap();
        let mut listener = Proc::spawn(cmd);
        let failed = listener.next_json().await;
        assert_eq!(
            (&failed["state"], &failed["relay"], &failed["next_relay"]),
            (
                &Value::from("reconnecting"),
                &Value::from(on(down)),
                &Value::from(on(port_b))
            ),
            "{failed}"
        );
        let ready = listener.wait_event("ready").await;
        assert_eq!(ready["relay"], on(port_b), "{ready}");
        listener.signal("INT");
        assert_eq!(listener.exit().await.0, Some(0));
    }
}

#[tokio::test]
async fn a_bad_relay_anywhere_in_the_list_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = "http://127.0.0.1:1";
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (
            &["--relay", good, "--relay", "http://127.0.0.1:99999"],
            None,
            "--relay http://127.0.0.1:99999: invalid port \"99999\"",
        ),
        (
            &[],
            Some("[listen]\nrelay = [\"http://127.0.0.1:1\", \"ftp://relay.example.com\"]\n"),
            "relay ftp://relay.example.com: expected an http:// or https:// URL",
        ),
        (
            &["--relay", "http://127.0.0.1:1,ws://:8080"],
            None,
            "--relay ws://:8080: missing host",
        ),
        (
            &["--relay", "http://127.0.0.1:1,,http://127.0.0.1:2"],
            None,
            "--relay \"\": expected an http:// or https:// URL",
        ),
    ];
    for (args, file, expect) in cases {
        let config = dir.path().join("hookhole.toml");
        std::fs::write(&config, file.unwrap_or("")).unwrap();
        let mut cmd = hookhole(dir.path());
        cmd.args(["listen", "--forward", "3000", "--port", "0"])
            .args(args);
        let (code, stdout, stderr) = run(cmd).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stdout, "");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}
