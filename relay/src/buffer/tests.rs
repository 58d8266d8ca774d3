//! The offline buffer's tests: ordering, pages, rollbacks and limits.

use super::*;

#[test]
fn keeps_orders_acks_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = Buffer::open(dir.path(), Limits::default()).unwrap();
    for seq in [30, 10, 20] {
        buffer
            .push("ch", seq, &format!("d{seq}"), &seq.to_be_bytes())
            .unwrap();
    }
    buffer.push("other", 5, "o", b"x").unwrap();
    drop(buffer);
    let buffer = Buffer::open(dir.path(), Limits::default()).unwrap();
    assert_eq!(buffer.waiting_count(), 4);
    let seqs = buffer.seqs("ch", None, u64::MAX);
    assert_eq!(seqs, [10, 20, 30], "oldest first");
    buffer.ack("ch", 20).unwrap();
    buffer.ack("ch", 999).unwrap();
    assert_eq!(buffer.saved("ch", Some(10)), [10]);
    for seq in buffer.saved("ch", Some(10)) {
        buffer.ack("ch", seq).unwrap();
    }
    let seqs = buffer.seqs("ch", Some(10), u64::MAX);
    assert_eq!(seqs, [30], "acked and already-saved ones are gone");
    assert_eq!(buffer.waiting_count(), 2);
    assert!(buffer.page("nobody", None, u64::MAX).unwrap().is_empty());
}

#[test]
fn pages_hold_about_the_budget_in_order_and_at_least_one() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = Buffer::open(dir.path(), Limits::default()).unwrap();
    for seq in 1..=10 {
        buffer
            .push("ch", seq, &format!("d{seq}"), &[0; 100])
            .unwrap();
    }
    buffer.push("ch", 11, "big", &[0; 1000]).unwrap();
    buffer.push("ch", 12, "last", &[0; 10]).unwrap();
    buffer.push("other", 13, "o", &[0; 10]).unwrap();
    assert_eq!(buffer.count_after("ch", None), 12);
    assert_eq!(buffer.count_after("ch", Some(4)), 8);
    let mut pages: Vec<Vec<u64>> = Vec::new();
    let mut after = None;
    loop {
        let page = buffer.page("ch", after, 250).unwrap();
        let Some(&(last, _)) = page.last() else { break };
        assert!(page.iter().all(|(_, frame)| !frame.is_empty()));
        pages.push(page.into_iter().map(|(seq, _)| seq).collect());
        after = Some(last);
    }
    let expected: [&[u64]; 7] = [&[1, 2], &[3, 4], &[5, 6], &[7, 8], &[9, 10], &[11], &[12]];
    assert_eq!(pages, expected, "a frame over the budget comes alone");
    buffer.ack("ch", 3).unwrap();
    let seqs = buffer.seqs("ch", Some(1), 250);
    assert_eq!(seqs, [2, 4], "acked ones are skipped");
}

#[test]
fn a_rolled_back_batch_leaves_the_counts_as_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = Buffer::open(dir.path(), Limits::default()).unwrap();
    buffer.push("ch", 1, "kept", b"12345").unwrap();
    buffer.begin().unwrap();
    buffer.push("ch", 2, "undone", b"123").unwrap();
    buffer.ack("ch", 1).unwrap();
    assert!(!buffer.holds("ch", 1) && buffer.holds("ch", 2));
    buffer.rollback();
    assert!(buffer.holds("ch", 1), "the ack was undone");
    assert!(!buffer.holds("ch", 2), "the push was undone");
    assert_eq!(buffer.count_after("ch", None), 1);
    let page = buffer.page("ch", None, u64::MAX).unwrap();
    assert_eq!(page, [(1, Bytes::from_static(b"12345"))]);
}

#[test]
fn limits_refuse_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        count: 2,
        bytes: 10,
        age: Duration::from_secs(60),
        ..Limits::default()
    };
    let buffer = Buffer::open(dir.path(), limits).unwrap();
    buffer.push("ch", 1, "a", b"1234").unwrap();
    assert!(matches!(
        buffer.push("ch", 2, "b", b"12345678"),
        Err(BufferError::TooLarge(4))
    ));
    buffer.push("ch", 3, "c", b"1").unwrap();
    assert!(matches!(
        buffer.push("ch", 4, "d", b"1"),
        Err(BufferError::TooMany(2))
    ));
    buffer.push("other", 1, "e", b"1").unwrap();
}

#[test]
fn many_channels_each_within_their_limit_meet_the_relay_wide_one() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        count: 10,
        bytes: 100,
        total_count: 5,
        total_bytes: 40,
        ..Limits::default()
    };
    let buffer = Buffer::open(dir.path(), limits).unwrap();
    for seq in 1..=4 {
        buffer.push(&format!("c{seq}"), seq, "d", &[0; 10]).unwrap();
    }
    assert!(matches!(
        buffer.push("c5", 5, "d", &[0; 10]),
        Err(BufferError::RelayTooLarge(40))
    ));
    buffer.push("c5", 6, "d", &[]).unwrap();
    assert!(matches!(
        buffer.push("c6", 7, "d", &[]),
        Err(BufferError::RelayTooMany(5))
    ));
    buffer.ack("c1", 1).unwrap();
    buffer.push("c6", 8, "d", &[0; 10]).unwrap();
    drop(buffer);
    let reopened = Buffer::open(dir.path(), limits).unwrap();
    assert!(matches!(
        reopened.push("c7", 9, "d", &[]),
        Err(BufferError::RelayTooMany(5))
    ));
}
