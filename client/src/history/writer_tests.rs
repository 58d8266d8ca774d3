//! The writer against a real data dir: saved before the answer, resends
//! saved once, arrivals of an event counted in order and across restarts.
use super::*;
use hookhole_shared::protocol::{Delivery, Response};
use std::time::{Duration, Instant};

fn exchange(n: u64) -> Arc<Exchange> {
    let delivery = Delivery {
        id: format!("d{n}"),
        seq: n,
        received_at_ms: 1_800_000_000_000 + n,
        method: "POST".into(),
        path: "/x".into(),
        query: None,
        headers: Vec::new(),
        body_blake3: String::new(),
        url: String::new(),
        queued: false,
        answered: false,
        body: bytes::Bytes::from(vec![b'x'; 2048]),
    };
    let outcome = Ok(Response {
        id: delivery.id.clone(),
        status: 200,
        headers: Vec::new(),
        body: bytes::Bytes::new(),
    });
    Arc::new(Exchange {
        delivery,
        outcome,
        heard: crate::delivery::SenderHeard::Local,
    })
}

fn first_attempt(forwarded: &Exchange) -> Attempt {
    let target = crate::target::Target::parse("3000").unwrap();
    Attempt::first(&forwarded.outcome, Some(&target), 0, 1)
}

/// Rows of the index file, read without catching it up, once it has
/// indexed the whole log (`None` before).
fn indexed(dir: &std::path::Path) -> Option<i64> {
    let conn = rusqlite::Connection::open(dir.join(super::super::FILE_NAME)).unwrap();
    let reached: i64 = conn
        .query_row("SELECT reached FROM log_index", [], |r| r.get(0))
        .unwrap();
    let end = super::super::log::Log::new(dir).end().unwrap();
    (reached as u64 == end).then(|| {
        conn.query_row("SELECT COUNT(*) FROM deliveries", [], |r| r.get(0))
            .unwrap()
    })
}

/// Waits (bounded) until `done` holds: what the indexer thread does
/// behind the writer has no event to wait on.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A delivery that --keep drops as soon as it is saved (here the oldest
/// beyond a count of 1: a queued one arriving late) is saved with its
/// attempt and then pruned, not refused half-written.
#[tokio::test]
async fn a_delivery_pruned_on_arrival_is_saved_whole_first() {
    let dir = tempfile::tempdir().unwrap();
    let keep = Keep::count_only(1);
    let writer = Writer::start(dir.path(), keep).unwrap();
    let verdict = crate::history::store::unverified();
    for n in [2, 1] {
        let forwarded = exchange(n);
        let attempt = first_attempt(&forwarded);
        let saved = writer
            .record_exchange("ch", forwarded, &verdict, None, attempt, None)
            .await
            .saved;
        assert_eq!(saved, Ok(true), "d{n}");
    }
    eventually("the older one went", || indexed(dir.path()) == Some(1)).await;
    let history = super::super::History::open_existing(dir.path()).unwrap();
    assert_eq!(history.recent_ids(10).unwrap(), ["d2"]);
}

/// A delivery is in the log when its caller hears it is saved; the
/// indexer brings the index file up to date behind the writer.
#[tokio::test]
async fn saved_means_in_the_log_and_the_index_follows() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Writer::start(dir.path(), Keep::count_only(1000)).unwrap();
    let verdict = crate::history::store::unverified();
    for n in 0..50 {
        let forwarded = exchange(n);
        let attempt = first_attempt(&forwarded);
        assert_eq!(
            writer
                .record_exchange("ch", forwarded, &verdict, None, attempt, None)
                .await
                .saved,
            Ok(true)
        );
        let log = super::super::log::Log::new(dir.path());
        let mut ids = Vec::new();
        log.scan(0, super::super::log::Part::Whole, |r| {
            if let super::entries::Entry::Delivery(s) = super::entries::decode(r)? {
                ids.push(s.delivery.id);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(ids.last(), Some(&format!("d{n}")));
    }
    eventually("the indexer caught up", || indexed(dir.path()) == Some(50)).await;
    let reader = super::super::History::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.get("d49").unwrap().attempts.len(), 1);
}

/// A resend of a saved delivery (a queued copy, in the same batch or a
/// later one) is recognised, and not saved twice.
#[tokio::test]
async fn a_resent_delivery_is_saved_once() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Writer::start(dir.path(), Keep::count_only(1000)).unwrap();
    let verdict = crate::history::store::unverified();
    let resend = |n| {
        let mut x = Arc::into_inner(exchange(n)).unwrap();
        x.delivery.queued = true;
        Arc::new(x)
    };
    let save = |x: Arc<Exchange>| {
        let attempt = first_attempt(&x);
        let writer = writer.clone();
        let verdict = verdict.clone();
        async move {
            writer
                .record_exchange("ch", x, &verdict, None, attempt, None)
                .await
                .saved
        }
    };
    assert_eq!(save(exchange(1)).await, Ok(true));
    let (a, b) = tokio::join!(save(resend(1)), save(resend(2)));
    assert_eq!((a, b), (Ok(false), Ok(true)));
    let (a, b) = tokio::join!(save(resend(3)), save(resend(3)));
    assert_eq!([a, b].iter().filter(|r| **r == Ok(true)).count(), 1);
    let history = super::super::History::open_existing(dir.path()).unwrap();
    assert_eq!(history.recent_ids(10).unwrap(), ["d1", "d2", "d3"]);
}

fn maple_event(id: &str) -> Option<WebhookFacts> {
    Some(WebhookFacts {
        provider: "maple".into(),
        event_type: Some("order.notification".into()),
        event_id: Some(id.into()),
        attempt: None,
        deadline_ms: Some(30_000),
    })
}

/// Arrivals of an event are counted in order, in one batch or across
/// batches, and across a restart (the new writer finds the earlier
/// arrivals through the index); the counts are saved with the delivery.
#[tokio::test]
async fn arrivals_of_an_event_are_counted_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let verdict = crate::history::store::unverified();
    let save = |writer: Writer, n: u64, event: &'static str| {
        let verdict = verdict.clone();
        async move {
            let x = exchange(n);
            let attempt = first_attempt(&x);
            let written = writer
                .record_exchange("ch", x, &verdict, maple_event(event), attempt, None)
                .await;
            assert_eq!(written.saved, Ok(true));
            let arrival = written.webhook.unwrap().arrival.unwrap();
            (arrival.duplicate_of, arrival.seen)
        }
    };
    let writer = Writer::start(dir.path(), Keep::count_only(1000)).unwrap();
    assert_eq!(save(writer.clone(), 1, "evt_1").await, (None, 1));
    let (a, b, c) = tokio::join!(
        save(writer.clone(), 2, "evt_1"),
        save(writer.clone(), 3, "evt_2"),
        save(writer.clone(), 4, "evt_1"),
    );
    assert_eq!(a, (Some("d1".into()), 2));
    assert_eq!(b, (None, 1));
    assert_eq!(c, (Some("d1".into()), 3));
    drop(writer);
    eventually("the indexer caught up", || indexed(dir.path()) == Some(4)).await;

    let writer = Writer::start(dir.path(), Keep::count_only(1000)).unwrap();
    assert_eq!(
        save(writer.clone(), 5, "evt_1").await,
        (Some("d1".into()), 4)
    );
    assert_eq!(save(writer.clone(), 6, "evt_3").await, (None, 1));
    let history = super::super::History::open_existing(dir.path()).unwrap();
    let saved = history.get("d5").unwrap().webhook.unwrap();
    assert_eq!(
        saved.facts.event_type.as_deref(),
        Some("order.notification")
    );
    assert_eq!(
        saved.arrival,
        Some(crate::webhook::Arrival {
            duplicate_of: Some("d1".into()),
            seen: 4
        })
    );
}

/// A resend of a saved delivery is not another arrival of its event.
#[tokio::test]
async fn a_resend_is_not_counted_as_an_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Writer::start(dir.path(), Keep::count_only(1000)).unwrap();
    let verdict = crate::history::store::unverified();
    let x = exchange(1);
    let attempt = first_attempt(&x);
    let first = writer
        .record_exchange("ch", x, &verdict, maple_event("e"), attempt, None)
        .await;
    assert_eq!(first.saved, Ok(true));
    let mut resent = Arc::into_inner(exchange(1)).unwrap();
    resent.delivery.queued = true;
    let resent = Arc::new(resent);
    let attempt = first_attempt(&resent);
    let again = writer
        .record_exchange("ch", resent, &verdict, maple_event("e"), attempt, None)
        .await;
    assert_eq!(again.saved, Ok(false));
    assert_eq!(again.webhook.unwrap().arrival, None);
    let x = exchange(2);
    let attempt = first_attempt(&x);
    let retry = writer
        .record_exchange("ch", x, &verdict, maple_event("e"), attempt, None)
        .await;
    assert_eq!(retry.webhook.unwrap().arrival.unwrap().seen, 2);
}

/// A history in `dir` with delivery `d1` saved and indexed, whose index is
/// then taken back to an older schema by `downgrade` (SQL).
async fn one_delivery_indexed_as(dir: &std::path::Path, downgrade: &str) {
    let writer = Writer::start(dir, Keep::count_only(100)).unwrap();
    let verdict = crate::history::store::unverified();
    let old = exchange(1);
    let attempt = first_attempt(&old);
    let saved = writer.record_exchange("ch", old, &verdict, None, attempt, None);
    assert_eq!(saved.await.saved, Ok(true));
    drop(writer);
    eventually("indexed", || indexed(dir) == Some(1)).await;
    rusqlite::Connection::open(dir.join(super::super::FILE_NAME))
        .unwrap()
        .execute_batch(downgrade)
        .unwrap();
}

/// The index's schema version.
fn schema_version(dir: &std::path::Path) -> i32 {
    rusqlite::Connection::open(dir.join(super::super::FILE_NAME))
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

/// The release before routes: its deliveries are kept and read as taken by
/// none; the index gains the route columns in place, and new deliveries
/// are read back with the route that took them.
#[tokio::test]
async fn a_version_6_history_gains_routes_and_keeps_every_delivery() {
    let dir = tempfile::tempdir().unwrap();
    one_delivery_indexed_as(dir.path(), crate::history::bodies_tests::DOWN_TO_V6).await;
    let writer = Writer::start(dir.path(), Keep::count_only(100)).unwrap();
    let verdict = crate::history::store::unverified();
    let routes = [
        crate::route::Label {
            number: 1,
            name: Some("orders".into()),
        },
        crate::route::Label {
            number: 2,
            name: None,
        },
    ];
    for (n, route) in [(2, &routes[0]), (3, &routes[1])] {
        let x = exchange(n);
        let attempt = first_attempt(&x);
        let saved = writer.record_exchange("ch", x, &verdict, None, attempt, Some(route.clone()));
        assert_eq!(saved.await.saved, Ok(true));
    }
    let history = super::super::History::open_existing(dir.path()).unwrap();
    assert_eq!(history.get("d1").unwrap().route, None);
    assert_eq!(history.get("d2").unwrap().route.as_ref(), Some(&routes[0]));
    assert_eq!(history.get("d3").unwrap().route.as_ref(), Some(&routes[1]));
    assert_eq!(schema_version(dir.path()), crate::history::schema::VERSION);
}

/// The release before what the sender heard was recorded: its deliveries
/// read as having heard the local answer; the index gains the columns in
/// place, and new deliveries are read back (whole, and in listings) with
/// the relay's answer their sender heard.
#[tokio::test]
async fn a_version_7_history_gains_what_the_sender_heard_and_keeps_every_delivery() {
    use crate::delivery::{RelayAnswered, SenderHeard};
    let dir = tempfile::tempdir().unwrap();
    one_delivery_indexed_as(dir.path(), crate::history::bodies_tests::DOWN_TO_V7).await;
    let writer = Writer::start(dir.path(), Keep::count_only(100)).unwrap();
    let verdict = crate::history::store::unverified();
    let heard = [
        SenderHeard::Relay {
            status: 202,
            why: RelayAnswered::Queued,
        },
        SenderHeard::Relay {
            status: 202,
            why: RelayAnswered::AnswerWithin { wait_ms: Some(300) },
        },
    ];
    for (n, heard) in [(2, heard[0]), (3, heard[1])] {
        let mut x = Arc::unwrap_or_clone(exchange(n));
        x.heard = heard;
        let attempt = first_attempt(&x);
        let saved = writer.record_exchange("ch", Arc::new(x), &verdict, None, attempt, None);
        assert_eq!(saved.await.saved, Ok(true));
    }
    let history = super::super::History::open_existing(dir.path()).unwrap();
    assert_eq!(history.get("d1").unwrap().heard, SenderHeard::Local);
    assert_eq!(history.get("d2").unwrap().heard, heard[0]);
    assert_eq!(history.get("d3").unwrap().heard, heard[1]);
    let listed: Vec<SenderHeard> = history
        .summaries_of(10, false)
        .unwrap()
        .into_iter()
        .map(|s| s.sender_heard)
        .collect();
    assert_eq!(listed, [SenderHeard::Local, heard[0], heard[1]]);
    assert_eq!(schema_version(dir.path()), crate::history::schema::VERSION);
}
