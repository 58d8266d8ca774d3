//! Other local users and processes are attackers too, and a damaged or
//! read-only data dir must lose nothing more: the embedded relay admits
//! only its own listener, the data dir is owner-only, a damaged history is
//! refused and left as it was, a read-only one can still be read.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, hookhole, listening, run};
use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Starts `hookhole listen` on the embedded relay in `dir`; returns it and
/// its ready event.
async fn listen(dir: &Path, target: &TestTarget) -> (Proc, serde_json::Value) {
    let mut cmd = hookhole(dir);
    cmd.args(["listen", "--forward", &target.url(), "--port", "0"]);
    let mut proc = Proc::spawn(cmd);
    let ready = proc.wait_event("ready").await;
    (proc, ready)
}

#[tokio::test]
async fn the_embedded_relay_admits_only_its_own_listener_and_senders_need_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TestTarget::echo().await;
    let (mut listener, ready) = listen(dir.path(), &target).await;
    let public_url = ready["public_url"].as_str().unwrap().to_string();
    let channel = ready["channel"].as_str().unwrap().to_string();
    let relay_url = public_url.trim_end_matches(&format!("/{channel}"));

    // Another local process can neither join the listener's channel nor
    // open one of its own, with no token or a guessed one.
    assert!(
        refusal(relay_url, Some(&channel), None)
            .await
            .contains("requires a token")
    );
    assert!(
        refusal(relay_url, None, None)
            .await
            .contains("requires a token")
    );
    assert!(
        refusal(relay_url, Some(&channel), Some("guessed-token-0123456789"))
            .await
            .contains("not accepted")
    );

    // Senders are not clients: webhooks still arrive and are answered by
    // the local server, and `trigger` finds the listener.
    let sent = post(&format!("{public_url}/hooks"), b"{\"n\":1}").await;
    assert_eq!(sent.status, 200);
    assert_eq!(target.next_request().await.target, "/hooks");
    assert_eq!(listener.wait_event("delivery").await["status"], 200);

    let mut trigger = hookhole(dir.path());
    trigger.args(["trigger", "stripe", "--secret", "stripe=whsec_local"]);
    let (code, stdout, stderr) = run(trigger).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("-> 200 OK"), "{stdout}");
    assert_eq!(listener.wait_event("delivery").await["status"], 200);

    listener.signal("INT");
    let (code, stderr) = listener.exit().await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn the_listener_rejoins_its_embedded_relay_with_the_token_it_was_given() {
    let relay = hookhole::embedded::start(0, None, None).await.unwrap();
    let target = TestTarget::echo().await;
    let mut config = engine_config(&relay.url(), None, &target.url());
    config.token = Some(relay.token.clone());
    let first = TestClient::start_with(config).await;
    let channel = first.channel.clone();
    first.stop().await.unwrap();

    // What a reconnect sends: the same token, the channel it was given.
    let mut again = engine_config(&relay.url(), Some(&channel), &target.url());
    again.token = Some(relay.token.clone());
    let second = TestClient::start_with(again).await;
    assert_eq!(second.channel, channel);
    assert_eq!(
        post(&format!("{}/x", second.public_url), b"{}")
            .await
            .status,
        200
    );
    second.stop().await.unwrap();
    relay.stop().await;
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn every_file_in_the_data_dir_is_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let target = TestTarget::echo().await;
    let (mut listener, ready) = listen(dir.path(), &target).await;
    let public_url = ready["public_url"].as_str().unwrap();
    // A large body, kept in the history's log with its delivery.
    let big = vec![b'x'; 100 * 1024];
    assert_eq!(post(&format!("{public_url}/x"), &big).await.status, 200);
    listener.wait_event("delivery").await;

    let data = dir.path().join("data/hookhole");
    let mut stat = std::process::Command::new("stat");
    stat.args(["-c", "%a %n"])
        .arg(&data)
        .arg(data.join("history-log"));
    for name in ["channels.json", "listeners.json", "history.sqlite"] {
        stat.arg(data.join(name));
    }
    let out = stat.output().unwrap();
    let lines = String::from_utf8(out.stdout).unwrap();
    let modes: Vec<&str> = lines
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(modes, ["700", "700", "600", "600", "600"], "{lines}");
    let mut logged = 0;
    for entry in std::fs::read_dir(data.join("history-log")).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        logged += std::fs::metadata(&path).unwrap().len();
    }
    assert!(logged > big.len() as u64, "{logged}");
    listener.signal("INT");
    listener.exit().await;
}

/// Every file under `dir` (not recursing), name to bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// A data dir whose history holds one delivery, left by a listener that
/// was killed: its `-wal` and `-shm` files are still there.
async fn history_of_a_killed_listener(dir: &Path) -> PathBuf {
    let target = TestTarget::echo().await;
    let (mut listener, ready) = listen(dir, &target).await;
    let public_url = ready["public_url"].as_str().unwrap();
    assert_eq!(post(&format!("{public_url}/x"), b"{}").await.status, 200);
    listener.wait_event("delivery").await;
    listener.signal("KILL");
    listener.exit().await;
    let data = dir.join("data/hookhole");
    assert!(data.join("history.sqlite-wal").exists());
    data
}

#[tokio::test]
async fn a_damaged_history_is_refused_with_what_to_do_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let data = history_of_a_killed_listener(dir.path()).await;
    let db = data.join("history.sqlite");
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[..100].copy_from_slice(&[0x5a; 100]);
    std::fs::write(&db, bytes).unwrap();
    let before = snapshot(&data);
    assert!(
        before.contains_key("history.sqlite-wal"),
        "{:?}",
        before.keys()
    );

    let target = TestTarget::echo().await;
    for args in [
        vec!["listen", "--forward", &target.url(), "--port", "0"],
        vec!["history"],
        vec!["export", "--format", "json"],
    ] {
        let mut cmd = hookhole(dir.path());
        cmd.args(&args);
        let (code, stdout, stderr) = run(cmd).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("is damaged"), "{stderr}");
        assert!(
            stderr.contains(&format!("mv '{}'", db.display())),
            "{stderr}"
        );
        assert!(stderr.contains("-wal"), "{stderr}");
        assert_eq!(snapshot(&data), before, "{args:?} changed the data dir");
    }
}

#[tokio::test]
async fn a_history_damaged_inside_a_page_is_refused_with_what_to_do_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    // A data dir the suggested command must quote.
    let data = dir.path().join("my data");
    let target = TestTarget::echo().await;
    let data_arg = data.to_str().unwrap();
    let (mut listener, public_url) = listening(
        hookhole(dir.path()),
        &["--forward", &target.url(), "--data-dir", data_arg],
    )
    .await;
    for n in 0..60 {
        let body = format!("{n:04}").repeat(1000);
        assert_eq!(
            post(&format!("{public_url}/x"), body.as_bytes())
                .await
                .status,
            200
        );
        listener.wait_event("delivery").await;
    }
    listener.signal("INT");
    assert_eq!(listener.exit().await.0, Some(0));
    // Everything in the main file, as after a clean stop; then garbage in
    // the middle of it, where the header check cannot see it.
    let db = data.join("history.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 4096 * 8, "{}", bytes.len());
    bytes[4096 * 5..4096 * 6].fill(0x5a);
    std::fs::write(&db, &bytes).unwrap();
    // And a write not yet copied into it, as a killed listener leaves: a
    // connection closing as the last one would copy it into the damaged
    // file and delete the -wal file.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .unwrap();
    conn.execute_batch("CREATE TABLE only_in_the_wal (x); INSERT INTO only_in_the_wal VALUES (1);")
        .unwrap();
    drop(conn);
    assert!(
        std::fs::metadata(data.join("history.sqlite-wal"))
            .unwrap()
            .len()
            > 0
    );
    // SQLite's -wal and -shm files, when a reader or writer opens the file,
    // start empty: they carry nothing, and are left out of the comparison.
    let kept = |dir: &Path| {
        let mut files = snapshot(dir);
        files.remove("history.sqlite-shm");
        files
            .remove_entry("history.sqlite-wal")
            .filter(|(_, wal)| !wal.is_empty());
        files
    };
    let before = kept(&data);

    let quoted = |path: &Path| format!("'{}'", path.display());
    let data_dir = data.to_str().unwrap();
    for args in [
        vec![
            "listen",
            "--forward",
            &target.url(),
            "--port",
            "0",
            "--data-dir",
            data_dir,
        ],
        vec!["history", "--data-dir", data_dir],
        vec!["export", "--format", "json", "--data-dir", data_dir],
    ] {
        let mut cmd = hookhole(dir.path());
        cmd.args(&args);
        let (code, stdout, stderr) = run(cmd).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("is damaged"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "`mkdir {aside} && mv {db} ",
                aside = quoted(&data.join("history-damaged")),
                db = quoted(&db)
            )),
            "{args:?}: {stderr}"
        );
        assert_eq!(kept(&data), before, "{args:?} changed the data dir");
    }
}

/// Whether this process runs as root, for whom file modes do not stop
/// anything.
fn running_as_root(dir: &Path) -> bool {
    std::fs::metadata(dir).unwrap().uid() == 0
}

#[tokio::test]
async fn a_read_only_data_dir_can_be_read_and_the_writing_commands_say_it_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    // With its -wal file, and its log, which may hold the last delivery
    // before the index does.
    let data = history_of_a_killed_listener(dir.path()).await;

    // Root ignores modes: then the commands run as `nobody`, who owns the
    // data dir, through setpriv (util-linux).
    let as_root = running_as_root(dir.path());
    if as_root {
        if std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: running as root without setpriv, modes cannot be tested");
            return;
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for path in [dir.path().join("data"), data.clone()] {
            std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        }
        for entry in std::fs::read_dir(&data).unwrap() {
            let path = entry.unwrap().path();
            std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
            if path.is_dir() {
                for inner in std::fs::read_dir(&path).unwrap() {
                    std::os::unix::fs::chown(inner.unwrap().path(), Some(65534), Some(65534))
                        .unwrap();
                }
            }
        }
    }
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o500)).unwrap();
    // The -shm file is SQLite's shared-memory index of the -wal file, which
    // every reader may rebuild; everything else must stay as it was.
    let kept = |dir: &Path| {
        let mut files = snapshot(dir);
        files.remove("history.sqlite-shm");
        files
    };
    let before = kept(&data);
    let command = |args: &[&str]| {
        let mut cmd = hookhole(dir.path());
        if as_root {
            // The same isolation as `hookhole()`, through setpriv.
            cmd = tokio::process::Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(env!("CARGO_BIN_EXE_hookhole"))
                .current_dir(dir.path())
                .env("XDG_DATA_HOME", dir.path().join("data"))
                .env("XDG_CONFIG_HOME", dir.path().join("config"))
                .env("HOME", dir.path())
                .env("NO_COLOR", "1")
                .env_remove("RUST_LOG");
            for (key, _) in std::env::vars() {
                if key.starts_with("HOOKHOLE_") {
                    cmd.env_remove(key);
                }
            }
        }
        cmd.args(args);
        cmd
    };

    let (code, stdout, stderr) = run(command(&["history"])).await;
    assert_eq!(code, Some(0), "{stderr}");
    let id = stdout.lines().nth(1).unwrap().split(' ').next().unwrap();
    let (code, stdout, stderr) = run(command(&["show", id])).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(id), "{stdout}");
    let (code, stdout, stderr) = run(command(&["export", "--format", "json"])).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(id), "{stdout}");

    // The commands that write say why they cannot.
    for args in [
        vec!["listen", "--forward", "3000", "--port", "0"],
        vec!["replay", id, "--forward", "3000"],
    ] {
        let (code, _, stderr) = run(command(&args)).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("the data dir {} is not writable", data.display())),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("cannot create"), "{stderr}");
    }
    assert_eq!(kept(&data), before);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
}
