//! Tokens never leave the processes that hold them: not in logs at the most
//! verbose level, not in the relay's data dir, not in the client's history.

#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, hookhole};
use common::*;
use std::path::Path;

const GOOD: &str = "good-token-4f9c2a7e1b";
const WRONG: &str = "wrong-token-8d3e6f0a5c";

/// Every file under `dir`, read as bytes, that contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(path.display().to_string());
        }
    }
    found
}

#[tokio::test]
async fn tokens_appear_in_no_log_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = hookhole(dir.path());
    relay
        .args(["relay", "--listen", "127.0.0.1:0", "--token", GOOD])
        .args(["--data-dir", "relay-data"])
        .env("RUST_LOG", "trace");
    let mut relay = Proc::spawn(relay);
    let url = relay.wait_event("listening").await["public_url"]
        .as_str()
        .unwrap()
        .to_string();

    let target = TestTarget::echo().await;
    let mut client = hookhole(dir.path());
    client
        .args(["listen", "--no-tui", "--channel", "secret-chan"])
        .args(["--relay", &url, "--forward", &target.url()])
        .env("HOOKHOLE_TOKEN", GOOD)
        .env("RUST_LOG", "trace");
    let mut client = Proc::spawn(client);
    let ready = client.wait_event("ready").await;
    let public_url = ready["public_url"].as_str().unwrap().to_string();
    assert_eq!(post(&format!("{public_url}/x"), b"{}").await.status, 200);
    assert_eq!(client.wait_event("delivery").await["status"], 200);

    // A client with the wrong token is refused, and the refusal does not
    // repeat the token it was given.
    let mut intruder = hookhole(dir.path());
    intruder
        .args(["listen", "--no-tui", "--channel", "secret-chan"])
        .args(["--relay", &url, "--forward", &target.url()])
        .args(["--data-dir", "intruder-data", "--token", WRONG])
        .env("RUST_LOG", "trace");
    let intruder = Proc::spawn(intruder);
    let (code, intruder_err) = intruder.exit().await;
    assert_ne!(code, Some(0), "{intruder_err}");
    assert!(intruder_err.contains("not accepted"), "{intruder_err}");

    relay.signal("TERM");
    let (_, relay_err) = relay.exit().await;
    client.signal("INT");
    let (_, client_err) = client.exit().await;
    for (what, text) in [("relay", &relay_err), ("client", &client_err)] {
        assert!(!text.is_empty(), "{what} logged nothing at trace level");
        assert!(!text.contains(GOOD), "{what} logged the token:\n{text}");
        assert!(!text.contains(WRONG), "{what} logged the wrong token");
    }
    assert!(!intruder_err.contains(WRONG), "{intruder_err}");
    assert_eq!(files_containing(dir.path(), GOOD), Vec::<String>::new());
    assert_eq!(files_containing(dir.path(), WRONG), Vec::<String>::new());
}
