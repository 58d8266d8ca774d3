//! Reading a webhook body: bounded in size, and in time.
//!
//! A body must keep arriving. Two rules: the next bytes may take at most
//! `--body-timeout` (beyond it the body *stalled*: `body_timeout`), and the
//! body's time is cut into windows of that same length, counted from when
//! the body began, each of which must bring at least `--min-body-rate` ×
//! `--body-timeout` bytes (20 KiB by default; short of it the body is *too
//! slow*: `body_too_slow`). A window is judged by the first bytes after it
//! ends, so the cost per read is an addition and a comparison, a body that
//! is still inside its first window is never cut for its rate, and a sender
//! that sent a few bytes and then nothing is told it stalled, not that it
//! was slow: its next bytes never come, and the idle timeout cuts it.
//!
//! The rate is recent, not an average since the start: a sender that
//! front-loads most of a large body fast and then trickles a byte a second
//! has earned nothing by it and is cut by its first byte after its first
//! slow window, at most two windows (40 s by default) after it slowed down.
//! A stalled sender is cut after `--body-timeout`. A 25 MiB body at
//! 1 Mbit/s (about 122 KiB/s, some 2.4 MiB a window) is far above the
//! default and passes.

use bytes::Bytes;
use hookhole_shared::body_digest::BodyHasher;
use http_body_util::{BodyExt, Limited};
use std::time::Duration;
use tokio::time::Instant;

/// How fast a body must arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Longest wait for the next body bytes; also the length of the windows
    /// in which the rate is checked.
    pub timeout: Duration,
    /// Bytes per second, over each window of `timeout`; 0 checks no rate.
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
    /// The bytes each whole window must bring: `min_rate` × `timeout`.
    pub fn window_quota(&self) -> u64 {
        let quota = u128::from(self.min_rate).saturating_mul(self.timeout.as_millis()) / 1000;
        u64::try_from(quota).unwrap_or(u64::MAX)
    }
}

/// Where a body stands against its [`Pace`]: when its bytes last came, and
/// what the current window has brought so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    last: Instant,
    window_start: Instant,
    window_bytes: u64,
}

impl Progress {
    /// A body that begins at `began`: nothing received, the first window open.
    pub fn new(began: Instant) -> Self {
        Progress {
            last: began,
            window_start: began,
            window_bytes: 0,
        }
    }

    /// The latest moment the next bytes may arrive: after it, the body
    /// stalled. (A window short of its quota is judged by the bytes that
    /// come after it, in [`Progress::record`]; if none come, it stalled.)
    pub fn deadline(&self, pace: &Pace) -> Instant {
        self.last + pace.timeout
    }

    /// Counts `n` bytes that arrived at `now`, first closing every window
    /// that ended before it: a closed window short of its quota (or empty)
    /// makes the body too slow.
    pub fn record(&mut self, pace: &Pace, now: Instant, n: u64) -> Result<(), BodyError> {
        let window = pace.timeout.max(Duration::from_nanos(1));
        // Most reads fall in the open window: one comparison.
        if now >= self.window_start + window {
            let elapsed = now.saturating_duration_since(self.window_start);
            let closed = elapsed.as_nanos() / window.as_nanos();
            let quota = pace.window_quota();
            // Any window after the first closed one brought nothing.
            if self.window_bytes < quota || (closed > 1 && quota > 0) {
                return Err(BodyError::TooSlow(pace.min_rate));
            }
            // window × closed <= elapsed: the new start is not after `now`.
            let closed = u32::try_from(closed).unwrap_or(u32::MAX);
            self.window_start += window.saturating_mul(closed);
            self.window_bytes = 0;
        }
        self.last = now;
        self.window_bytes = self.window_bytes.saturating_add(n);
        Ok(())
    }
}

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Over the body limit, in bytes.
    TooLarge(usize),
    /// Nothing arrived for this long.
    Stalled(Duration),
    /// A whole window brought less than this many bytes per second.
    TooSlow(u64),
    /// The connection broke or the framing was invalid.
    Broken(String),
}

/// A request body as the HTTP server handed it over: never copied here,
/// hashed as it arrives.
pub struct Body {
    pub chunks: Vec<Bytes>,
    /// Its digest, as a delivery carries it (`body_blake3`).
    pub digest: String,
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
    let (mut chunks, mut hasher) = (Vec::new(), BodyHasher::new());
    let mut progress = Progress::new(Instant::now());
    loop {
        let deadline = progress.deadline(&pace);
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => return Err(BodyError::Stalled(pace.timeout)),
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
            progress.record(&pace, Instant::now(), data.len() as u64)?;
            hasher.update(&data);
            chunks.push(data);
        }
    }
    Ok(Body {
        chunks,
        digest: hasher.finish(),
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
    async fn a_few_bytes_then_silence_is_a_stall_not_a_slow_body() {
        let (tx, body) = channel_body();
        let began = Instant::now();
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            tx.send(data(b"{\"partial\":")).await.unwrap();
            // Held open, silent, until the reader gives up.
            tx.closed().await;
        });
        let result = read(body, 1 << 20, PACE).await;
        assert_eq!(result.err(), Some(BodyError::Stalled(PACE.timeout)));
        // Cut once nothing arrived for the timeout, not when the first
        // window ended short at 20 s.
        assert_eq!(began.elapsed(), Duration::from_millis(20_500));
        sender.await.unwrap();
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
        // Well over the window's quota, then nothing: the idle timeout cuts
        // it, as a stall.
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

    #[tokio::test(start_paused = true)]
    async fn a_fast_start_then_a_trickle_is_cut_when_its_first_slow_window_ends() {
        let (tx, body) = channel_body();
        let began = Instant::now();
        // 24 MiB at once, then a byte a second: at 1 KiB/s on average since
        // the start, the front-load alone would buy almost seven hours.
        let sender = tokio::spawn(async move {
            tx.send(data(&vec![7; 24 << 20])).await.unwrap();
            while tx.send(data(b"x")).await.is_ok() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let result = read(body, 25 << 20, PACE).await;
        assert_eq!(result.err(), Some(BodyError::TooSlow(1024)));
        // The first window [0 s, 20 s) met its quota with the front-load; the
        // second brought 20 bytes and is judged when it ends.
        assert_eq!(began.elapsed(), Duration::from_secs(40));
        sender.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_at_exactly_the_minimum_rate_passes() {
        let (tx, body) = channel_body();
        // 1 KiB every second for 100 s: each 20 s window brings exactly its
        // 20 KiB quota.
        let sender = tokio::spawn(async move {
            for _ in 0..100 {
                tx.send(data(&[1; 1024])).await.unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let body = read(body, 1 << 20, PACE).await.expect("the body passes");
        assert_eq!(body.len(), 100 * 1024);
        sender.await.unwrap();
    }

    #[test]
    fn the_deadline_is_the_idle_timeout_and_short_windows_are_judged_by_later_bytes() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut progress = Progress::new(t0);
        assert_eq!(progress.deadline(&PACE), t0 + s(20));
        // Short of its 20 KiB, the window still waits for the next bytes...
        progress.record(&PACE, t0 + s(5), 10).unwrap();
        assert_eq!(progress.deadline(&PACE), t0 + s(25));
        // ...and once it has its quota, the next window opens on time.
        progress.record(&PACE, t0 + s(15), 20 * 1024).unwrap();
        assert_eq!(progress.deadline(&PACE), t0 + s(35));
        progress.record(&PACE, t0 + s(25), 1).unwrap();
        assert_eq!(progress.deadline(&PACE), t0 + s(45));
        assert_eq!(
            progress.record(&PACE, t0 + s(40), 1),
            Err(BodyError::TooSlow(1024)),
            "the window [20 s, 40 s) brought 2 bytes"
        );
    }

    #[test]
    fn bytes_after_a_short_or_empty_window_are_refused() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut short = Progress::new(t0);
        short.record(&PACE, t0 + s(1), 100).unwrap();
        assert_eq!(
            short.record(&PACE, t0 + s(20), 100),
            Err(BodyError::TooSlow(1024))
        );
        // A full first window, then a whole window with nothing in it.
        let mut gap = Progress::new(t0);
        gap.record(&PACE, t0 + s(1), 1 << 20).unwrap();
        assert_eq!(
            gap.record(&PACE, t0 + s(40), 100),
            Err(BodyError::TooSlow(1024))
        );
        // Without a rate, windows are never judged.
        let free = Pace {
            min_rate: 0,
            ..PACE
        };
        let mut any = Progress::new(t0);
        any.record(&free, t0 + s(1), 1).unwrap();
        assert_eq!(any.record(&free, t0 + s(90), 1), Ok(()));
        assert_eq!(any.deadline(&free), t0 + s(110));
    }

    #[test]
    fn the_window_quota_is_rate_times_timeout_and_saturates() {
        assert_eq!(PACE.window_quota(), 20 * 1024);
        let (timeout, min_rate) = (Duration::MAX, u64::MAX);
        assert_eq!(Pace { timeout, min_rate }.window_quota(), u64::MAX);
    }
}
