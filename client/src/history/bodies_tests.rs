//! Bodies kept in files beside the database, through the history store.

use super::bodies::{DIR_NAME, INLINE_MAX};
use super::{Attempt, History, Keep};
use crate::delivery::{Kind, Outcome};
use bytes::Bytes;
use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::Verdict;
use std::path::Path;
use std::time::{Duration, SystemTime};

fn delivery(id: &str, seq: u64, body: Vec<u8>) -> Delivery {
    Delivery {
        id: id.into(),
        seq,
        received_at_ms: 1_800_000_000_000 + seq,
        method: "POST".into(),
        path: "/big".into(),
        query: None,
        headers: Vec::new(),
        body_blake3: String::new(),
        url: "https://relay/ch/big".into(),
        queued: false,
        body: Bytes::from(body),
    }
}

fn attempt(number: u32, response: Vec<u8>, sent: Option<Vec<u8>>) -> Attempt {
    let outcome = Outcome::Answered {
        status: 200,
        headers: Vec::new(),
        body: Bytes::from(response),
    };
    Attempt {
        duration_ms: Some(2),
        request_headers: sent.as_ref().map(|_| Vec::new()),
        request_body: sent,
        ..Attempt::new(Kind::Original, number, 1, outcome)
    }
}

fn unsigned() -> Verdict {
    super::store::unverified()
}

/// Distinct bytes, so a body read from the wrong file or place shows.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn files(data_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data_dir.join(DIR_NAME)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn age(data_dir: &Path, by: Duration) {
    for name in files(data_dir) {
        let file = std::fs::File::options()
            .write(true)
            .open(data_dir.join(DIR_NAME).join(name))
            .unwrap();
        file.set_modified(SystemTime::now() - by).unwrap();
    }
}

#[test]
fn large_bodies_live_in_private_files_and_come_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::default()).unwrap();
    let request = bytes(INLINE_MAX + 1, 1);
    let response = bytes(300 * 1024, 2);
    let sent = bytes(200 * 1024, 3);
    history
        .record_delivery("ch", &delivery("big", 1, request.clone()), &unsigned())
        .unwrap();
    history
        .record_attempt("big", &attempt(1, response.clone(), None))
        .unwrap();
    history
        .record_attempt("big", &attempt(2, b"ok".to_vec(), Some(sent.clone())))
        .unwrap();
    // At the limit, a body stays in its row.
    let small = bytes(INLINE_MAX, 4);
    history
        .record_delivery("ch", &delivery("small", 2, small.clone()), &unsigned())
        .unwrap();

    let got = history.get("big").unwrap();
    assert_eq!(got.delivery.body.as_ref(), &request[..]);
    assert_eq!(got.attempts[0].outcome.body(), response);
    assert_eq!(got.attempts[1].outcome.body(), b"ok");
    assert_eq!(got.attempts[1].request_body.as_deref(), Some(&sent[..]));
    assert_eq!(
        history.get("small").unwrap().delivery.body.as_ref(),
        &small[..]
    );
    assert_eq!(files(dir.path()).len(), 3, "one file per large body");
    // A listing gives the size without reading the file.
    let listed = history.summaries(10, false).unwrap();
    assert_eq!(listed[0].id, "big");
    assert_eq!(listed[0].body_bytes, request.len() as u64);

    // The rows hold empty blobs: the bytes are in the files only.
    let conn = rusqlite::Connection::open(dir.path().join(super::FILE_NAME)).unwrap();
    let inline: i64 = conn
        .query_row(
            "SELECT length(body) FROM deliveries WHERE id = 'big'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(inline, 0);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let folder = dir.path().join(DIR_NAME);
        assert_eq!(mode(&folder), 0o700);
        for name in files(dir.path()) {
            assert_eq!(mode(&folder.join(name)), 0o600);
        }
    }
}

#[test]
fn a_resent_large_delivery_leaves_no_second_file() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::default()).unwrap();
    let d = delivery("big", 1, bytes(100 * 1024, 5));
    assert!(history.record_delivery("ch", &d, &unsigned()).unwrap());
    assert!(!history.record_delivery("ch", &d, &unsigned()).unwrap());
    assert_eq!(files(dir.path()).len(), 1);
}

#[test]
fn pruned_deliveries_take_their_files_and_crash_leftovers_go_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::count_only(1)).unwrap();
    for n in 1..=2 {
        let d = delivery(&format!("d{n}"), n, bytes(100 * 1024, n as u8));
        history.record_delivery("ch", &d, &unsigned()).unwrap();
        history
            .record_attempt(&d.id, &attempt(1, bytes(100 * 1024, 9), None))
            .unwrap();
    }
    // Only the newest delivery is kept; its two files stay.
    assert!(history.get("d1").is_err());
    age(dir.path(), Duration::from_secs(120));
    history.sweep_bodies_if_due();
    assert_eq!(files(dir.path()).len(), 2);
    assert_eq!(history.get("d2").unwrap().delivery.body.len(), 100 * 1024);

    // A file from a write that never committed: young, it may still be
    // about to be named by another process and is left; old, it goes.
    let folder = dir.path().join(DIR_NAME);
    let leftover = "0123456789abcdef0123456789abcdef";
    std::fs::write(folder.join(leftover), b"x").unwrap();
    std::fs::write(folder.join("notes.txt"), b"not ours").unwrap();
    drop(history);
    drop(History::open(dir.path(), Keep::count_only(1)).unwrap());
    assert!(folder.join(leftover).exists());
    age(dir.path(), Duration::from_secs(120));
    drop(History::open(dir.path(), Keep::count_only(1)).unwrap());
    assert!(!folder.join(leftover).exists());
    assert!(
        folder.join("notes.txt").exists(),
        "files not named like ours stay"
    );
    assert_eq!(files(dir.path()).len(), 3);
}

#[test]
fn a_missing_body_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::default()).unwrap();
    history
        .record_delivery("ch", &delivery("big", 1, bytes(100 * 1024, 6)), &unsigned())
        .unwrap();
    history
        .record_attempt("big", &attempt(1, b"ok".to_vec(), None))
        .unwrap();
    let name = files(dir.path()).pop().unwrap();
    std::fs::remove_file(dir.path().join(DIR_NAME).join(&name)).unwrap();
    let error = history.get("big").err().unwrap().to_string();
    assert!(error.contains("cannot read"), "{error}");
    assert!(error.contains(&name), "{error}");
    // The listing still works: it reads no body files.
    let listed = history.summaries(10, false).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, Some(200));
}

/// What the terminal UI loads at start: the newest deliveries within a
/// byte budget, and the others even when one's body file is gone.
#[test]
fn the_recent_deliveries_fit_a_byte_budget_and_survive_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    for n in 1..=3 {
        let d = delivery(&format!("d{n}"), n, bytes(100 * 1024, n as u8));
        history.record_delivery("ch", &d, &unsigned()).unwrap();
    }
    let ids = |list: Vec<super::StoredDelivery>| -> Vec<String> {
        list.into_iter().map(|d| d.delivery.id).collect()
    };
    assert_eq!(
        ids(history.recent(10, u64::MAX).unwrap()),
        ["d1", "d2", "d3"]
    );
    assert_eq!(ids(history.recent(10, 250 * 1024).unwrap()), ["d2", "d3"]);
    assert_eq!(
        ids(history.recent(10, 1).unwrap()),
        ["d3"],
        "the newest always"
    );

    // d2's body file is removed behind our back.
    let d2 = history.get("d2").unwrap().delivery.body;
    let folder = dir.path().join(DIR_NAME);
    for name in files(dir.path()) {
        if std::fs::read(folder.join(&name)).unwrap() == d2 {
            std::fs::remove_file(folder.join(&name)).unwrap();
        }
    }
    assert_eq!(ids(history.recent(10, u64::MAX).unwrap()), ["d1", "d3"]);
}
