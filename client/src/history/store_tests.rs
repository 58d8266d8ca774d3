//! The history store against a real SQLite file.

use super::*;
use bytes::Bytes;
use hookhole_shared::headers::Header;
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

fn attempt(number: u32, status: Option<u16>) -> StoredAttempt {
    StoredAttempt {
        number,
        kind: if number == 1 {
            "original".into()
        } else {
            "replay".into()
        },
        started_ms: 1,
        duration_ms: Some(3),
        status,
        error_code: status.is_none().then(|| "local_unreachable".to_string()),
        error_message: status.is_none().then(|| "refused".to_string()),
        response_headers: vec![Header::new("x-r", "1")],
        response_body: b"ok".to_vec(),
        request_headers: None,
        request_body: None,
        verdict: None,
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
    for (i, id) in ["aaa111", "aaa222", "bbb333"].iter().enumerate() {
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
    assert!(matches!(
        history.resolve("%"),
        Err(LookupError::NotFound(_)) | Err(LookupError::Ambiguous { .. })
    ));
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
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(history.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
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
    let failed: Vec<String> = history
        .summaries(10, true)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(failed, ["down", "badsig"]);
    let last_two: Vec<String> = history
        .summaries(2, false)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(last_two, ["down", "badsig"]);
}
