//! Histories written by other builds: each older schema is upgraded in
//! place keeping every row, a newer one is refused and left alone.

use super::*;

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
    assert_eq!(version, crate::history::schema::VERSION);
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
fn a_version_1_history_is_upgraded_in_place_and_takes_replays_in_the_log() {
    let (dir, _) = written_by_an_older_build(SCHEMA_V1);
    // Kept by count only: the old row is from 1970.
    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    let old = history.get("v1old").unwrap();
    assert_eq!(old.delivery.body.as_ref(), b"\x00\xff");
    assert_eq!(old.attempts[0].outcome.body(), b"ok");
    // A replay of the old delivery with a large answer goes to the log.
    let mut replay = attempt(2, Some(200));
    replay.outcome = Outcome::Answered {
        status: 200,
        headers: Vec::new(),
        body: Bytes::from(vec![7; 100 * 1024]),
    };
    history.record_attempt("v1old", &replay).unwrap();
    assert_eq!(history.get("v1old").unwrap().attempts[1], replay);
    assert!(crate::history::log::Log::new(dir.path()).end().unwrap() > 100 * 1024);
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
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(crate::history::bodies_tests::DOWN_TO_V5)
        .unwrap();
    conn.execute_batch(crate::history::bodies_tests::DOWN_TO_V4)
        .unwrap();
    conn.execute_batch(DOWN_TO_V3).unwrap();
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

/// The release before the log: every delivery it kept is read where it is
/// (small bodies in rows, large ones in files), beside new ones in the log,
/// and a resend of an old one is still recognised.
#[test]
fn a_version_4_history_keeps_every_delivery_where_it_is() {
    let dir = crate::history::bodies_tests::written_by_version_4(3);
    let path = dir.path().join(crate::history::FILE_NAME);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO deliveries VALUES
             (4, 'inrow', 'ch', 4, 1000, 'POST', '/a', 'q=1', 'u', '[[\"x-a\",\"1\"]]', x'00ff',
              '{}', NULL);
         INSERT INTO delivery_ids VALUES (4, 'inrow');
         INSERT INTO attempts (delivery, number, kind, started_ms, status, response_headers,
                               response_body, target)
             VALUES (4, 1, 'original', 1000, 502, '[]', x'6f6b', 'http://127.0.0.1:3000');",
    )
    .unwrap();
    drop(conn);
    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    let old = history.get("inrow").unwrap();
    assert_eq!(old.delivery.body.as_ref(), b"\x00\xff");
    assert_eq!(old.delivery.headers, vec![Header::new("x-a", "1")]);
    assert_eq!(old.delivery.query.as_deref(), Some("q=1"));
    assert_eq!(old.attempts[0].outcome.body(), b"ok");
    for n in 1..=3 {
        let d = history.get(&format!("d{n}")).unwrap();
        assert_eq!(d.delivery.body.len(), 100 * 1024);
        assert_eq!(d.attempts[0].outcome.body().len(), 100 * 1024);
    }
    assert_eq!(history.summaries_of(10, true).unwrap().len(), 1, "the 502");
    // New deliveries and replays of old ones go to the log.
    assert!(
        !history
            .record_delivery("ch", &delivery("d2", 2, 0), &verdict())
            .unwrap(),
        "a resend of an old delivery"
    );
    assert!(
        history
            .record_delivery("ch", &delivery("new", 5, now_ms()), &verdict())
            .unwrap()
    );
    history
        .record_attempt("inrow", &attempt(2, Some(200)))
        .unwrap();
    let failed = listed(&history, 10, true);
    assert_eq!(
        failed,
        ["new"],
        "the 502 was replayed; `new` was never sent"
    );
    let replayed = history.get("inrow").unwrap();
    assert_eq!(replayed.attempts.len(), 2);
    assert_eq!(replayed.attempts[1], attempt(2, Some(200)));
    assert_eq!(
        history.recent_ids(10).unwrap(),
        ["inrow", "new", "d1", "d2", "d3"],
        "by arrival (the old ones arrived in 2027)"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (version, in_rows): (i32, i64) = (
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap(),
        conn.query_row(
            "SELECT COUNT(*) FROM deliveries WHERE log_offset IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap(),
    );
    assert_eq!((version, in_rows), (crate::history::schema::VERSION, 4));
}

/// The release before webhook facts: its deliveries (in the log, whose
/// records have none) are all kept and read as having none; the index
/// gains the columns and the index on events, and new deliveries are
/// listed and selected by them beside the old.
#[test]
fn a_version_5_history_gains_webhook_facts_and_keeps_every_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    for (id, seq) in [("v5a", 1), ("v5b", 2)] {
        assert!(
            history
                .record_delivery("ch", &delivery(id, seq, now_ms()), &verdict())
                .unwrap()
        );
    }
    history
        .record_attempt("v5a", &attempt(1, Some(200)))
        .unwrap();
    let path = history.path().to_path_buf();
    drop(history);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(crate::history::bodies_tests::DOWN_TO_V5)
        .unwrap();

    let history = History::open(dir.path(), Keep::count_only(100)).unwrap();
    let old = history.get("v5a").unwrap();
    assert_eq!(old.webhook, None);
    assert_eq!(old.attempts[0].outcome.status(), Some(200));
    assert_eq!(old.delivery.body, delivery("v5a", 1, 0).body);
    let maple = crate::webhook::Recorded {
        facts: hookhole_shared::webhook::WebhookFacts {
            provider: "maple".into(),
            event_type: Some("order.notification".into()),
            event_id: Some("evt_1".into()),
            attempt: None,
            deadline_ms: Some(30_000),
        },
        arrival: Some(crate::webhook::Arrival {
            duplicate_of: Some("v5b".into()),
            seen: 2,
        }),
    };
    assert!(
        history
            .record_delivery_with(
                "ch",
                &delivery("new", 3, now_ms()),
                &verdict(),
                Some(&maple)
            )
            .unwrap()
    );
    history
        .record_attempt("new", &attempt(1, Some(200)))
        .unwrap();
    assert_eq!(history.get("new").unwrap().webhook, Some(maple));
    let registry = hookhole_shared::signature::Registry::builtin();
    let all = history
        .summaries(10, &Default::default(), &registry)
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["v5a", "v5b", "new"], "every delivery, old and new");
    let selection = crate::history::Selection {
        event: Some(crate::glob::Glob::parse("order.*").unwrap()),
        duplicates: true,
        ..Default::default()
    };
    let picked = history.summaries(10, &selection, &registry).unwrap();
    assert_eq!(picked.len(), 1);
    let webhook = picked[0].webhook.as_ref().unwrap();
    assert_eq!(webhook.duplicate_of.as_deref(), Some("v5b"));
    assert_eq!(webhook.late, Some(false), "3 ms of a 30 s deadline");

    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, crate::history::schema::VERSION);
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM deliveries
             WHERE provider = 'maple' AND event_id = 'evt_1' AND event_id IS NOT NULL
             ORDER BY pk DESC LIMIT 1",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("deliveries_by_event"), "{plan}");
}
