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
use crate::route::Label;
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
    /// The route that took it.
    route: Option<Label>,
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
        route: Option<Label>,
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
            route,
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
                x.route.as_ref(),
                x.forwarded.heard,
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
#[path = "writer_tests.rs"]
mod tests;
