//! Writes to the offline buffer on a thread of their own, many per commit.
//!
//! Every buffer commit waits for the disk (`synchronous=FULL`: a `202`
//! promises the delivery survives a crash). Done on the async runtime, one
//! sender's commit held a worker thread for the whole `fsync`, stalling
//! every other channel and websocket it served; done one at a time, a
//! burst of webhooks for an absent client went at the disk's pace of
//! `fsync`s. Here the webhooks waiting at a moment share one transaction,
//! and each sender is answered once its delivery is committed.

use crate::buffer::{Buffer, BufferError};
use std::sync::Arc;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Jobs per transaction at most, so one commit never waits too long.
const MAX_BATCH: usize = 256;

enum Job {
    /// Keep a delivery; answered once committed.
    Push {
        channel: String,
        seq: u64,
        id: String,
        frame: bytes::Bytes,
        done: oneshot::Sender<Result<(), BufferError>>,
    },
    /// A client saved these: the buffered copies may go.
    Ack { channel: String, seqs: Vec<u64> },
    /// Answered once every job before it is committed.
    Flush { done: oneshot::Sender<()> },
}

/// The buffer and a handle to its writer thread (writes go through the
/// thread, reads straight to the buffer); the thread ends when every handle
/// is dropped.
#[derive(Clone)]
pub struct BufferWriter {
    buffer: Arc<Buffer>,
    jobs: mpsc::Sender<Job>,
}

impl BufferWriter {
    pub fn start(buffer: Arc<Buffer>) -> Result<BufferWriter, String> {
        let (jobs, queue) = mpsc::channel();
        let written = buffer.clone();
        std::thread::Builder::new()
            .name("hookhole-buffer".into())
            .spawn(move || run(&written, &queue))
            .map_err(|e| format!("cannot start the buffer writer: {e}"))?;
        Ok(BufferWriter { buffer, jobs })
    }

    /// The buffer, to read.
    pub fn buffer(&self) -> &Arc<Buffer> {
        &self.buffer
    }

    /// Queues a delivery. Call it where the decision to buffer is made (the
    /// order of pushes and flushes is the order of these calls); the
    /// returned future ends once it is committed, or refused.
    pub fn push(
        &self,
        channel: &str,
        seq: u64,
        id: &str,
        frame: bytes::Bytes,
    ) -> impl Future<Output = Result<(), BufferError>> + use<> {
        let (done, result) = oneshot::channel();
        let sent = self.jobs.send(Job::Push {
            channel: channel.to_string(),
            seq,
            id: id.to_string(),
            frame,
            done,
        });
        async move {
            sent.map_err(|_| stopped())?;
            result.await.map_err(|_| stopped())?
        }
    }

    /// Drops buffered copies of deliveries a client saved; never waits.
    pub fn ack(&self, channel: &str, seqs: Vec<u64>) {
        if seqs.is_empty() {
            return;
        }
        let job = Job::Ack {
            channel: channel.to_string(),
            seqs,
        };
        if self.jobs.send(job).is_err() {
            tracing::warn!("the buffer writer stopped; an acknowledgement is lost");
        }
    }

    /// Ends once every push queued before it is committed.
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.jobs.send(Job::Flush { done }).is_ok() {
            let _ = flushed.await;
        }
    }
}

fn stopped() -> BufferError {
    BufferError::Storage("the buffer writer stopped".to_string())
}

fn run(buffer: &Buffer, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let began = buffer.begin();
        let mut pushed = Vec::new();
        let mut flushed = Vec::new();
        for job in batch {
            match job {
                Job::Push {
                    channel,
                    seq,
                    id,
                    frame,
                    done,
                } => {
                    pushed.push((buffer.push(&channel, seq, &id, &frame), done));
                }
                Job::Ack { channel, seqs } => {
                    for seq in seqs {
                        if let Err(e) = buffer.ack(&channel, seq) {
                            tracing::warn!(%channel, seq, "cannot release a buffered delivery: {e}");
                        }
                    }
                }
                Job::Flush { done } => flushed.push(done),
            }
        }
        let committed = began.and_then(|()| buffer.commit());
        if let Err(e) = &committed {
            tracing::error!("buffer commit failed: {e}");
            buffer.rollback();
        }
        // Senders hear "kept" only once the commit succeeded.
        for (result, done) in pushed {
            let result = match (&committed, result) {
                (Ok(()), result) => result,
                (Err(e), Ok(())) => Err(BufferError::Storage(e.to_string())),
                (Err(_), refused) => refused,
            };
            let _ = done.send(result);
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::Limits;
    use std::time::Duration;

    fn writer(limits: Limits) -> (tempfile::TempDir, BufferWriter) {
        let dir = tempfile::tempdir().unwrap();
        let buffer = Arc::new(Buffer::open(dir.path(), limits).unwrap());
        (dir, BufferWriter::start(buffer).unwrap())
    }

    /// Many senders at once: each is answered once its delivery is
    /// committed; one over the limit is refused, the others kept.
    #[tokio::test]
    async fn concurrent_pushes_commit_together_and_limits_still_hold() {
        let limits = Limits {
            count: 40,
            bytes: 1 << 20,
            age: Duration::from_secs(3600),
            ..Limits::default()
        };
        let (dir, writer) = writer(limits);
        let mut pushes = Vec::new();
        for seq in 1..=41u64 {
            pushes.push(tokio::spawn(writer.push(
                "ch",
                seq,
                &format!("d{seq}"),
                bytes::Bytes::from(seq.to_be_bytes().to_vec()),
            )));
        }
        let mut refused = 0;
        for push in pushes {
            match push.await.unwrap() {
                Ok(()) => {}
                Err(BufferError::TooMany(40)) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(refused, 1, "the 41st is over the limit");
        // Committed: a fresh connection sees all 40.
        drop(writer);
        let reopened = Buffer::open(dir.path(), limits).unwrap();
        assert_eq!(reopened.page("ch", None, u64::MAX).unwrap().len(), 40);
    }

    /// Acks are queued, a flush waits for them, and a client's last saved
    /// sequence number releases what it already has.
    #[tokio::test]
    async fn acks_and_saved_deliveries_go_once_flushed() {
        let (_dir, writer) = writer(Limits::default());
        let buffer = writer.buffer().clone();
        for seq in 1..=5u64 {
            writer
                .push(
                    "ch",
                    seq,
                    &format!("d{seq}"),
                    bytes::Bytes::from_static(b"x"),
                )
                .await
                .unwrap();
        }
        writer.ack("ch", vec![2]);
        writer.ack("ch", buffer.saved("ch", Some(3)));
        writer.flush().await;
        let left = buffer.seqs("ch", None, u64::MAX);
        assert_eq!(left, [4, 5]);
        assert_eq!(buffer.waiting_count(), 2);
    }
}
