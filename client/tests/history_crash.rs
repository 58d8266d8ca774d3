//! The history's log is its record of truth: a client killed in the middle
//! of a burst of concurrent webhooks starts again with every delivery whose
//! sender got an answer in its history exactly once, read back from the log
//! (whatever its index had got to), and a write the kill cut short at the
//! end of the log is cut off, never read as a delivery.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, history_counts, numbered, relay};
use common::*;
use hookhole::history::log::{Log, Part};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

async fn client(dir: &Path, port: u16, target: &TestTarget) -> Proc {
    let relay = format!("http://127.0.0.1:{port}");
    common::process::headless(dir, &relay, "crash", &target.url()).await
}

/// Waits until the relay has handed every queued webhook to the client.
async fn drained(port: u16) {
    let health = format!("http://127.0.0.1:{port}/_hookhole/health");
    within("the relay's buffer to drain", async {
        while send("GET", &health, &[], b"").await.json()["buffered"] != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

/// The history's counts once it holds every answered delivery.
async fn holding(dir: &Path, answered: &[usize]) -> BTreeMap<usize, usize> {
    within("the history to hold every answered delivery", async {
        loop {
            let counts = history_counts(dir).await;
            if answered.iter().all(|n| counts.contains_key(n)) {
                return counts;
            }
        }
    })
    .await
}

fn newest_segment(log: &Log) -> PathBuf {
    let base = *log.segments().unwrap().last().unwrap();
    log.dir().join(format!("{base:020}.log"))
}

/// The start of a record whose payload never reached the file: its
/// header (magic, kind, a payload of 64 KiB with a head of 300 bytes, the
/// checksums) and the first 40 bytes of the payload.
fn torn_record() -> Vec<u8> {
    let mut bytes = vec![0xA7, 1, 0, 0];
    bytes.extend_from_slice(&(64 * 1024u32).to_le_bytes());
    bytes.extend_from_slice(&300u32.to_le_bytes());
    bytes.extend_from_slice(&[0x5a; 48]);
    bytes
}

#[tokio::test]
async fn a_client_killed_mid_burst_keeps_every_answered_delivery_once_and_cuts_off_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, port) = relay(dir.path(), &dir.path().join("relay"), 0).await;
    let mut target = TestTarget::echo().await;
    let first = client(dir.path(), port, &target).await;
    let url = format!("http://127.0.0.1:{port}/crash/hook");
    // 8 senders at once, so that deliveries are saved in batches.
    let senders: Vec<_> = (0..8)
        .map(|s| {
            let url = url.clone();
            tokio::spawn(async move {
                let mut answered = Vec::new();
                for i in 0..25 {
                    let n = s * 25 + i;
                    let sent = post(&url, &numbered(n)).await;
                    if sent.status == 200 || sent.status == 202 {
                        answered.push(n);
                    }
                }
                answered
            })
        })
        .collect();
    for _ in 0..60 {
        target.next_request().await;
    }
    first.signal("KILL");
    first.exit().await;
    let mut answered = Vec::new();
    for sender in senders {
        answered.extend(within("the senders", sender).await.unwrap());
    }
    assert!(answered.len() >= 100, "most were answered: {answered:?}");

    // The kill cut a write short: the start of a record at the log's end.
    let data = dir.path().join("data/hookhole");
    let log = Log::new(&data);
    let segment = newest_segment(&log);
    let torn_at = std::fs::metadata(&segment).unwrap().len();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    std::io::Write::write_all(&mut file, &torn_record()).unwrap();
    drop(file);

    let second = client(dir.path(), port, &target).await;
    drained(port).await;
    let counts = holding(dir.path(), &answered).await;
    for n in &answered {
        assert_eq!(counts[n], 1, "delivery {n} saved exactly once: {counts:?}");
    }
    assert!(counts.values().all(|&c| c == 1), "none twice: {counts:?}");
    // The torn bytes are gone: what follows the last record before them is
    // a whole record (a resent delivery) or nothing, and the whole log
    // reads to its end.
    let bytes = std::fs::read(&segment).unwrap();
    assert!(!bytes[torn_at as usize..].starts_with(&torn_record()[..8]));
    let mut records = 0;
    let reached = log
        .scan(0, Part::Whole, |_| {
            records += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(reached, log.end().unwrap(), "every byte is a whole record");
    second.signal("KILL");
    second.exit().await;

    // The index is only an index: without it, the next client rebuilds it
    // from the log, with the same deliveries.
    for name in ["history.sqlite", "history.sqlite-wal", "history.sqlite-shm"] {
        let _ = std::fs::remove_file(data.join(name));
    }
    let third = client(dir.path(), port, &target).await;
    let rebuilt = history_counts(dir.path()).await;
    assert_eq!(rebuilt, counts, "rebuilt from {records} records");
    third.signal("INT");
    third.exit().await;
}
