//! The history store against a real SQLite file.

use super::*;
use crate::delivery::{Kind, Outcome};
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::FailureCode;
use hookhole_shared::signature::Status;

fn delivery(id: &str, seq: u64, at_ms: u64) -> Delivery {
    Delivery {
        id: id.into(),
        seq,
        received_at_ms: at_ms,
        method: "POST".into(),
        path: "/x".into(),
        query: Some("q=1".into()),
        headers: vec![
            Header::new("content-type", "application/json"),
            Header::new("x-bin", vec![0xffu8]),
        ],
        body_sha256: String::new(),
        url: "https://relay/ch/x?q=1".into(),
        queued: false,
        body: Bytes::from_static(b"\x00\x01{\"a\":1}\r\n"),
    }
}

fn attempt(number: u32, status: Option<u16>) -> Attempt {
    let kind = if number == 1 {
        Kind::Original
    } else {
        Kind::Replay
    };
    let outcome = match status {
        Some(status) => Outcome::Answered {
            status,
            headers: vec![Header::new("x-r", "1")],
            body: Bytes::from_static(b"ok"),
        },
        None => Outcome::Failed {
            code: FailureCode::LocalUnreachable,
            message: "refused".to_string(),
        },
    };
    Attempt {
        duration_ms: Some(3),
        target: Some("http://127.0.0.1:3000".into()),
        ..Attempt::new(kind, number, 1, outcome)
    }
}

fn verdict() -> Verdict {
    Verdict {
        scheme: Some("stripe".into()),
        status: Status::Valid,
        reason: "HMAC-SHA256 matches".into(),
        secret: None,
        timestamp_age_s: Some(2),
        candidates: vec!["stripe".into()],
    }
}

/// The ids `history [--failed] --limit N` lists.
fn listed(history: &History, limit: usize, failed_only: bool) -> Vec<String> {
    let rows = history.summaries(limit, failed_only).unwrap();
    rows.into_iter().map(|s| s.id).collect()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn deliveries_and_attempts_round_trip_exactly_and_dedupe_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::default()).unwrap();
    let d = delivery("abcdef", 1, now_ms());
    let verdict = verdict();
    assert!(history.record_delivery("ch", &d, &verdict).unwrap());
    assert!(
        !history.record_delivery("ch", &d, &verdict).unwrap(),
        "a resend is not stored twice"
    );
    history.record_attempt("abcdef", &attempt(1, None)).unwrap();
    assert_eq!(history.next_attempt("abcdef").unwrap(), 2);
    history
        .record_attempt("abcdef", &attempt(2, Some(200)))
        .unwrap();

    let reopened = History::open(dir.path(), Keep::default()).unwrap();
    let stored = reopened.get("abc").unwrap();
    assert_eq!(stored.delivery.body, d.body, "body bytes exact");
    assert_eq!(
        stored.delivery.headers, d.headers,
        "headers exact, non-UTF-8 included"
    );
    assert_eq!(stored.verdict, verdict);
    assert_eq!(stored.attempts.len(), 2);
    assert!(!stored.failed(), "the last attempt succeeded");
    assert_eq!(reopened.last_seq("ch").unwrap(), Some(1));
    assert_eq!(reopened.last_seq("other").unwrap(), None);
}

#[test]
fn prefixes_resolve_uniquely_or_explain() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::default()).unwrap();
    let verdict = verdict();
    for (i, id) in ["aaa111", "aaa222", "bbb333", "c%d_e"].iter().enumerate() {
        history
            .record_delivery("ch", &delivery(id, i as u64 + 1, now_ms()), &verdict)
            .unwrap();
    }
    assert_eq!(history.resolve("b").unwrap(), "bbb333");
    assert!(matches!(
        history.resolve("aaa"),
        Err(LookupError::Ambiguous { .. })
    ));
    assert!(matches!(
        history.resolve("zzz"),
        Err(LookupError::NotFound(_))
    ));
    // Prefixes are literal: `%` and `_` are not patterns, and nothing
    // is not a prefix of everything.
    for pattern in ["%", "_", "a%", "aaa_", "", "c_"] {
        assert!(
            matches!(history.resolve(pattern), Err(LookupError::NotFound(_))),
            "{pattern:?}"
        );
    }
    assert_eq!(history.resolve("c%").unwrap(), "c%d_e");
    assert_eq!(history.resolve("c%d_").unwrap(), "c%d_e");
}

#[test]
fn pruning_holds_the_count_and_catches_up_with_what_others_wrote() {
    let dir = tempfile::tempdir().unwrap();
    // 64 deliveries, and 1 more (1/64) before a prune.
    let keep = Keep {
        count: 64,
        age: Duration::from_secs(3600),
    };
    let history = History::open(dir.path(), keep).unwrap();
    let count = |h: &History| {
        h.conn()
            .query_row("SELECT COUNT(*) FROM deliveries", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
    };
    let (verdict, now) = (verdict(), now_ms());
    let add = |h: &History, range: std::ops::Range<u64>| {
        for i in range {
            let d = delivery(&format!("d{i}"), i, now + i);
            h.record_delivery("ch", &d, &verdict).unwrap();
            assert!(count(h) <= 65, "{} after d{i}", count(h));
        }
    };
    add(&history, 0..500);
    // Another process (a second handle here, which never prunes) adds 100
    // the listener did not count.
    let other = History::open_existing(dir.path()).unwrap();
    for i in 500..600 {
        other
            .record_delivery("ch", &delivery(&format!("d{i}"), i, now + i), &verdict)
            .unwrap();
    }
    assert!(count(&history) > 150);
    // The listener counts again within 64 prunes (about 128 inserts here).
    for i in 600..800 {
        let d = delivery(&format!("d{i}"), i, now + i);
        history.record_delivery("ch", &d, &verdict).unwrap();
    }
    assert!(count(&history) <= 65, "{}", count(&history));
    history.prune().unwrap();
    let expected: Vec<String> = (736..800).map(|i| format!("d{i}")).collect();
    assert_eq!(history.recent_ids(1000).unwrap(), expected, "the newest 64");
}

#[test]
fn retention_keeps_the_newest_and_the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let keep = Keep {
        count: 3,
        age: Duration::from_secs(3600),
    };
    let history = History::open(dir.path(), keep).unwrap();
    let verdict = verdict();
    let now = now_ms();
    history
        .record_delivery("ch", &delivery("ancient", 1, now - 7_200_000), &verdict)
        .unwrap();
    for i in 2..=6 {
        history
            .record_delivery("ch", &delivery(&format!("d{i}"), i, now + i), &verdict)
            .unwrap();
    }
    history.prune().unwrap();
    let ids = history.recent_ids(100).unwrap();
    assert_eq!(ids, ["d4", "d5", "d6"]);
    // Their ids go with them: a pruned delivery is not found by its id.
    assert!(matches!(history.get("d2"), Err(LookupError::NotFound(_))));
    assert!(!history.contains("ch", 2, "d2").unwrap());
    assert!(history.contains("ch", 5, "d5").unwrap());
    assert!(!history.contains("other", 5, "d5").unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(history.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for none in ["0", "0s", "0,7d", "10,0s"] {
        let refused = Keep::parse(none).unwrap_err();
        assert!(refused.contains("at least 1"), "{none}: {refused}");
    }
    assert_eq!(
        Keep::parse("500,7d").unwrap(),
        Keep {
            count: 500,
            age: Duration::from_secs(7 * 86_400)
        }
    );
    assert!(Keep::parse("lots").is_err());
}

#[test]
fn failed_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::default()).unwrap();
    let mut verdict = verdict();
    let now = now_ms();
    history
        .record_delivery("ch", &delivery("ok1", 1, now), &verdict)
        .unwrap();
    history
        .record_attempt("ok1", &attempt(1, Some(200)))
        .unwrap();
    history
        .record_delivery("ch", &delivery("down", 2, now + 1), &verdict)
        .unwrap();
    history.record_attempt("down", &attempt(1, None)).unwrap();
    verdict.status = Status::Invalid;
    history
        .record_delivery("ch", &delivery("badsig", 3, now + 2), &verdict)
        .unwrap();
    history
        .record_attempt("badsig", &attempt(1, Some(200)))
        .unwrap();
    let failed = listed(&history, 10, true);
    assert_eq!(failed, ["down", "badsig"]);
    let last_two = listed(&history, 2, false);
    assert_eq!(last_two, ["down", "badsig"]);
}

/// The schema of builds before versioning: attempts keyed by the text id.
/// A data dir holding a history database made by `schema` (an older
/// build's tables and rows), and the database's path.
fn written_by_an_older_build(schema: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(crate::history::FILE_NAME);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(schema)
        .unwrap();
    (dir, path)
}

const SCHEMA_V0: &str = "
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY, channel TEXT NOT NULL, seq INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, query TEXT,
    url TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL, verdict TEXT NOT NULL
);
CREATE INDEX deliveries_by_time ON deliveries (received_at_ms);
CREATE INDEX deliveries_by_channel_seq ON deliveries (channel, seq);
CREATE TABLE attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number INTEGER NOT NULL, kind TEXT NOT NULL, started_ms INTEGER NOT NULL,
    duration_ms INTEGER, status INTEGER, error_code TEXT, error_message TEXT,
    response_headers TEXT, response_body BLOB, request_headers TEXT, request_body BLOB,
    verdict TEXT,
    PRIMARY KEY (delivery_id, number)
);
INSERT INTO deliveries VALUES
    ('old1', 'ch', 7, 1000, 'POST', '/a', NULL, 'u', '[[\"x-a\",\"1\"]]', x'00ff', '{}'),
    ('old2', 'ch', 8, 2000, 'PUT', '/b', 'q=1', 'u', '[]', x'', '{}');
INSERT INTO attempts (delivery_id, number, kind, started_ms, status, response_headers)
    VALUES ('old1', 1, 'original', 1000, 502, '[]'), ('old1', 2, 'replay', 3000, 200, '[]'),
           ('old2', 1, 'original', 2000, 200, '[]');
";

#[test]
fn a_history_from_an_older_build_is_upgraded_with_every_row() {
    let (dir, path) = written_by_an_older_build(SCHEMA_V0);

    // A command may be the first to open it: it upgrades too.
    let reader = History::open_existing(dir.path()).unwrap();
    let old = reader.get("old1").unwrap();
    assert_eq!(old.delivery.body.as_ref(), b"\x00\xff");
    assert_eq!(old.delivery.headers, vec![Header::new("x-a", "1")]);
    let statuses: Vec<_> = old.attempts.iter().map(|a| a.outcome.status()).collect();
    assert_eq!(statuses, [Some(502), Some(200)]);
    assert_eq!(reader.get("old2").unwrap().attempts.len(), 1);
    assert_eq!(reader.last_seq("ch").unwrap(), Some(8));

    // The listener opens it after; new rows and replays land beside the old
    // (from 1970, so kept by count only).
    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    assert!(
        history
            .record_delivery("ch", &delivery("new", 9, now_ms()), &verdict())
            .unwrap()
    );
    history
        .record_attempt("new", &attempt(1, Some(200)))
        .unwrap();
    assert_eq!(history.next_attempt("old1").unwrap(), 3);
    history
        .record_attempt("old1", &attempt(3, Some(201)))
        .unwrap();
    assert_eq!(history.get("old1").unwrap().attempts.len(), 3);
    assert_eq!(history.recent_ids(10).unwrap(), ["old1", "old2", "new"]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, super::super::schema::VERSION);
    let leftovers: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_v0' OR name = 'deliveries_by_time'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leftovers, 0, "the old tables and their indexes are gone");
}

#[test]
fn a_history_from_a_newer_build_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(crate::history::FILE_NAME);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE deliveries (x); PRAGMA user_version = 99;")
        .unwrap();
    let error = History::open(dir.path(), Keep::default())
        .err()
        .expect("refused");
    assert!(error.contains("newer hookhole"), "{error}");
    let version: i32 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99);
}

/// Version 1: attempts keyed by the delivery's `pk`, every body inline.
const SCHEMA_V1: &str = "
CREATE TABLE deliveries (
    pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, channel TEXT NOT NULL,
    seq INTEGER NOT NULL, received_at_ms INTEGER NOT NULL, method TEXT NOT NULL,
    path TEXT NOT NULL, query TEXT, url TEXT NOT NULL, headers TEXT NOT NULL,
    body BLOB NOT NULL, verdict TEXT NOT NULL
);
CREATE TABLE attempts (
    delivery INTEGER NOT NULL REFERENCES deliveries (pk) ON DELETE CASCADE,
    number INTEGER NOT NULL, kind TEXT NOT NULL, started_ms INTEGER NOT NULL,
    duration_ms INTEGER, status INTEGER, error_code TEXT, error_message TEXT,
    response_headers TEXT, response_body BLOB, request_headers TEXT, request_body BLOB,
    verdict TEXT,
    PRIMARY KEY (delivery, number)
);
CREATE INDEX deliveries_by_arrival ON deliveries (received_at_ms, seq);
CREATE INDEX deliveries_by_channel_seq ON deliveries (channel, seq);
INSERT INTO deliveries VALUES
    (1, 'v1old', 'ch', 4, 1000, 'POST', '/a', NULL, 'u', '[]', x'00ff', '{}');
INSERT INTO attempts (delivery, number, kind, started_ms, status, response_headers, response_body)
    VALUES (1, 1, 'original', 1000, 200, '[]', x'6f6b');
PRAGMA user_version = 1;
";

#[test]
fn a_version_1_history_is_upgraded_in_place_and_takes_body_files() {
    let (dir, _) = written_by_an_older_build(SCHEMA_V1);
    // Kept by count only: the old row is from 1970.
    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    let old = history.get("v1old").unwrap();
    assert_eq!(old.delivery.body.as_ref(), b"\x00\xff");
    assert_eq!(old.attempts[0].outcome.body(), b"ok");
    // A replay of the old delivery with a large answer goes to a file.
    let mut replay = attempt(2, Some(200));
    replay.outcome = Outcome::Answered {
        status: 200,
        headers: Vec::new(),
        body: Bytes::from(vec![7; 100 * 1024]),
    };
    history.record_attempt("v1old", &replay).unwrap();
    assert_eq!(history.get("v1old").unwrap().attempts[1], replay);
    assert_eq!(
        std::fs::read_dir(dir.path().join(super::super::bodies::DIR_NAME))
            .unwrap()
            .count(),
        1
    );
}

/// Version 2: the unique index on `id` every insert had to update.
const SCHEMA_V2: &str = "
CREATE TABLE deliveries (
    pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, channel TEXT NOT NULL,
    seq INTEGER NOT NULL, received_at_ms INTEGER NOT NULL, method TEXT NOT NULL,
    path TEXT NOT NULL, query TEXT, url TEXT NOT NULL, headers TEXT NOT NULL,
    body BLOB NOT NULL, verdict TEXT NOT NULL, body_file TEXT
);
CREATE TABLE attempts (
    delivery INTEGER NOT NULL REFERENCES deliveries (pk) ON DELETE CASCADE,
    number INTEGER NOT NULL, kind TEXT NOT NULL, started_ms INTEGER NOT NULL,
    duration_ms INTEGER, status INTEGER, error_code TEXT, error_message TEXT,
    response_headers TEXT, response_body BLOB, request_headers TEXT, request_body BLOB,
    verdict TEXT, response_body_file TEXT, request_body_file TEXT,
    PRIMARY KEY (delivery, number)
);
CREATE INDEX deliveries_by_arrival ON deliveries (received_at_ms, seq);
CREATE INDEX deliveries_by_channel_seq ON deliveries (channel, seq);
INSERT INTO deliveries VALUES
    (5, 'abc111', 'ch', 4, 1000, 'POST', '/a', NULL, 'u', '[]', x'00ff', '{}', NULL),
    (9, 'abc222', 'ch', 5, 2000, 'POST', '/b', NULL, 'u', '[]', x'01', '{}', NULL);
INSERT INTO attempts (delivery, number, kind, started_ms, status, response_headers, response_body)
    VALUES (5, 1, 'original', 1000, 502, '[]', x''), (9, 1, 'original', 2000, 200, '[]', x'6f6b');
PRAGMA user_version = 2;
";

#[test]
fn a_version_2_history_is_rebuilt_without_the_id_index_and_keeps_every_link() {
    let (dir, path) = written_by_an_older_build(SCHEMA_V2);
    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    // Prefixes resolve through the new id table; attempts still belong to
    // the right delivery.
    assert!(matches!(
        history.get("abc"),
        Err(LookupError::Ambiguous { .. })
    ));
    let second = history.get("abc2").unwrap();
    assert_eq!(second.delivery.path, "/b");
    assert_eq!(second.attempts[0].outcome.body(), b"ok");
    assert_eq!(
        history.get("abc111").unwrap().attempts[0].outcome.status(),
        Some(502)
    );
    // A resend of an old delivery is still recognised; a new one is not.
    assert!(
        !history
            .record_delivery("ch", &delivery("abc222", 5, 2000), &verdict())
            .unwrap()
    );
    assert!(
        history
            .record_delivery("ch", &delivery("new", 6, now_ms()), &verdict())
            .unwrap()
    );
    history
        .record_attempt("new", &attempt(1, Some(200)))
        .unwrap();
    assert_eq!(history.get("ne").unwrap().attempts.len(), 1);
    let error = history
        .record_attempt("gone", &attempt(1, Some(200)))
        .unwrap_err()
        .to_string();
    assert!(error.contains("no delivery gone in the history"), "{error}");
    assert_eq!(history.recent_ids(10).unwrap(), ["abc111", "abc222", "new"]);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let unique_indexes: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_index_list('deliveries') WHERE \"unique\" = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        unique_indexes, 0,
        "no index an insert must update at random"
    );
    let leftovers: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_v2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leftovers, 0);
}

/// Version 3 is today's schema without `attempts.target`. Its rows: an `R`
/// recorded without a secret (`not_resigned`) after a `201`, and an attempt
/// cut short.
const DOWN_TO_V3: &str = "
ALTER TABLE attempts DROP COLUMN target;
INSERT INTO deliveries VALUES
    (1, 'ok201', 'ch', 1, 1000, 'POST', '/a', NULL, 'u', '[]', x'01', '{}', NULL),
    (2, 'cut', 'ch', 2, 2000, 'POST', '/b', NULL, 'u', '[]', x'02', '{}', NULL);
INSERT INTO delivery_ids VALUES (1, 'ok201'), (2, 'cut');
INSERT INTO attempts (delivery, number, kind, started_ms, status, error_code, error_message,
                      response_headers, response_body)
    VALUES (1, 1, 'original', 1000, 201, NULL, NULL, '[]', x''),
           (1, 2, 'resigned', 1500, NULL, 'not_resigned', 'no secret configured for stripe', '[]', x''),
           (2, 1, 'original', 2000, NULL, NULL, NULL, NULL, NULL);
PRAGMA user_version = 3;
";

fn written_by_version_3() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    let path = history.path().to_path_buf();
    drop(history);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(DOWN_TO_V3)
        .unwrap();
    (dir, path)
}

#[test]
fn a_version_3_history_gains_attempt_targets_and_its_outcomes_read_as_one_rule_says() {
    let (dir, _) = written_by_version_3();
    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    let ok = history.get("ok201").unwrap();
    assert_eq!(ok.last_target(), None, "older attempts name no target");
    assert_eq!(
        ok.attempts[1].outcome,
        Outcome::NotSent(crate::delivery::NotSent::NotResigned(
            "no secret configured for stripe".into()
        ))
    );
    assert!(!ok.failed(), "an R never sent leaves the 201 deciding");
    let cut = history.get("cut").unwrap();
    assert_eq!(cut.attempts[0].outcome, Outcome::Interrupted);
    let failed = listed(&history, 10, true);
    assert_eq!(failed, ["cut"], "interrupted is failed, 201 is not");
    // A new attempt records where it went.
    history
        .record_attempt("ok201", &attempt(3, Some(200)))
        .unwrap();
    assert_eq!(
        history.get("ok201").unwrap().last_target(),
        Some("http://127.0.0.1:3000")
    );
}

#[test]
fn an_unknown_name_in_the_history_is_refused_not_guessed() {
    let (dir, path) = written_by_version_3();
    drop(History::open(dir.path(), Keep::count_only(100)).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("UPDATE attempts SET kind = 'bogus' WHERE delivery = 2")
        .unwrap();
    let history = History::open_existing(dir.path()).unwrap();
    let error = history.get("cut").unwrap_err().to_string();
    assert!(error.contains("unknown attempt kind"), "{error}");
    assert!(history.get("ok201").is_ok(), "the other rows still load");
}
