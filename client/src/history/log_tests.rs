//! The log's framing and segments against real files.

use super::*;
use crate::history::appender::Appender;
use std::io::Write as _;

fn record(kind: Kind, bytes: &[u8]) -> Outgoing<'_> {
    let mut out = Outgoing::new(kind);
    out.head().extend_from_slice(b"head:");
    out.push(bytes);
    out.seal().unwrap();
    out
}

/// Every record's offset and payload, read with `scan` from `from`.
fn scanned(log: &Log, from: u64) -> (Vec<(u64, Vec<u8>)>, u64) {
    let mut out = Vec::new();
    let reached = log
        .scan(from, Part::Whole, |r| {
            out.push((r.offset, r.payload));
            Ok(())
        })
        .unwrap();
    (out, reached)
}

fn newest_file(log: &Log) -> PathBuf {
    log.path(*log.segments().unwrap().last().unwrap())
}

#[test]
fn records_come_back_exactly_by_offset_and_in_order_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(dir.path());
    log.segment_bytes = 100;
    let mut appender = Appender::open(&log, 0).unwrap();
    let bodies: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 40 + usize::from(i)]).collect();
    let mut offsets = Vec::new();
    for pair in bodies.chunks(2) {
        let batch = [
            record(Kind::Delivery, &pair[0]),
            record(Kind::Attempt, &pair[1]),
        ];
        let first = appender.append(&batch).unwrap();
        offsets.push(first);
        offsets.push(first + batch[0].size());
    }
    // 2 records of ~60 bytes each per batch: every batch after the first
    // starts a new segment, named by its first offset.
    assert_eq!(
        log.segments().unwrap(),
        offsets.iter().step_by(2).copied().collect::<Vec<_>>()
    );
    for (offset, body) in offsets.iter().zip(&bodies) {
        let r = log.read(*offset).unwrap();
        assert_eq!(&r.payload[5..], &body[..]);
    }
    let (all, reached) = scanned(&log, 0);
    assert_eq!(all.iter().map(|(o, _)| *o).collect::<Vec<_>>(), offsets);
    assert_eq!(reached, log.end().unwrap());
    // From the middle, and from past the end: only what follows.
    assert_eq!(scanned(&log, offsets[3]).0.len(), 3);
    assert!(scanned(&log, reached).0.is_empty());

    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(log.dir()), 0o700);
    for entry in std::fs::read_dir(log.dir()).unwrap() {
        assert_eq!(mode(&entry.unwrap().path()), 0o600);
    }
}

#[test]
fn a_torn_last_record_is_never_read_and_the_next_append_cuts_it_off() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(dir.path());
    let mut appender = Appender::open(&log, 0).unwrap();
    appender.append(&[record(Kind::Delivery, b"kept")]).unwrap();
    let good_end = log.end().unwrap();
    // A write killed half way: a header and part of the payload.
    let whole = record(Kind::Delivery, &[7; 300]);
    let mut bytes = whole.head.clone();
    bytes.extend_from_slice(&[7; 100]);
    std::fs::OpenOptions::new()
        .append(true)
        .open(newest_file(&log))
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    let (records, reached) = scanned(&log, 0);
    assert_eq!(records.len(), 1);
    assert_eq!(reached, good_end, "stops before the torn record");
    assert!(log.read(good_end).is_err());

    // A listener started after the crash appends after the last good record.
    let mut next = Appender::open(&log, reached).unwrap();
    let at = next.append(&[record(Kind::Attempt, b"after")]).unwrap();
    assert_eq!(at, good_end);
    let (records, reached) = scanned(&log, 0);
    assert_eq!(records.len(), 2);
    assert_eq!(&records[1].1[5..], b"after");
    assert_eq!(reached, log.end().unwrap());
    // The first appender (another process, say) finds the file changed
    // under it and checks it before writing.
    appender.append(&[record(Kind::Attempt, b"third")]).unwrap();
    assert_eq!(scanned(&log, 0).0.len(), 3);
}

#[test]
fn lengths_and_checksums_are_checked_before_anything_is_believed() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(dir.path());
    let mut appender = Appender::open(&log, 0).unwrap();
    appender.append(&[record(Kind::Delivery, b"one")]).unwrap();
    let second = appender.append(&[record(Kind::Delivery, b"two")]).unwrap();
    appender
        .append(&[record(Kind::Delivery, b"three")])
        .unwrap();
    let file = newest_file(&log);
    let pristine = std::fs::read(&file).unwrap();
    let at = second as usize;

    // A record claiming 4 GiB: refused by its length, nothing allocated.
    let mut huge = pristine.clone();
    huge[at + 4..at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&file, &huge).unwrap();
    let error = log.read(second).unwrap_err().to_string();
    assert!(
        error.contains("more than the 1073741824-byte limit"),
        "{error}"
    );
    assert_eq!(scanned(&log, 0).0.len(), 1, "nothing past it is guessed");

    // One flipped byte in a payload: the checksum says so.
    let mut flipped = pristine.clone();
    flipped[at + HEADER_LEN + 1] ^= 1;
    std::fs::write(&file, &flipped).unwrap();
    let error = log.read(second).unwrap_err().to_string();
    assert!(error.contains("checksum does not match"), "{error}");
    let (records, reached) = scanned(&log, 0);
    assert_eq!((records.len(), reached), (1, second));

    // Damage with records after it is not cut off: new records go to a
    // new segment, and readers go on there.
    let mut appender = Appender::open(&log, 0).unwrap();
    let after = appender.append(&[record(Kind::Attempt, b"four")]).unwrap();
    assert_eq!(after, pristine.len() as u64);
    assert_eq!(std::fs::read(&file).unwrap(), flipped, "left as it was");
    let (records, _) = scanned(&log, 0);
    let offsets: Vec<u64> = records.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, [0, after]);
}
