//! The history's writer: one thread with its own connection, committing
//! whatever is queued in one transaction. Under load, dozens of deliveries
//! share one commit instead of paying one each, and the async side pays a
//! channel send instead of a thread-pool hop per write.
//!
//! Callers still wait for their write to be committed (a delivery is saved
//! before it is answered or acknowledged), so batching changes the cost,
//! not the guarantee.

use super::checkpoint::Checkpointer;
use super::store::{Attempt, Keep};
use crate::events::Exchange;
use hookhole_shared::signature::Verdict;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Writes per transaction at most, so one commit never waits too long.
const MAX_BATCH: usize = 256;

/// WAL pages (of 4 KiB) after which the writer checkpoints itself: 64 MiB.
/// SQLite's default, 1,000 pages, had the writer checkpoint (and wait for
/// the disk) every few thousand deliveries under load even though the
/// checkpointer had copied most pages already: a quarter of its time, and
/// the 99th percentile latency.
const WRITER_CHECKPOINT_PAGES: u32 = 16_384;

/// What the WAL file is cut back to when it starts over, if a reader kept
/// it from starting over for longer than that. Not less: growing the file
/// again costs more than the checkpoints saved.
const WAL_KEEP_BYTES: i64 = WRITER_CHECKPOINT_PAGES as i64 * 4096;

/// A delivery with its first attempt, saved in one write.
struct Job {
    channel: String,
    /// Shared with the event that reports it: the delivery is not copied.
    forwarded: Arc<Exchange>,
    verdict: Verdict,
    attempt: Attempt,
    done: oneshot::Sender<Result<bool, String>>,
}

/// A handle to the writer thread; the thread ends when every handle is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer on the history database in `data_dir`, pruning
    /// it to `keep` as it goes.
    pub fn start(data_dir: &Path, keep: Keep) -> Result<Writer, String> {
        let history = super::History::open(data_dir, keep)?;
        let checkpointer = Checkpointer::start(history.path())?;
        history.checkpoint_only_after(WRITER_CHECKPOINT_PAGES, WAL_KEEP_BYTES)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("hookhole-history".into())
            .spawn(move || run(&history, &checkpointer, &queue))
            .map_err(|e| format!("cannot start the history writer: {e}"))?;
        Ok(Writer { jobs })
    }

    /// Saves a delivery and its first attempt once committed; `Ok(false)`
    /// when the delivery was stored already.
    pub async fn record_exchange(
        &self,
        channel: &str,
        forwarded: Arc<Exchange>,
        verdict: &Verdict,
        attempt: Attempt,
    ) -> Result<bool, String> {
        let (done, result) = oneshot::channel();
        let job = Job {
            channel: channel.to_string(),
            forwarded,
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
}

fn save(history: &super::History, x: &Job) -> Result<bool, String> {
    let delivery = &x.forwarded.delivery;
    let pk = history
        .insert_delivery(&x.channel, delivery, &x.verdict)
        .map_err(|e| e.to_string())?;
    if let Some(pk) = pk {
        history
            .record_attempt_at(pk, &x.attempt)
            .map_err(|e| e.to_string())?;
    }
    Ok(pk.is_some())
}

fn run(history: &super::History, checkpointer: &Checkpointer, queue: &mpsc::Receiver<Job>) {
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
                let saved = batch
                    .drain(..)
                    .map(|x| {
                        let result = save(history, &x);
                        (x, result)
                    })
                    .collect::<Vec<_>>();
                if let Err(e) = history.prune_if_due() {
                    tracing::warn!("history: cannot apply --keep: {e}");
                }
                saved
            },
            // Callers hear "saved" only once the commit succeeded.
            |results, committed| {
                for (x, result) in results {
                    let result = match committed {
                        Ok(()) => result,
                        Err(e) => Err(e.clone()),
                    };
                    let _ = x.done.send(result);
                }
            },
        );
        checkpointer.committed();
        history.sweep_bodies_if_due();
    }
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
            let target = crate::target::Target::parse("3000").unwrap();
            let attempt = Attempt::first(&forwarded.outcome, &target, 0, 1);
            let saved = writer
                .record_exchange("ch", forwarded, &verdict, attempt)
                .await;
            assert_eq!(saved, Ok(true), "d{n}");
        }
        let history = super::super::History::open_existing(dir.path()).unwrap();
        assert_eq!(
            history.recent_ids(10).unwrap(),
            ["d2"],
            "the older one went"
        );
    }

    /// The writer's own checkpoints wait for 64 MiB of WAL; 50 small
    /// deliveries reach the database file only through the checkpointer.
    #[tokio::test]
    async fn committed_pages_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let keep = Keep::count_only(1000);
        drop(super::super::History::open(dir.path(), keep).unwrap());
        let file = dir.path().join(super::super::FILE_NAME);
        let before = std::fs::metadata(&file).unwrap().len();
        let writer = Writer::start(dir.path(), keep).unwrap();
        let verdict = crate::history::store::unverified();
        for n in 0..50 {
            let forwarded = exchange(n);
            let target = crate::target::Target::parse("3000").unwrap();
            let attempt = Attempt::first(&forwarded.outcome, &target, 0, 1);
            assert_eq!(
                writer
                    .record_exchange("ch", forwarded, &verdict, attempt)
                    .await,
                Ok(true)
            );
        }
        // 50 rows of 2 KiB: at least 100 KiB more in the file once copied.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&file).unwrap().len() < before + 100 * 1024 {
            assert!(Instant::now() < deadline, "no checkpoint reached the file");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
