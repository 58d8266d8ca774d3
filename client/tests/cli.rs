//! The real `hookhole` binary: one command with the embedded relay, JSON
//! lines on stdout, configuration, exit codes, a relay process and Ctrl-C.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, hookhole, run};
use common::*;

#[tokio::test]
async fn one_command_starts_an_embedded_relay_and_prints_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TestTarget::echo().await;
    let mut cmd = hookhole(dir.path());
    cmd.args(["listen", "--forward", &target.url(), "--port", "0"]);
    let mut proc = Proc::spawn(cmd);

    let ready = proc.next_json().await;
    assert_eq!(ready["event"], "ready");
    assert_eq!(ready["listeners"], 1);
    let public_url = ready["public_url"].as_str().unwrap().to_string();
    let channel = ready["channel"].as_str().unwrap();
    assert!(public_url.starts_with("http://127.0.0.1:"), "{public_url}");
    assert!(public_url.ends_with(&format!("/{channel}")), "{public_url}");

    let sent = post(&format!("{public_url}/orders?id=7"), b"{\"ok\":true}").await;
    assert_eq!(sent.status, 200);
    assert_eq!(target.next_request().await.target, "/orders?id=7");
    let delivery = proc.wait_event("delivery").await;
    assert_eq!(delivery["attempt"], 1);
    assert_eq!(delivery["method"], "POST");
    assert_eq!(delivery["path"], "/orders");
    assert_eq!(delivery["query"], "id=7");
    assert_eq!(delivery["status"], 200);
    assert_eq!(delivery["error"], serde_json::Value::Null);
    assert_eq!(delivery["body_bytes"], 11);
    assert!(delivery["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(delivery["duration_ms"].is_u64());

    // Ctrl-C: a clean exit, and the channel was remembered in the data dir.
    proc.signal("INT");
    let (code, stderr) = proc.exit().await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("send webhooks to"), "{stderr}");
    let remembered =
        std::fs::read_to_string(dir.path().join("data/hookhole/channels.json")).unwrap();
    assert!(remembered.contains(channel), "{remembered}");
}

#[tokio::test]
async fn the_embedded_relay_falls_back_to_a_free_port_when_its_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let target = TestTarget::echo().await;
    let mut cmd = hookhole(dir.path());
    cmd.args([
        "listen",
        "--forward",
        &target.url(),
        "--port",
        &port.to_string(),
    ]);
    let mut proc = Proc::spawn(cmd);
    let ready = proc.wait_event("ready").await;
    let public_url = ready["public_url"].as_str().unwrap();
    assert!(!public_url.contains(&format!(":{port}/")), "{public_url}");
    assert_eq!(post(&format!("{public_url}/x"), b"{}").await.status, 200);
    proc.signal("INT");
    let (_, stderr) = proc.exit().await;
    assert!(
        stderr.contains(&format!("port {port} is in use")),
        "{stderr}"
    );
}

#[tokio::test]
async fn bad_flags_and_config_are_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.toml"), "[listen\nforward = 1").unwrap();
    std::fs::write(
        dir.path().join("typo.toml"),
        "[listen]\nfrward = \"3000\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("answer.toml"),
        "[listen]\nforward = 3000\nanswer = \"now=500\"\n",
    )
    .unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["listen", "--forward", "3000", "--answer", "later"],
            "unknown answer mode \"later\": use local, now, now=STATUS (200-299) or within=DURATION",
        ),
        (
            vec!["listen", "--forward", "3000", "--answer", "within=0s"],
            "within=0s: the wait must be longer than 0",
        ),
        (
            vec!["--config", "answer.toml", "listen"],
            "answer in the config file: now=500: the status must be a success, 200-299",
        ),
        (vec!["listen", "--bogus"], "--bogus"),
        (vec!["listen"], "--forward is required"),
        (
            vec!["listen", "--forward", "https://localhost:3000"],
            "https",
        ),
        (
            vec!["listen", "--forward", "3000", "--channel", "Not Valid"],
            "--channel",
        ),
        (
            vec!["listen", "--forward", "3000", "--port", "99999"],
            "99999",
        ),
        (
            vec!["listen", "--forward", "3000", "--forward-timeout", "soon"],
            "invalid duration",
        ),
        (
            vec!["--config", "broken.toml", "listen"],
            "invalid config file",
        ),
        (
            vec!["--config", "typo.toml", "listen"],
            "unknown field `frward`",
        ),
        (
            vec!["--config", "missing.toml", "listen"],
            "cannot read config file",
        ),
        (vec!["relay", "--listen", "nowhere"], "--listen"),
        (
            vec!["relay", "--listen", "0.0.0.0:0"],
            "refusing to listen on 0.0.0.0:0 without tokens",
        ),
        (vec!["relay", "--token", "short"], "at least 16 characters"),
        (vec!["relay", "--tls-cert", "cert.pem"], "--tls-key"),
        (
            vec!["relay", "--trusted-proxy", "nginx"],
            "not an IP address or range",
        ),
    ];
    for (args, expect) in cases {
        let mut cmd = hookhole(dir.path());
        cmd.args(&args);
        let (code, stdout, stderr) = run(cmd).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains(expect),
            "{args:?}: expected {expect:?} in {stderr}"
        );
    }
    for args in [
        vec!["--help"],
        vec!["listen", "--help"],
        vec!["relay", "--help"],
    ] {
        let mut cmd = hookhole(dir.path());
        cmd.args(&args);
        let (code, stdout, _) = run(cmd).await;
        assert_eq!(code, Some(0), "{args:?}");
        assert!(stdout.contains("Usage:"), "{args:?}: {stdout}");
    }
}

#[tokio::test]
async fn settings_come_from_the_config_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TestTarget::echo().await;
    // ./hookhole.toml in the working directory is found without --config.
    std::fs::write(
        dir.path().join("hookhole.toml"),
        format!(
            "[listen]\nforward = \"{}/from-file\"\nport = 0\nchannel = \"filechan\"\n",
            target.url()
        ),
    )
    .unwrap();
    let mut proc = Proc::spawn({
        let mut cmd = hookhole(dir.path());
        cmd.arg("listen");
        cmd
    });
    let ready = proc.wait_event("ready").await;
    assert_eq!(ready["channel"], "filechan");
    let url = ready["public_url"].as_str().unwrap().to_string();
    post(&format!("{url}/x"), b"{}").await;
    assert_eq!(target.next_request().await.target, "/from-file/x");
    proc.signal("INT");
    proc.exit().await;

    // The environment beats the file.
    let mut cmd = hookhole(dir.path());
    cmd.arg("listen")
        .env("HOOKHOLE_FORWARD", format!("{}/from-env", target.url()))
        .env("HOOKHOLE_CHANNEL", "envchan");
    let mut proc = Proc::spawn(cmd);
    let ready = proc.wait_event("ready").await;
    assert_eq!(ready["channel"], "envchan");
    let url = ready["public_url"].as_str().unwrap().to_string();
    post(&format!("{url}/x"), b"{}").await;
    assert_eq!(target.next_request().await.target, "/from-env/x");
}

#[tokio::test]
async fn a_relay_process_stops_on_ctrl_c_and_the_client_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let target = TestTarget::echo().await;
    let mut relay_cmd = hookhole(dir.path());
    relay_cmd.args(["relay", "--listen", "127.0.0.1:0"]);
    let mut relay = Proc::spawn(relay_cmd);
    let listening = relay.wait_event("listening").await;
    let relay_url = listening["public_url"].as_str().unwrap().to_string();

    let mut client_cmd = hookhole(dir.path());
    client_cmd.args([
        "listen",
        "--relay",
        &relay_url,
        "--channel",
        "proc",
        "--forward",
        &target.url(),
    ]);
    let mut client = Proc::spawn(client_cmd);
    let ready = client.wait_event("ready").await;
    assert_eq!(ready["public_url"], format!("{relay_url}/proc"));
    assert_eq!(
        post(&format!("{relay_url}/proc/x"), b"{}").await.status,
        200
    );

    relay.signal("INT");
    let (code, stderr) = relay.exit().await;
    assert_eq!(code, Some(0), "{stderr}");
    let lost = client.wait_event("connection").await;
    assert_eq!(lost["state"], "reconnecting");
    assert!(
        lost["reason"]
            .as_str()
            .unwrap()
            .contains("relay shutting down"),
        "{lost}"
    );
    assert!(lost["retry_in_ms"].as_u64().unwrap() <= 30_000);
}

#[tokio::test]
async fn secrets_from_a_file_verify_deliveries_in_the_json_lines() {
    use hmac::{Hmac, Mac};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gh-secret"), "file-secret-value\n").unwrap();
    let target = TestTarget::echo().await;
    let mut cmd = hookhole(dir.path());
    cmd.args([
        "listen",
        "--forward",
        &target.url(),
        "--port",
        "0",
        "--secret",
        "github=@gh-secret",
    ]);
    let mut proc = Proc::spawn(cmd);
    let url = proc.wait_event("ready").await["public_url"]
        .as_str()
        .unwrap()
        .to_string();

    let body = br#"{"zen":"Keep it logically awesome."}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"file-secret-value").unwrap();
    mac.update(body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    send(
        "POST",
        &format!("{url}/gh"),
        &[("x-hub-signature-256", &signature)],
        body,
    )
    .await;
    let d = proc.wait_event("delivery").await;
    assert_eq!(d["signature"]["scheme"], "github");
    assert_eq!(d["signature"]["status"], "valid", "{d}");

    send(
        "POST",
        &format!("{url}/gh"),
        &[("x-hub-signature-256", &signature)],
        b"{}",
    )
    .await;
    let d = proc.wait_event("delivery").await;
    assert_eq!(d["signature"]["status"], "invalid", "{d}");
    proc.signal("INT");
    let (_, stderr) = proc.exit().await;
    assert!(
        !stderr.contains("file-secret-value"),
        "the secret leaked to the log: {stderr}"
    );
}

#[tokio::test]
async fn verify_exits_0_only_for_a_valid_signature() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("body"), "Hello, World!").unwrap();
    let header = "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let cases: Vec<(&str, Option<i32>, &str)> = vec![
        ("github=It's a Secret to Everybody", Some(0), "valid"),
        ("github=another secret entirely", Some(1), "invalid"),
        ("stripe=whsec_not_for_github", Some(1), "no_secret"),
    ];
    for (secret, code, status) in cases {
        let mut cmd = hookhole(dir.path());
        cmd.args([
            "verify",
            "--secret",
            secret,
            "-H",
            header,
            "--body-file",
            "body",
        ]);
        let (got, stdout, stderr) = run(cmd).await;
        assert_eq!(got, code, "{secret}: {stderr}");
        let verdict: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(verdict["status"], status, "{secret}");
        assert!(
            !stdout.contains("Everybody") && !stderr.contains("It's a Secret"),
            "secret shown"
        );
    }
    let mut cmd = hookhole(dir.path());
    cmd.args(["verify", "--secret", "gitbub=x", "--body-file", "body"]);
    let (code, _, stderr) = run(cmd).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("did you mean \"github\""), "{stderr}");
}

#[tokio::test]
async fn providers_lists_every_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hookhole(dir.path());
    cmd.args(["providers", "--json"]);
    let (code, stdout, _) = run(cmd).await;
    assert_eq!(code, Some(0));
    let presets: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    let ids: std::collections::BTreeSet<&str> =
        presets.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert!(ids.len() >= 20, "{ids:?}");
    let mut cmd = hookhole(dir.path());
    cmd.args(["providers", "maple"]);
    let (code, stdout, _) = run(cmd).await;
    assert_eq!(code, Some(0));
    assert!(stdout.contains("subscription_id"), "{stdout}");
    let mut cmd = hookhole(dir.path());
    cmd.args(["providers", "nope"]);
    assert_eq!(run(cmd).await.0, Some(2));
}

#[tokio::test]
async fn user_presets_in_the_config_file_verify_and_are_listed() {
    use hmac::{Hmac, Mac};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hookhole.toml"),
        r#"
[[preset]]
id = "acme"
name = "Acme Corp"
secret_hint = "the Acme webhook secret"
header = "X-Acme-Signature"
prefix = "sha256="
template = "{timestamp}.{body}"
timestamp = { source = "header:X-Acme-Timestamp", unit = "s", tolerance_s = 300 }
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("body"), "{\"order\":1}").unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"acme-secret-1").unwrap();
    mac.update(b"1767225600.{\"order\":1}");
    let signature = format!(
        "X-Acme-Signature: sha256={}",
        hex::encode(mac.finalize().into_bytes())
    );
    let verify = |secret: &str| {
        let mut cmd = hookhole(dir.path());
        cmd.args([
            "verify",
            "--secret",
            secret,
            "-H",
            &signature,
            "-H",
            "X-Acme-Timestamp: 1767225600",
        ]);
        cmd.args(["--body-file", "body", "--now", "1767225630"]);
        cmd
    };
    let (code, stdout, stderr) = run(verify("acme=acme-secret-1")).await;
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(
        stdout.contains(r#""scheme":"acme","status":"valid""#),
        "{stdout}"
    );
    let (code, stdout, _) = run(verify("acme=another-secret")).await;
    assert_eq!(code, Some(1));
    assert!(stdout.contains(r#""status":"invalid""#), "{stdout}");

    let mut cmd = hookhole(dir.path());
    cmd.args(["providers"]);
    let (code, stdout, _) = run(cmd).await;
    assert_eq!(code, Some(0));
    assert!(stdout.lines().any(|l| l.starts_with("acme ")), "{stdout}");

    std::fs::write(
        dir.path().join("hookhole.toml"),
        "[[preset]]\nid = \"Bad Id\"\nname = \"x\"\nsecret_hint = \"x\"\n",
    )
    .unwrap();
    let mut cmd = hookhole(dir.path());
    cmd.args(["providers"]);
    let (code, _, stderr) = run(cmd).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("[[preset]]"), "{stderr}");
}

#[tokio::test]
async fn a_self_signed_https_relay_works_with_insecure_and_is_refused_without() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay_cmd = hookhole(dir.path());
    relay_cmd.args(["relay", "--listen", "127.0.0.1:0", "--tls-self-signed"]);
    let mut relay = Proc::spawn(relay_cmd);
    let (listening, port) = relay.listening().await;
    assert!(
        listening["public_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let url = format!("https://localhost:{port}");
    let target = TestTarget::echo().await;

    let mut trusting = hookhole(dir.path());
    trusting.args([
        "listen",
        "--no-tui",
        "--relay",
        &url,
        "--insecure",
        "--channel",
        "tls",
        "--forward",
        &target.url(),
    ]);
    let mut client = Proc::spawn(trusting);
    assert_eq!(
        client.wait_event("ready").await["public_url"],
        format!("{url}/tls")
    );

    let mut strict = hookhole(dir.path());
    strict.args([
        "listen",
        "--no-tui",
        "--relay",
        &url,
        "--channel",
        "tls2",
        "--forward",
        &target.url(),
    ]);
    let mut refused = Proc::spawn(strict);
    let event = refused.wait_event("connection").await;
    assert!(
        event["reason"].as_str().unwrap().contains("certificate"),
        "{event}"
    );
}
