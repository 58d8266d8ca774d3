//! Copying the WAL back into the database on a thread of its own.
//!
//! A checkpoint copies every page committed since the last one and syncs
//! the file: done by the writer after a commit (SQLite's default), it stalls
//! every delivery waiting on the next commit, for tens of milliseconds when
//! the WAL is large. Here a second connection copies pages while the writer
//! goes on committing. The WAL starts over from its beginning at the first
//! commit after a checkpoint that copied all of it: after any pause in the
//! traffic. Under sustained load the writer checkpoints itself once the WAL
//! reaches 64 MiB (see `writer.rs`), a backstop that finds little to copy.

use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

/// Pause between two checkpoints, so a busy writer's pages are copied in
/// batches rather than one commit at a time: each checkpoint ends with an
/// `fsync`, and the pages every commit rewrites (the ends of the indexes)
/// are copied once per checkpoint, not once per commit. 250 ms rather than
/// 20 ms cut the client's CPU per delivery by 5-8% under load; the WAL
/// then holds about 10 MB at 12,000 deliveries/s, well inside the writer's
/// 64 MiB backstop.
const PAUSE: Duration = Duration::from_millis(250);

/// Wakes the checkpointer after commits; its thread ends when this is dropped.
pub struct Checkpointer {
    wake: SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread on the database at `path` (which must exist).
    pub fn start(path: &Path) -> Result<Checkpointer, String> {
        let conn = Connection::open(path)
            .and_then(|c| c.busy_timeout(Duration::from_secs(5)).map(|()| c))
            .map_err(|e| format!("cannot open {} to checkpoint it: {e}", path.display()))?;
        let (wake, woken) = sync_channel(1);
        std::thread::Builder::new()
            .name("hookhole-checkpoint".into())
            .spawn(move || run(&conn, &woken))
            .map_err(|e| format!("cannot start the history checkpointer: {e}"))?;
        Ok(Checkpointer { wake })
    }

    /// Says something was committed; never blocks (one pending wake-up is
    /// as good as many).
    pub fn committed(&self) {
        if let Err(TrySendError::Disconnected(())) = self.wake.try_send(()) {
            tracing::debug!("the history checkpointer stopped");
        }
    }
}

fn run(conn: &Connection, woken: &Receiver<()>) {
    while woken.recv().is_ok() {
        // PASSIVE: copy what no reader still needs, never wait for anyone.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!("history checkpoint: {e}");
        }
        // Commits during the pause leave one wake-up behind: the next pass.
        std::thread::sleep(PAUSE);
    }
}
