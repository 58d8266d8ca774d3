//! The history's writer: one thread with its own connection, committing
//! whatever is queued in one transaction. Under load, dozens of deliveries
//! share one commit instead of paying one each, and the async side pays a
//! channel send instead of a thread-pool hop per write.
//!
//! Callers still wait for their write to be committed (a delivery is saved
//! before it is answered or acknowledged), so batching changes the cost,
//! not the guarantee.

use super::store::StoredAttempt;
use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::Verdict;
use std::path::Path;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Writes per transaction at most, so one commit never waits too long.
const MAX_BATCH: usize = 256;

enum Job {
    Delivery {
        channel: String,
        delivery: Delivery,
        verdict: Verdict,
        done: oneshot::Sender<Result<bool, String>>,
    },
    Attempt {
        id: String,
        attempt: StoredAttempt,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// A delivery with its first attempt, in one write.
    Exchange {
        channel: String,
        delivery: Delivery,
        verdict: Verdict,
        attempt: StoredAttempt,
        done: oneshot::Sender<Result<bool, String>>,
    },
}

/// A handle to the writer thread; the thread ends when every handle is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer on the history database in `data_dir` (opened,
    /// and created if needed, by [`super::History::open`] first).
    pub fn start(data_dir: &Path) -> Result<Writer, String> {
        let history = super::History::open_existing(data_dir)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("hookhole-history".into())
            .spawn(move || run(&history, &queue))
            .map_err(|e| format!("cannot start the history writer: {e}"))?;
        Ok(Writer { jobs })
    }

    /// Saves a delivery; `Ok(false)` when its id is already stored.
    pub async fn record_delivery(
        &self,
        channel: &str,
        delivery: &Delivery,
        verdict: &Verdict,
    ) -> Result<bool, String> {
        let (done, result) = oneshot::channel();
        let job = Job::Delivery {
            channel: channel.to_string(),
            delivery: delivery.clone(),
            verdict: verdict.clone(),
            done,
        };
        self.jobs
            .send(job)
            .map_err(|_| "the history writer stopped".to_string())?;
        result
            .await
            .map_err(|_| "the history writer stopped".to_string())?
    }

    /// Saves a delivery and its first attempt together (one write, not
    /// two); `Ok(false)` when the delivery was stored already.
    pub async fn record_exchange(
        &self,
        channel: &str,
        delivery: &Delivery,
        verdict: &Verdict,
        attempt: StoredAttempt,
    ) -> Result<bool, String> {
        let (done, result) = oneshot::channel();
        let job = Job::Exchange {
            channel: channel.to_string(),
            delivery: delivery.clone(),
            verdict: verdict.clone(),
            attempt,
            done,
        };
        self.jobs
            .send(job)
            .map_err(|_| "the history writer stopped".to_string())?;
        result
            .await
            .map_err(|_| "the history writer stopped".to_string())?
    }

    pub async fn record_attempt(&self, id: &str, attempt: StoredAttempt) -> Result<(), String> {
        let (done, result) = oneshot::channel();
        let job = Job::Attempt {
            id: id.to_string(),
            attempt,
            done,
        };
        self.jobs
            .send(job)
            .map_err(|_| "the history writer stopped".to_string())?;
        result
            .await
            .map_err(|_| "the history writer stopped".to_string())?
    }
}

fn run(history: &super::History, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        history.in_transaction(
            |history| {
                // Results are held until the commit: a caller hears "saved"
                // only once it is.
                let results: Vec<(Job, Result<Option<bool>, String>)> = batch
                    .drain(..)
                    .map(|job| {
                        let result = match &job {
                            Job::Delivery {
                                channel,
                                delivery,
                                verdict,
                                ..
                            } => history
                                .record_delivery(channel, delivery, verdict)
                                .map(Some)
                                .map_err(|e| e.to_string()),
                            Job::Exchange {
                                channel,
                                delivery,
                                verdict,
                                attempt,
                                ..
                            } => history
                                .record_delivery(channel, delivery, verdict)
                                .and_then(|new| {
                                    if new {
                                        history.record_attempt(&delivery.id, attempt)?;
                                    }
                                    Ok(Some(new))
                                })
                                .map_err(|e| e.to_string()),
                            Job::Attempt { id, attempt, .. } => history
                                .record_attempt(id, attempt)
                                .map(|()| None)
                                .map_err(|e| e.to_string()),
                        };
                        (job, result)
                    })
                    .collect();
                results
            },
            |results, committed| {
                for (job, result) in results {
                    let result = match committed {
                        Ok(()) => result,
                        Err(e) => Err(e.clone()),
                    };
                    match job {
                        Job::Delivery { done, .. } | Job::Exchange { done, .. } => {
                            let _ = done.send(result.map(|r| r.unwrap_or(false)));
                        }
                        Job::Attempt { done, .. } => {
                            let _ = done.send(result.map(drop));
                        }
                    }
                }
            },
        );
    }
}
