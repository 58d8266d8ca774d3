//! Appending to the history's log (`log.rs`): batches of records after the
//! last valid one in the newest segment, a new segment when it is full.

use super::log::{Bad, Log, Outgoing, Part, scan_segment};
use hookhole_host::private_files;
use std::fs::File;
use std::io::{self, IoSlice, Seek as _, SeekFrom, Write as _};

const LOCK_NAME: &str = "append.lock";

/// Appends batches of records to the newest segment. Appenders in other
/// processes (`hookhole replay` beside a listener) take turns through a
/// lock file; each checks, under the lock, that the file ends where it
/// left it, and otherwise checks what was added since (cutting off a torn
/// record a killed appender left).
pub struct Appender {
    log: Log,
    lock: File,
    segment: File,
    base: u64,
    /// The segment is known to hold valid records up to here.
    checked: u64,
}

impl Appender {
    /// Opens the newest segment. `indexed` is the offset the index has
    /// reached: the records before it are known valid (which saves reading
    /// them again), and a log that ends before it (none yet, or removed by
    /// hand) goes on from there, so offsets never go back.
    pub fn open(log: &Log, indexed: u64) -> io::Result<Appender> {
        let log = log.clone();
        private_files::create_dir(log.dir())?;
        let lock = private_files::open_read_write(&log.dir().join(LOCK_NAME))?;
        lock.lock()?;
        let opened = (|| {
            let base = match log.segments()?.last() {
                Some(&base) if log.end()? >= indexed => base,
                _ => indexed,
            };
            let segment = private_files::open_append(&log.path(base))?;
            Ok(Appender {
                checked: indexed.saturating_sub(base),
                log,
                lock: lock.try_clone()?,
                segment,
                base,
            })
        })();
        lock.unlock()?;
        opened
    }

    /// Writes `records` (sealed) after the last record, in one `writev`
    /// when the kernel takes it all; returns the offset of the first.
    pub fn append(&mut self, records: &[Outgoing<'_>]) -> io::Result<u64> {
        self.lock.lock()?;
        let written = self.append_locked(records);
        let unlocked = self.lock.unlock();
        let offset = written?;
        unlocked?;
        Ok(offset)
    }

    fn append_locked(&mut self, records: &[Outgoing<'_>]) -> io::Result<u64> {
        let mut size = self.segment.seek(SeekFrom::End(0))?;
        if size != self.checked || self.log.path(self.base + size).exists() {
            size = self.check_newest()?;
        }
        if size >= self.log.segment_bytes {
            self.start_segment(self.base + size)?;
            size = 0;
        }
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(records.len() * 3);
        for r in records {
            slices.push(IoSlice::new(&r.head));
            slices.extend(r.tail.iter().map(|p| IoSlice::new(p)));
        }
        let total: u64 = records.iter().map(Outgoing::size).sum();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match self.segment.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // What was written of the batch is a torn record now:
                    // cut it off, so the next batch follows valid ones.
                    let _ = self.segment.set_len(size);
                    return Err(e);
                }
            }
        }
        self.checked = size + total;
        Ok(self.base + size)
    }

    /// Moves to the newest segment, if another appender started one, and
    /// checks what others appended to it since we last wrote: a torn
    /// record at its end is cut off; after a damaged one, a new segment
    /// starts. Returns the segment's valid size.
    fn check_newest(&mut self) -> io::Result<u64> {
        if let Some(&newest) = self.log.segments()?.last()
            && newest != self.base
        {
            self.segment = private_files::open_append(&self.log.path(newest))?;
            self.base = newest;
            self.checked = 0;
        }
        let file = private_files::open_read(&self.log.path(self.base))?;
        if self.checked > file.metadata()?.len() {
            self.checked = 0;
        }
        let (reached, bad) = scan_segment(
            &file,
            self.base,
            self.base + self.checked,
            Part::Whole,
            &mut |_| Ok(()),
        )?;
        let size = reached - self.base;
        match bad {
            None => {}
            Some(Bad::Torn) => {
                tracing::warn!("history log: cut off a record left unfinished at offset {reached}");
                self.segment.set_len(size)?;
            }
            Some(Bad::Damaged(why)) => {
                let end = self.base + file.metadata()?.len();
                tracing::warn!(
                    "history log: damaged at offset {reached} ({why}); new records go to a new segment"
                );
                self.start_segment(end)?;
                return Ok(0);
            }
        }
        self.checked = size;
        Ok(size)
    }

    fn start_segment(&mut self, base: u64) -> io::Result<()> {
        self.segment = private_files::open_append(&self.log.path(base))?;
        self.base = base;
        self.checked = 0;
        Ok(())
    }
}
