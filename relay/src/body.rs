//! Reading a webhook body: bounded in size, and in time.
//!
//! A body must keep arriving. Two rules, one deadline: the next bytes may
//! take at most `--body-timeout`, and once that long has passed since the
//! body began, everything so far must have come at `--min-body-rate` on
//! average. A stalled sender, or one trickling a byte a second, is cut
//! after `--body-timeout`; a 25 MiB body at 1 Mbit/s (about 122 KiB/s)
//! is far above the default rate and passes.
//!
//! The rate is an average since the body began: a sender that front-loads
//! a large body earns time it may then spend slowly, but never more than
//! `--body-timeout` between two reads, and never more than the body limit
//! divided by the rate in all.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::time::Instant;

/// How fast a body must arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Longest wait for the next body bytes; also the grace period before
    /// the rate is checked.
    pub timeout: Duration,
    /// Bytes per second, on average since the body began; 0 checks no rate.
    pub min_rate: u64,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            timeout: Duration::from_secs(20),
            min_rate: 1024,
        }
    }
}

impl Pace {
    /// The latest moment the next bytes may arrive, for a body that began
    /// at `began`, last delivered bytes at `last`, and has sent `received`.
    pub fn deadline(&self, began: Instant, last: Instant, received: u64) -> Instant {
        let idle = last + self.timeout;
        if self.min_rate == 0 {
            return idle;
        }
        // `received` bytes at `min_rate` entitle the sender to this long.
        let earned = Duration::from_secs_f64(received as f64 / self.min_rate as f64);
        idle.min(began + self.timeout.max(earned))
    }
}

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Over the body limit, in bytes.
    TooLarge(usize),
    /// Nothing arrived for this long.
    Stalled(Duration),
    /// Slower on average than this many bytes per second.
    TooSlow(u64),
    /// The connection broke or the framing was invalid.
    Broken(String),
}

/// A request body as the HTTP server handed it over: never copied here,
/// hashed as it arrives.
pub struct Body {
    pub chunks: Vec<Bytes>,
    pub sha256: [u8; 32],
}

impl Body {
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(Bytes::is_empty)
    }
}

/// Reads `body` whole, within `limit` bytes and at `pace`.
pub async fn read<B>(body: B, limit: usize, pace: Pace) -> Result<Body, BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = Limited::new(body, limit);
    let (mut chunks, mut hasher) = (Vec::new(), Sha256::new());
    let began = Instant::now();
    let (mut last, mut received) = (began, 0u64);
    loop {
        let deadline = pace.deadline(began, last, received);
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) if last + pace.timeout <= deadline => {
                return Err(BodyError::Stalled(pace.timeout));
            }
            Err(_) => return Err(BodyError::TooSlow(pace.min_rate)),
        };
        let frame = frame.map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                BodyError::TooLarge(limit)
            } else {
                BodyError::Broken(e.to_string())
            }
        })?;
        // Trailers carry nothing a webhook needs; they are dropped.
        if let Ok(data) = frame.into_data()
            && !data.is_empty()
        {
            last = Instant::now();
            received += data.len() as u64;
            hasher.update(&data);
            chunks.push(data);
        }
    }
    Ok(Body {
        chunks,
        sha256: hasher.finalize().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;
    use hyper::body::Frame;
    use tokio::sync::mpsc;

    type Chunk = Result<Frame<Bytes>, std::io::Error>;

    /// A body fed by the test through a channel.
    fn channel_body() -> (
        mpsc::Sender<Chunk>,
        StreamBody<impl futures_util::Stream<Item = Chunk> + Unpin>,
    ) {
        let (tx, rx) = mpsc::channel(16);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        (tx, StreamBody::new(Box::pin(stream)))
    }

    fn data(bytes: &[u8]) -> Chunk {
        Ok(Frame::data(Bytes::copy_from_slice(bytes)))
    }

    const PACE: Pace = Pace {
        timeout: Duration::from_secs(20),
        min_rate: 1024,
    };

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_is_cut_after_the_timeout() {
        let (tx, body) = channel_body();
        tx.send(data(b"{\"partial\":")).await.unwrap();
        let began = Instant::now();
        let result = read(body, 1 << 20, PACE).await;
        assert!(
            matches!(result, Err(BodyError::Stalled(_))),
            "{:?}",
            result.err()
        );
        assert_eq!(began.elapsed(), Duration::from_secs(20));
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_trickling_a_byte_a_second_is_cut_once_the_grace_is_over() {
        let (tx, body) = channel_body();
        let began = Instant::now();
        let trickle = tokio::spawn(async move {
            while tx.send(data(b"x")).await.is_ok() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let result = read(body, 1 << 20, PACE).await;
        assert!(
            matches!(result, Err(BodyError::TooSlow(1024))),
            "{:?}",
            result.err()
        );
        assert!(began.elapsed() <= Duration::from_secs(60));
        trickle.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_fast_start_then_silence_is_cut_by_the_idle_timeout() {
        let (tx, body) = channel_body();
        // 1 MiB earns 1024 s at 1 KiB/s: only the idle timeout applies.
        tx.send(data(&vec![0; 1 << 20])).await.unwrap();
        let began = Instant::now();
        let result = read(body, 4 << 20, PACE).await;
        assert!(
            matches!(result, Err(BodyError::Stalled(_))),
            "{:?}",
            result.err()
        );
        assert_eq!(began.elapsed(), Duration::from_secs(20));
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn twenty_five_mib_at_one_megabit_passes() {
        let (tx, body) = channel_body();
        // 1 Mbit/s: 125 000 bytes a second, sent as 12 500 bytes every 100 ms.
        let total = 25 << 20;
        let send = tokio::spawn(async move {
            let mut left: usize = total;
            while left > 0 {
                let n = left.min(12_500);
                tx.send(data(&vec![7; n])).await.unwrap();
                left -= n;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let began = Instant::now();
        let body = read(body, total, PACE).await.expect("the body passes");
        assert_eq!(body.len(), total);
        assert!(
            began.elapsed() > Duration::from_secs(200),
            "sent at 1 Mbit/s"
        );
        send.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_rate_only_the_idle_timeout_applies() {
        let (tx, body) = channel_body();
        let pace = Pace {
            min_rate: 0,
            ..PACE
        };
        let trickle = tokio::spawn(async move {
            for _ in 0..100 {
                tx.send(data(b"x")).await.unwrap();
                tokio::time::sleep(Duration::from_secs(19)).await;
            }
        });
        let body = read(body, 1 << 20, pace).await.unwrap();
        assert_eq!(body.len(), 100);
        trickle.await.unwrap();
    }

    #[test]
    fn the_deadline_is_the_earlier_of_idle_and_earned_time() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(PACE.deadline(t0, t0, 0), t0 + s(20));
        assert_eq!(PACE.deadline(t0, t0 + s(5), 10), t0 + s(20));
        // 100 KiB earns 100 s; the last bytes at 90 s allow until 110 s.
        assert_eq!(PACE.deadline(t0, t0 + s(90), 100 * 1024), t0 + s(100));
        assert_eq!(PACE.deadline(t0, t0 + s(70), 100 * 1024), t0 + s(90));
    }
}
