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
        body_blake3: String::new(),
        url: "https://relay/ch/x?q=1".into(),
        queued: false,
        answered: false,
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
    let rows = history.summaries_of(limit, failed_only).unwrap();
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
    // Another process (`hookhole replay`, a command catching the index up)
    // indexes 100 the listener did not: it prunes them to the --keep the
    // listener recorded in the index.
    let other = History::open_existing(dir.path()).unwrap();
    add(&other, 500..600);
    // Rows written behind everyone's back (an older build, say).
    history
        .conn()
        .execute_batch(
            "INSERT INTO deliveries (id, channel, seq, received_at_ms, method, path, url, headers,
                                     body, verdict)
             WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 100)
             SELECT 'x' || value, 'ch', 0, 0, 'POST', '/', '', '[]', x'', '{}' FROM n;",
        )
        .unwrap();
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

/// Retention removes whole log segments once no delivery kept is in them,
/// and keeps every segment a kept delivery (or a replay of one) is in.
#[test]
fn pruned_deliveries_take_their_log_segments_when_whole_segments_are_free() {
    let dir = tempfile::tempdir().unwrap();
    let mut history = History::open(dir.path(), Keep::count_only(3)).unwrap();
    // About 4 deliveries of 1 KiB per segment.
    history.log.segment_bytes = 4096;
    let body = Bytes::from(vec![b'x'; 1024]);
    let verdict = verdict();
    for n in 0..40u64 {
        let d = Delivery {
            body: body.clone(),
            ..delivery(&format!("d{n}"), n, now_ms() + n)
        };
        history.record_delivery("ch", &d, &verdict).unwrap();
        if n == 38 {
            history
                .record_attempt("d38", &attempt(2, Some(200)))
                .unwrap();
        }
        history.drop_segments_if_due();
        let segments = history.log.segments().unwrap();
        assert!(segments.len() <= 3, "after d{n}: {segments:?}");
    }
    assert_eq!(history.recent_ids(10).unwrap(), ["d37", "d38", "d39"]);
    for id in ["d37", "d38", "d39"] {
        assert_eq!(history.get(id).unwrap().delivery.body, body);
    }
    assert_eq!(history.get("d38").unwrap().attempts.len(), 1);
    assert!(history.log.segments().unwrap()[0] > 0, "the oldest went");
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

/// Histories written by older (and newer) builds.
#[path = "store_upgrade_tests.rs"]
mod upgrades;
