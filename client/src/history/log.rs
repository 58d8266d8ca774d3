//! The history's log: the record of truth. Every delivery (with its first
//! attempt) and every later attempt is one record appended to it, in
//! batches, one `writev` per batch into the page cache; the SQLite database
//! is an index built behind it (`index.rs`).
//!
//! ```text
//! history-log/00000000000000000000.log   records from offset 0
//! history-log/00000000000067108950.log   records from offset 67,108,950
//!
//! record: | 0xA7 | kind | 0, 0 | length | head length | head CRC | bodies CRC | payload |
//!           1 byte  1 byte 2 bytes  u32 LE   u32 LE        u32 LE     u32 LE       `length` bytes
//!
//! The payload's first `head length` bytes are its head (what the index
//! needs, and the header lists), the rest its bodies; the head's CRC-32
//! covers the record's first 12 bytes and the head, the bodies' CRC-32 the
//! bodies. Indexing reads and checks heads only, and skips the bodies (a
//! 1 MiB body is not read back to index it); every full read checks both.
//! ```
//!
//! Offsets are global: a segment's file is named by the offset of its first
//! byte, and a new segment starts once the newest holds 64 MiB. Retention
//! deletes whole segments (`retention.rs`).
//!
//! Every byte read back is checked before it is believed: the magic byte,
//! a known kind, a length of at most [`RECORD_MAX`] that ends inside the
//! file, a head no longer than the record, and the checksums. A record cut short at the end of the newest
//! segment (the process was killed in the middle of a `write`) is *torn*:
//! the next appender cuts it off, under the append lock, before writing.
//! Anything else invalid is *damaged*: readers skip to the next segment,
//! and appenders start a new one rather than write after it.

use hookhole_host::private_files;
use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

/// The folder inside the data dir.
pub const DIR_NAME: &str = "history-log";

/// A new segment starts once the newest holds this much.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// The largest payload a record may claim: bodies are bounded by the
/// relay's and the forwarder's limits (25 MiB by default, configurable),
/// and a record holds at most a request and a response. A larger length
/// is not one hookhole wrote.
pub const RECORD_MAX: u32 = 1 << 30;

pub const HEADER_LEN: usize = 20;
const MAGIC: u8 = 0xA7;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A delivery, with its first attempt when it had one.
    Delivery = 1,
    /// A later attempt at a delivery saved earlier (a replay).
    Attempt = 2,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Delivery),
            2 => Some(Kind::Attempt),
            _ => None,
        }
    }
}

/// A record read back, checked: its whole payload, or (see [`Part`]) its
/// head only.
#[derive(Debug)]
pub struct Record {
    pub offset: u64,
    pub kind: Kind,
    pub payload: Vec<u8>,
    /// The whole payload's length (more than `payload.len()` when only
    /// the head was read).
    pub len: u32,
}

impl Record {
    /// The offset just past this record.
    pub fn end(&self) -> u64 {
        self.offset + HEADER_LEN as u64 + u64::from(self.len)
    }
}

/// How much of each record a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Whole,
    /// The head, checked; the bodies are skipped, unread.
    Head,
}

/// A record to append: its head (the header, then the start of the
/// payload, written by the caller) and the rest of the payload borrowed,
/// so bodies are never copied on their way to the file.
pub struct Outgoing<'a> {
    pub(super) head: Vec<u8>,
    pub(super) tail: Vec<&'a [u8]>,
}

impl<'a> Outgoing<'a> {
    pub fn new(kind: Kind) -> Outgoing<'a> {
        let mut head = Vec::with_capacity(512);
        head.extend_from_slice(&[MAGIC, kind as u8]);
        head.resize(HEADER_LEN, 0);
        Outgoing {
            head,
            tail: Vec::new(),
        }
    }

    /// Where the payload's first bytes are written.
    pub fn head(&mut self) -> &mut Vec<u8> {
        &mut self.head
    }

    /// Appends `bytes` to the payload, after the head.
    pub fn push(&mut self, bytes: &'a [u8]) {
        if !bytes.is_empty() {
            self.tail.push(bytes);
        }
    }

    /// Fills in the lengths and the checksums.
    pub fn seal(&mut self) -> io::Result<()> {
        let len = self.size() - HEADER_LEN as u64;
        let len = u32::try_from(len)
            .ok()
            .filter(|&l| l <= RECORD_MAX)
            .ok_or_else(|| invalid(format!("a record of {len} bytes is over the limit")))?;
        let head_len = (self.head.len() - HEADER_LEN) as u32;
        self.head[4..8].copy_from_slice(&len.to_le_bytes());
        self.head[8..12].copy_from_slice(&head_len.to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&self.head[..12]);
        crc.update(&self.head[HEADER_LEN..]);
        self.head[12..16].copy_from_slice(&crc.finalize().to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        for part in &self.tail {
            crc.update(part);
        }
        self.head[16..20].copy_from_slice(&crc.finalize().to_le_bytes());
        Ok(())
    }

    /// The whole record's length, header included (never 0).
    pub fn size(&self) -> u64 {
        (self.head.len() + self.tail.iter().map(|p| p.len()).sum::<usize>()) as u64
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Why reading stopped before the end of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Bad {
    /// Cut short at the end of the file: a `write` that never finished.
    Torn,
    /// Invalid bytes with more after them.
    Damaged(String),
}

/// The segments of a data dir's log.
#[derive(Clone)]
pub struct Log {
    dir: PathBuf,
    /// [`SEGMENT_BYTES`], smaller in tests.
    pub(super) segment_bytes: u64,
}

impl Log {
    pub fn new(data_dir: &Path) -> Log {
        Log {
            dir: data_dir.join(DIR_NAME),
            segment_bytes: SEGMENT_BYTES,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn path(&self, base: u64) -> PathBuf {
        self.dir.join(format!("{base:020}.log"))
    }

    /// The first offsets of the segments, oldest first (none when there is
    /// no log yet). Files not named like ours are not ours, and ignored.
    pub fn segments(&self) -> io::Result<Vec<u64>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other?,
        };
        let mut bases: Vec<u64> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let name = name.to_str()?.strip_suffix(".log")?;
                (name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| name.parse().ok())?
            })
            .collect();
        bases.sort_unstable();
        Ok(bases)
    }

    /// The offset just past the newest segment's last byte (valid or not):
    /// how far a reader could get.
    pub fn end(&self) -> io::Result<u64> {
        let Some(&base) = self.segments()?.last() else {
            return Ok(0);
        };
        match std::fs::metadata(self.path(base)) {
            Ok(m) => Ok(base + m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(base),
            Err(e) => Err(e),
        }
    }

    /// The record at `offset`, checked.
    pub fn read(&self, offset: u64) -> io::Result<Record> {
        let segments = self.segments()?;
        let base = segments
            .iter()
            .rev()
            .find(|&&b| b <= offset)
            .copied()
            .ok_or_else(|| self.missing(offset))?;
        let file = private_files::open_read(&self.path(base)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => self.missing(offset),
            _ => e,
        })?;
        let size = file.metadata()?.len();
        let mut header = [0u8; HEADER_LEN];
        file.read_exact_at(&mut header, offset - base)
            .map_err(|_| self.missing(offset))?;
        let (kind, len, head_len) =
            check_header(&header, offset - base, size).map_err(|bad| self.bad(offset, &bad))?;
        let mut payload = vec![0u8; len as usize];
        file.read_exact_at(&mut payload, offset - base + HEADER_LEN as u64)?;
        check_sums(&header, &payload, head_len, Part::Whole)
            .map_err(|bad| self.bad(offset, &bad))?;
        Ok(Record {
            offset,
            kind,
            payload,
            len,
        })
    }

    fn missing(&self, offset: u64) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "no record at offset {offset} in {} (its segment was removed?)",
                self.dir.display()
            ),
        )
    }

    fn bad(&self, offset: u64, bad: &Bad) -> io::Error {
        let why = match bad {
            Bad::Torn => "is cut short".to_string(),
            Bad::Damaged(why) => why.clone(),
        };
        invalid(format!(
            "the history log {} is damaged at offset {offset}: {why}",
            self.dir.display()
        ))
    }

    /// Reads every valid record from `from` on, in order, handing each to
    /// `each`; returns the offset reached (just past the last record read,
    /// or where the next segment starts). Stops at the end of the newest
    /// segment, or at a torn or damaged record in it; a damaged segment
    /// before the newest is skipped from the damage on, with a warning.
    pub fn scan(
        &self,
        from: u64,
        part: Part,
        mut each: impl FnMut(Record) -> io::Result<()>,
    ) -> io::Result<u64> {
        let segments = self.segments()?;
        let mut at = from;
        for (i, &base) in segments.iter().enumerate() {
            let next = segments.get(i + 1).copied();
            if next.is_some_and(|n| n <= at) {
                continue;
            }
            at = at.max(base);
            let file = match private_files::open_read(&self.path(base)) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let (reached, bad) = scan_segment(&file, base, at, part, &mut each)?;
            at = reached;
            match (bad, next) {
                (None, _) => {}
                (Some(_), None) => return Ok(at),
                (Some(bad), Some(next)) => {
                    tracing::warn!("{}; reading on from offset {next}", self.bad(at, &bad));
                    at = next;
                }
            }
        }
        Ok(at)
    }

    /// Deletes every segment that ends at or before `bound`, never the
    /// newest; returns how many.
    pub fn drop_before(&self, bound: u64) -> io::Result<usize> {
        let segments = self.segments()?;
        let mut dropped = 0;
        for pair in segments.windows(2) {
            if pair[1] <= bound {
                std::fs::remove_file(self.path(pair[0]))?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }
}

/// Checks a header read at `pos` of a segment of `size` bytes: the kind,
/// the payload's length and its head's.
fn check_header(header: &[u8; HEADER_LEN], pos: u64, size: u64) -> Result<(Kind, u32, u32), Bad> {
    if header[0] != MAGIC || header[2..4] != [0, 0] {
        return Err(Bad::Damaged("not the start of a record".into()));
    }
    let kind = Kind::from_byte(header[1])
        .ok_or_else(|| Bad::Damaged(format!("unknown record kind {}", header[1])))?;
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (len, head_len) = (word(4), word(8));
    if len > RECORD_MAX {
        return Err(Bad::Damaged(format!(
            "a record claims {len} bytes, more than the {RECORD_MAX}-byte limit"
        )));
    }
    if head_len > len {
        return Err(Bad::Damaged(format!(
            "a record of {len} bytes claims a head of {head_len}"
        )));
    }
    if pos + (HEADER_LEN as u64) + u64::from(len) > size {
        return Err(Bad::Torn);
    }
    Ok((kind, len, head_len))
}

/// Checks the head's checksum, and with [`Part::Whole`] the bodies' (the
/// rest of `payload`).
fn check_sums(
    header: &[u8; HEADER_LEN],
    payload: &[u8],
    head_len: u32,
    part: Part,
) -> Result<(), Bad> {
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (head, bodies) = payload.split_at((head_len as usize).min(payload.len()));
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[..12]);
    crc.update(head);
    let mut good = crc.finalize() == word(12);
    if part == Part::Whole {
        good &= crc32fast::hash(bodies) == word(16);
    }
    if !good {
        return Err(Bad::Damaged("its checksum does not match".into()));
    }
    Ok(())
}

/// Reads the records of one segment from `from`: the offset reached and
/// why it stopped before the end of the file, if it did.
pub(super) fn scan_segment(
    file: &File,
    base: u64,
    from: u64,
    part: Part,
    each: &mut impl FnMut(Record) -> io::Result<()>,
) -> io::Result<(u64, Option<Bad>)> {
    let size = file.metadata()?.len();
    let mut pos = from - base;
    let mut reader = io::BufReader::with_capacity(256 * 1024, file);
    reader.seek(SeekFrom::Start(pos))?;
    while pos < size {
        let mut header = [0u8; HEADER_LEN];
        if size - pos < HEADER_LEN as u64 {
            return Ok((base + pos, Some(Bad::Torn)));
        }
        reader.read_exact(&mut header)?;
        let (kind, len, head_len) = match check_header(&header, pos, size) {
            Ok(found) => found,
            Err(bad) => return Ok((base + pos, Some(bad))),
        };
        let read = match part {
            Part::Whole => len,
            Part::Head => head_len,
        };
        let mut payload = vec![0u8; read as usize];
        reader.read_exact(&mut payload)?;
        if read < len {
            reader.seek_relative(i64::from(len - read))?;
        }
        let record = Record {
            offset: base + pos,
            kind,
            payload,
            len,
        };
        if let Err(bad) = check_sums(&header, &record.payload, head_len, part) {
            // A bad checksum on the last record can be a write cut short
            // that left the length in place but not all of the payload's
            // bytes (pages are filled in order, so not in practice); it is
            // treated as torn only when nothing follows it.
            let last = record.end() - base == size;
            return Ok((base + pos, Some(if last { Bad::Torn } else { bad })));
        }
        pos = record.end() - base;
        each(record)?;
    }
    Ok((base + pos, None))
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
