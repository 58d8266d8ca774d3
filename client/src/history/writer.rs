//! The history's writer: one thread appending whatever is queued to the
//! log in one `writev`. Under load, dozens of deliveries share one system
//! call, and the async side pays a channel send instead of a thread-pool
//! hop per write.
//!
//! Callers wait for their write (a delivery is saved before it is answered
//! or acknowledged): "saved" is in the operating system's page cache, as
//! SQLite's WAL with `synchronous=NORMAL` gave before, so killing the
//! client loses nothing. The index is built behind, by the indexer thread
//! (`indexer.rs`); reads catch it up themselves, so they find a delivery
//! as soon as its caller heard it was saved.
//!
//! Seeing every delivery in order, the writer is also where a delivery's
//! event is found to have arrived before (`duplicates.rs`): the answer is
//! saved with the delivery and handed back to its caller.

use super::appender::Appender;
use super::duplicates::{Duplicates, Found};
use super::entries;
use super::indexer::Indexer;
use super::log::Outgoing;
use super::store::{Attempt, History, Keep};
use crate::events::Exchange;
use crate::webhook::Recorded;
use hookhole_shared::signature::Verdict;
use hookhole_shared::webhook::WebhookFacts;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Writes per batch at most: bounds the memory a batch's slices take.
const MAX_BATCH: usize = 256;

/// A delivery with its first attempt, saved in one record.
struct Job {
    channel: String,
    /// Shared with the event that reports it: the delivery is not copied.
    forwarded: Arc<Exchange>,
    verdict: Verdict,
    attempt: Attempt,
    /// What the delivery says about itself as a webhook.
    facts: Option<WebhookFacts>,
    done: oneshot::Sender<Written>,
}

/// What saving a delivery did.
#[derive(Debug)]
pub struct Written {
    /// Saved (`true`), found saved already (`false`: a resend), or why not.
    pub saved: Result<bool, String>,
    /// The delivery's webhook facts, with whether its event arrived before
    /// (when it has an event id and was saved).
    pub webhook: Option<Recorded>,
}

/// A handle to the writer thread; the thread ends when every handle is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer on the history in `data_dir` (creating, upgrading
    /// and catching up its index first), and the indexer behind it,
    /// pruning to `keep` as it goes.
    pub fn start(data_dir: &Path, keep: Keep) -> Result<Writer, String> {
        let history = Arc::new(History::open(data_dir, keep)?);
        let reached = history.reached().map_err(|e| e.to_string())?;
        let appender = Appender::open(&history.log, reached)
            .map_err(|e| format!("cannot open the history log in {}: {e}", data_dir.display()))?;
        let indexer = Indexer::start(history.clone())?;
        let events = history
            .event_keys()
            .map_err(|e| format!("cannot read the history's events: {e}"))?;
        let duplicates = Duplicates::new(events.iter().map(|(p, e)| (p.as_str(), e.as_str())));
        drop(events);
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("hookhole-history".into())
            .spawn(move || run(&history, appender, &indexer, duplicates, &queue))
            .map_err(|e| format!("cannot start the history writer: {e}"))?;
        Ok(Writer { jobs })
    }

    /// Saves a delivery, its first attempt and its webhook facts.
    pub async fn record_exchange(
        &self,
        channel: &str,
        forwarded: Arc<Exchange>,
        verdict: &Verdict,
        facts: Option<WebhookFacts>,
        attempt: Attempt,
    ) -> Written {
        let stopped = || Written {
            saved: Err("the history writer stopped".to_string()),
            webhook: None,
        };
        let (done, result) = oneshot::channel();
        let job = Job {
            channel: channel.to_string(),
            forwarded,
            verdict: verdict.clone(),
            attempt,
            facts,
            done,
        };
        if self.jobs.send(job).is_err() {
            return stopped();
        }
        result.await.unwrap_or_else(|_| stopped())
    }
}

/// Which jobs of a batch are resends of deliveries saved already (in the
/// index, or earlier in the batch). Only a queued delivery can be one (the
/// relay resends what was not acknowledged), so only a batch with one
/// pays for catching the index up.
fn resends(history: &History, batch: &[Job]) -> Vec<bool> {
    if !batch.iter().any(|x| x.forwarded.delivery.queued) {
        return vec![false; batch.len()];
    }
    if let Err(e) = history.catch_up() {
        tracing::warn!("history: cannot index the newest records: {e}");
    }
    let mut seen = HashSet::new();
    batch
        .iter()
        .map(|x| {
            let d = &x.forwarded.delivery;
            let first_here = seen.insert((x.channel.as_str(), d.seq, d.id.as_str()));
            !first_here
                || (d.queued
                    && history
                        .contains_indexed(&x.channel, d.seq, &d.id)
                        .unwrap_or(false))
        })
        .collect()
}

fn run(
    history: &History,
    mut appender: Appender,
    indexer: &Indexer,
    mut duplicates: Duplicates,
    queue: &mpsc::Receiver<Job>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let resent = resends(history, &batch);
        let webhooks = arrivals(history, &mut duplicates, &mut batch, &resent);
        // Each job's record, or why it has none.
        let mut results: Vec<Result<bool, String>> = Vec::with_capacity(batch.len());
        let mut records: Vec<Outgoing<'_>> = Vec::with_capacity(batch.len());
        for ((x, &resent), webhook) in batch.iter().zip(&resent).zip(&webhooks) {
            if resent {
                results.push(Ok(false));
                continue;
            }
            let d = &x.forwarded.delivery;
            match entries::delivery(
                &x.channel,
                d,
                &x.verdict,
                Some(&x.attempt),
                webhook.as_ref(),
            ) {
                Ok(record) => {
                    records.push(record);
                    results.push(Ok(true));
                }
                Err(e) => results.push(Err(e.to_string())),
            }
        }
        if !records.is_empty()
            && let Err(e) = appender.append(&records)
        {
            let e = format!("cannot write the history log: {e}");
            for result in results.iter_mut().filter(|r| r.is_ok()) {
                *result = Err(e.clone());
            }
        }
        drop(records);
        // Arrivals not saved are not counted: undone newest first.
        for (webhook, result) in webhooks.iter().zip(&results).rev() {
            if let (Some(w), Err(_)) = (webhook, result)
                && let (Some(id), Some(arrival)) = (&w.facts.event_id, &w.arrival)
            {
                duplicates.undo(&w.facts.provider, id, arrival);
            }
        }
        // Callers hear "saved" only once the write returned.
        for ((x, saved), webhook) in batch.into_iter().zip(results).zip(webhooks) {
            let _ = x.done.send(Written { saved, webhook });
        }
        indexer.wake();
    }
}

/// Each job's webhook facts, with whether its event arrived before (in
/// the batch's order: a retry later in the batch counts the one before).
/// Resends are saved already: they are not counted again. The index is
/// caught up once, before its first lookup.
fn arrivals(
    history: &History,
    duplicates: &mut Duplicates,
    batch: &mut [Job],
    resent: &[bool],
) -> Vec<Option<Recorded>> {
    let mut caught_up = false;
    batch
        .iter_mut()
        .zip(resent)
        .map(|(x, &resent)| {
            let facts = x.facts.take()?;
            let arrival = match (&facts.event_id, resent) {
                (Some(id), false) => Some(duplicates.arrive(
                    &facts.provider,
                    id,
                    &x.forwarded.delivery.id,
                    |provider, id| -> Found {
                        if !std::mem::replace(&mut caught_up, true)
                            && let Err(e) = history.catch_up()
                        {
                            tracing::warn!("history: cannot index the newest records: {e}");
                        }
                        history
                            .last_arrival(provider, id)
                            .map_err(|e| tracing::warn!("history: cannot look up an event: {e}"))
                            .ok()
                            .flatten()
                    },
                )),
                _ => None,
            };
            Some(Recorded { facts, arrival })
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
            body: bytes::Bytes::from(vec![b'x'; 2048]),
        };
        let outcome = Ok(Response {
            id: delivery.id.clone(),
            status: 200,
            headers: Vec::new(),
            body: bytes::Bytes::new(),
        });
        Arc::new(Exchange { delivery, outcome })
    }

    fn first_attempt(forwarded: &Exchange) -> Attempt {
        let target = crate::target::Target::parse("3000").unwrap();
        Attempt::first(&forwarded.outcome, &target, 0, 1)
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
                .record_exchange("ch", forwarded, &verdict, None, attempt)
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
                    .record_exchange("ch", forwarded, &verdict, None, attempt)
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
                    .record_exchange("ch", x, &verdict, None, attempt)
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
                    .record_exchange("ch", x, &verdict, maple_event(event), attempt)
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
            .record_exchange("ch", x, &verdict, maple_event("e"), attempt)
            .await;
        assert_eq!(first.saved, Ok(true));
        let mut resent = Arc::into_inner(exchange(1)).unwrap();
        resent.delivery.queued = true;
        let resent = Arc::new(resent);
        let attempt = first_attempt(&resent);
        let again = writer
            .record_exchange("ch", resent, &verdict, maple_event("e"), attempt)
            .await;
        assert_eq!(again.saved, Ok(false));
        assert_eq!(again.webhook.unwrap().arrival, None);
        let x = exchange(2);
        let attempt = first_attempt(&x);
        let retry = writer
            .record_exchange("ch", x, &verdict, maple_event("e"), attempt)
            .await;
        assert_eq!(retry.webhook.unwrap().arrival.unwrap().seen, 2);
    }
}
