//! Large bodies live in files beside the database, not in it.
//!
//! In the database a body is written twice (into the WAL, then by the
//! checkpoint into the file) as a chain of 4 KiB pages, two `pwrite`s each:
//! for a 1 MiB body that was most of the client's work. A file is one
//! `write`. Small bodies stay in their rows, where one page holds them.
//!
//! The row names its file; a file is written before its row is committed,
//! so a committed row always finds its file. A crash in between leaves a
//! file no row names: [`Bodies::sweep`] removes those, and the files of
//! pruned deliveries, once they are old enough that no writer can still be
//! about to commit a row naming them.

use hookhole_host::{bounded_read, private_files};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Bodies up to this size stay in the database.
pub const INLINE_MAX: usize = 64 * 1024;

/// The largest body file read back: bodies are bounded by the relay's and
/// the forwarder's limits (25 MiB by default, configurable), so a larger
/// file is not one hookhole wrote.
const FILE_MAX: u64 = 1 << 30;

/// The folder inside the data dir.
pub const DIR_NAME: &str = "bodies";

/// An unreferenced file younger than this may belong to a row another
/// connection (a replay in another process) has not committed yet.
const SWEEP_AFTER: Duration = Duration::from_secs(60);

pub struct Bodies {
    dir: PathBuf,
}

impl Bodies {
    pub fn new(data_dir: &Path) -> Bodies {
        Bodies {
            dir: data_dir.join(DIR_NAME),
        }
    }

    /// Writes `body` to a new file when it is too large to keep inline, and
    /// returns the file's name for the row.
    pub fn put(&self, body: &[u8]) -> std::io::Result<Option<String>> {
        if body.len() <= INLINE_MAX {
            return Ok(None);
        }
        private_files::create_dir(&self.dir)?;
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(std::io::Error::other)?;
        let name = hex::encode(random);
        let written = private_files::create_new(&self.dir.join(&name))
            .and_then(|mut file| file.write_all(body));
        match written {
            Ok(()) => Ok(Some(name)),
            Err(e) => {
                self.remove(&name);
                Err(self.error("cannot write", &name, e))
            }
        }
    }

    /// Whether any body was ever kept in a file here.
    pub fn any(&self) -> bool {
        self.dir.is_dir()
    }

    /// The body stored under `name`.
    pub fn get(&self, name: &str) -> std::io::Result<Vec<u8>> {
        // Names come from our own rows; anything else is not ours to open.
        if !is_name(name) {
            return Err(std::io::Error::other(format!(
                "the history names a body file {name:?} that hookhole did not write"
            )));
        }
        bounded_read::read_file(&self.dir.join(name), FILE_MAX)
            .map_err(|e| self.error("cannot read", name, e))
    }

    /// The size of the body stored under `name`; 0 when it is unreadable.
    pub fn len(&self, name: &str) -> u64 {
        if !is_name(name) {
            return 0;
        }
        std::fs::metadata(self.dir.join(name)).map_or(0, |m| m.len())
    }

    /// Removes a file written for a row that was not stored after all.
    pub fn remove(&self, name: &str) {
        let _ = std::fs::remove_file(self.dir.join(name));
    }

    /// Removes every file no row names (`referenced`) that is old enough;
    /// returns how many it removed.
    pub fn sweep(&self, referenced: &HashSet<String>) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_name(&name) || referenced.contains(&name) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| now.duration_since(at).unwrap_or_default() >= SWEEP_AFTER);
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    fn error(&self, what: &str, name: &str, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(
            e.kind(),
            format!("{what} {}: {e}", self.dir.join(name).display()),
        )
    }
}

/// The names [`Bodies::put`] makes: 32 lowercase hex digits.
fn is_name(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
