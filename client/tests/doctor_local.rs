//! `hookhole doctor`'s checks on this machine, with the real binary and
//! real local servers: the config file, the forward and route targets,
//! the data dir, the secrets. Each failure it names, with its fix.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::doctor::{check, data_dir, doctor, failed};
use common::*;
use std::os::unix::fs::PermissionsExt as _;

#[tokio::test]
async fn a_config_file_that_does_not_parse_fails_with_its_line_and_the_rest_still_runs() {
    let target = TestTarget::echo().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hookhole.toml"),
        "[listen]\nforward = = 3000\n",
    )
    .unwrap();
    let (code, checks) = doctor(dir.path(), &["--port", "0", "--forward", &target.url()]).await;
    assert_eq!(code, Some(1), "a failed check, not a usage error");
    failed(&checks, "config", "line 2, column", "correct the file");
    assert_eq!(
        check(&checks, "forward")["verdict"],
        "ok",
        "flags still checked"
    );
}

#[tokio::test]
async fn a_forward_target_that_is_down_or_not_http_fails_with_how_to_fix_it() {
    let dead = dead_port().await;
    let dir = tempfile::tempdir().unwrap();
    let forward = format!("http://{dead}");
    let (code, checks) = doctor(dir.path(), &["--port", "0", "--forward", &forward]).await;
    assert_eq!(code, Some(1));
    failed(
        &checks,
        "forward",
        "refused",
        &format!("start your server on {dead} or change --forward"),
    );

    // Something listens, but it does not speak HTTP.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        }
    });
    let target = TestTarget::echo().await;
    let route = format!("path=/x,forward={addr}");
    let args = ["--port", "0", "--forward", &target.url(), "--route", &route];
    let (code, checks) = doctor(dir.path(), &args).await;
    assert_eq!(code, Some(1));
    assert_eq!(check(&checks, "forward")["verdict"], "ok");
    failed(
        &checks,
        "route",
        "not an HTTP server",
        &format!("start your server on {addr}"),
    );
}

#[tokio::test]
async fn a_data_dir_others_can_read_fails_with_the_chmod_that_fixes_it() {
    let target = TestTarget::echo().await;
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let args = [
        "--port",
        "0",
        "--forward",
        &target.url(),
        "--data-dir",
        &data,
    ];
    let (code, checks) = doctor(dir.path(), &args).await;
    assert_eq!(code, Some(1));
    failed(
        &checks,
        "data_dir",
        "readable by others (mode 755)",
        &format!("chmod 700 {data}"),
    );
}

#[tokio::test]
async fn a_secret_naming_an_unknown_provider_fails_suggesting_the_closest() {
    let target = TestTarget::echo().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hookhole.toml"),
        "[listen]\nsecret = [\"githb=from-the-file\"]\n",
    )
    .unwrap();
    let args = [
        "--port",
        "0",
        "--forward",
        &target.url(),
        "--secret",
        "strpe=whsec_x",
    ];
    let (code, checks) = doctor(dir.path(), &args).await;
    assert_eq!(code, Some(1));
    let flag = failed(
        &checks,
        "secret",
        "unknown provider \"strpe\"",
        "hookhole providers",
    );
    assert_eq!(flag["subject"], "--secret strpe");
    assert!(
        flag["detail"]
            .as_str()
            .unwrap()
            .contains("did you mean \"stripe\"")
    );
    let in_file = checks
        .iter()
        .find(|c| c["subject"] == "secret githb")
        .unwrap();
    assert!(
        in_file["detail"]
            .as_str()
            .unwrap()
            .contains("did you mean \"github\""),
        "{in_file}"
    );
    let all = serde_json::to_string(&checks).unwrap();
    assert!(
        !all.contains("whsec_x") && !all.contains("from-the-file"),
        "{all}"
    );
}
