//! Building the index behind the log, on a thread of its own.
//!
//! The writer wakes this thread after each batch; it catches the index up
//! with everything appended since (`index.rs`), prunes to `--keep` in the
//! same transaction, then removes what the prune let go (log segments,
//! body files of older versions), and rests. Indexing a few times a second
//! rather than after each batch puts hundreds of deliveries in one
//! transaction, which writes each page at the end of each tree once for
//! all of them, and keeps SQLite's commits and checkpoints (and their
//! `fsync`) away from the writer, which answers the deliveries.

use super::store::History;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

/// Rest between two catch-ups. Reads catch the index up themselves, so
/// this bounds how far behind the index gets, not what they find: at
/// 12,000 deliveries/s, about 2,400 rows per transaction.
const PAUSE: Duration = Duration::from_millis(200);

/// Wakes the indexer after writes; its thread ends when this is dropped.
pub struct Indexer {
    wake: SyncSender<()>,
}

impl Indexer {
    pub fn start(history: Arc<History>) -> Result<Indexer, String> {
        let (wake, woken) = sync_channel(1);
        std::thread::Builder::new()
            .name("hookhole-index".into())
            .spawn(move || run(&history, &woken))
            .map_err(|e| format!("cannot start the history indexer: {e}"))?;
        Ok(Indexer { wake })
    }

    /// Says something was appended; never blocks (one pending wake-up is
    /// as good as many).
    pub fn wake(&self) {
        if let Err(TrySendError::Disconnected(())) = self.wake.try_send(()) {
            tracing::debug!("the history indexer stopped");
        }
    }
}

fn run(history: &History, woken: &Receiver<()>) {
    while woken.recv().is_ok() {
        index(history);
        // Writes during the rest leave one wake-up behind: the next pass.
        std::thread::sleep(PAUSE);
    }
    // The writer stopped (the listener is quitting): what it wrote last
    // is indexed now rather than by the next reader.
    index(history);
}

fn index(history: &History) {
    if let Err(e) = history.catch_up() {
        tracing::warn!("history: cannot index the log: {e}");
    }
    history.drop_segments_if_due();
    history.sweep_bodies_if_due();
}
