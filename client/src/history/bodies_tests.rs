//! Large bodies: in the log for deliveries saved now, in files beside the
//! database for histories written by older versions (read, and removed
//! with their deliveries).

use super::bodies::{DIR_NAME, INLINE_MAX};
use super::{Attempt, History, Keep};
use crate::delivery::{Kind, Outcome};
use bytes::Bytes;
use hookhole_host::private_files;
use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::Verdict;
use rusqlite::params;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Turns a history of this version (empty) into one of version 4: the
/// last before the log, where rows held small bodies and named the files
/// of large ones.
/// Today's schema back to version 7's: no record of the relay's answer.
pub(super) const DOWN_TO_V7: &str = "
ALTER TABLE deliveries DROP COLUMN heard_status;
ALTER TABLE deliveries DROP COLUMN heard_why;
ALTER TABLE deliveries DROP COLUMN heard_wait_ms;
PRAGMA user_version = 7;
";

/// Today's schema back to version 6's: no routes.
pub(super) const DOWN_TO_V6: &str = "
ALTER TABLE deliveries DROP COLUMN heard_status;
ALTER TABLE deliveries DROP COLUMN heard_why;
ALTER TABLE deliveries DROP COLUMN heard_wait_ms;
ALTER TABLE deliveries DROP COLUMN route;
ALTER TABLE deliveries DROP COLUMN route_name;
PRAGMA user_version = 6;
";

/// Today's schema back to version 5's: no routes, no webhook facts.
pub(super) const DOWN_TO_V5: &str = "
ALTER TABLE deliveries DROP COLUMN heard_status;
ALTER TABLE deliveries DROP COLUMN heard_why;
ALTER TABLE deliveries DROP COLUMN heard_wait_ms;
ALTER TABLE deliveries DROP COLUMN route;
ALTER TABLE deliveries DROP COLUMN route_name;
DROP INDEX deliveries_by_event;
ALTER TABLE deliveries DROP COLUMN provider;
ALTER TABLE deliveries DROP COLUMN event_type;
ALTER TABLE deliveries DROP COLUMN event_id;
ALTER TABLE deliveries DROP COLUMN event_attempt;
ALTER TABLE deliveries DROP COLUMN deadline_ms;
ALTER TABLE deliveries DROP COLUMN duplicate_of;
ALTER TABLE deliveries DROP COLUMN seen;
PRAGMA user_version = 5;
";

/// Version 5's schema back to version 4's (run after [`DOWN_TO_V5`]).
pub(super) const DOWN_TO_V4: &str = "
DROP INDEX attempts_replayed_by_log;
DROP TABLE log_index;
ALTER TABLE deliveries DROP COLUMN log_offset;
ALTER TABLE deliveries DROP COLUMN body_len;
ALTER TABLE attempts DROP COLUMN log_offset;
PRAGMA user_version = 4;
";

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
        answered: false,
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

/// A data dir holding what version 4 wrote: deliveries `d1..=count`, each
/// with a 100 KiB request body and a 100 KiB answer in files of their own.
pub(super) fn written_by_version_4(count: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = History::open(dir.path(), Keep::count_only(100))
        .unwrap()
        .path()
        .to_path_buf();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(DOWN_TO_V5).unwrap();
    conn.execute_batch(DOWN_TO_V4).unwrap();
    private_files::create_dir(&dir.path().join(DIR_NAME)).unwrap();
    for n in 1..=count {
        let (body, answer) = (format!("{n:032x}"), format!("{:032x}", n + 100));
        let folder = dir.path().join(DIR_NAME);
        private_files::write(&folder.join(&body), &bytes(100 * 1024, n as u8)).unwrap();
        private_files::write(&folder.join(&answer), &bytes(100 * 1024, 9)).unwrap();
        conn.execute(
            "INSERT INTO deliveries (pk, id, channel, seq, received_at_ms, method, path, url,
                                     headers, body, verdict, body_file)
             VALUES (?1, ?2, 'ch', ?1, ?3, 'POST', '/big', 'u', '[]', x'', '{}', ?4)",
            params![
                n as i64,
                format!("d{n}"),
                1_800_000_000_000 + n as i64,
                body
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO delivery_ids (pk, id) VALUES (?1, ?2)",
            params![n as i64, format!("d{n}")],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO attempts (delivery, number, kind, started_ms, status, response_headers,
                                   response_body, response_body_file, target)
             VALUES (?1, 1, 'original', 1, 200, '[]', x'', ?2, 'http://127.0.0.1:3000')",
            params![n as i64, answer],
        )
        .unwrap();
    }
    dir
}

#[test]
fn large_bodies_live_in_the_log_and_come_back_exactly() {
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
    let small = bytes(INLINE_MAX, 4);
    history
        .record_delivery("ch", &delivery("small", 2, small.clone()), &unsigned())
        .unwrap();

    let got = History::open_read_only(dir.path())
        .unwrap()
        .get("big")
        .unwrap();
    assert_eq!(got.delivery.body.as_ref(), &request[..]);
    assert_eq!(got.attempts[0].outcome.body(), response);
    assert_eq!(got.attempts[1].outcome.body(), b"ok");
    assert_eq!(got.attempts[1].request_body.as_deref(), Some(&sent[..]));
    assert_eq!(
        history.get("small").unwrap().delivery.body.as_ref(),
        &small[..]
    );
    assert!(files(dir.path()).is_empty(), "no body files any more");
    // A listing gives the size without reading the log.
    let listed = history.summaries_of(10, false).unwrap();
    assert_eq!(listed[0].id, "big");
    assert_eq!(listed[0].body_bytes, request.len() as u64);

    // The index holds no bodies: the bytes are in the log only.
    let conn = rusqlite::Connection::open(dir.path().join(super::FILE_NAME)).unwrap();
    let (inline, pointed): (i64, Option<i64>) = conn
        .query_row(
            "SELECT length(body), log_offset FROM deliveries WHERE id = 'big'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((inline, pointed), (0, Some(0)));
    let logged = super::log::Log::new(dir.path()).end().unwrap() as usize;
    assert!(logged > request.len() + response.len() + sent.len() + small.len());
}

#[test]
fn a_resent_large_delivery_is_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::default()).unwrap();
    let d = delivery("big", 1, bytes(100 * 1024, 5));
    assert!(history.record_delivery("ch", &d, &unsigned()).unwrap());
    let end = super::log::Log::new(dir.path()).end().unwrap();
    assert!(!history.record_delivery("ch", &d, &unsigned()).unwrap());
    assert_eq!(super::log::Log::new(dir.path()).end().unwrap(), end);
}

#[test]
fn an_older_history_s_body_files_are_read_and_go_with_their_deliveries() {
    let dir = written_by_version_4(2);
    let history = History::open(dir.path(), Keep::count_only(1)).unwrap();
    // Only the newest delivery is kept; its two files stay.
    assert!(history.get("d1").is_err());
    age(dir.path(), Duration::from_secs(120));
    history.sweep_bodies_if_due();
    assert_eq!(files(dir.path()).len(), 2);
    let d2 = history.get("d2").unwrap();
    assert_eq!(d2.delivery.body.as_ref(), &bytes(100 * 1024, 2)[..]);
    assert_eq!(d2.attempts[0].outcome.body(), bytes(100 * 1024, 9));
    assert_eq!(
        history.summaries_of(10, false).unwrap()[0].body_bytes,
        100 * 1024
    );

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
    let dir = written_by_version_4(1);
    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    let name = files(dir.path()).remove(0);
    std::fs::remove_file(dir.path().join(DIR_NAME).join(&name)).unwrap();
    let error = history.get("d1").err().unwrap().to_string();
    assert!(error.contains("cannot read"), "{error}");
    assert!(error.contains(&name), "{error}");
    // The listing still works: it reads no body files.
    let listed = history.summaries_of(10, false).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, Some(200));
}

/// What the terminal UI loads at start: the newest deliveries within a
/// byte budget, and the others even when one's record is damaged.
#[test]
fn the_recent_deliveries_fit_a_byte_budget_and_survive_a_damaged_record() {
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

    // A byte of d2's body changes behind our back.
    let log = super::log::Log::new(dir.path());
    let segment = log.dir().join(format!("{:020}.log", 0));
    let mut bytes_on_disk = std::fs::read(&segment).unwrap();
    let d2 = bytes(100 * 1024, 2);
    let at = bytes_on_disk
        .windows(64)
        .position(|w| w == &d2[..64])
        .unwrap();
    bytes_on_disk[at + 10] ^= 1;
    std::fs::write(&segment, bytes_on_disk).unwrap();
    assert_eq!(ids(history.recent(10, u64::MAX).unwrap()), ["d1", "d3"]);
    let error = history.get("d2").unwrap_err().to_string();
    assert!(error.contains("checksum does not match"), "{error}");
}
