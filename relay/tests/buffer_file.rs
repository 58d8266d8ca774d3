//! A damaged `buffer.sqlite` stops the real `hookhole-relay` at start with
//! exit code 2 and one line that names the file and what to do, and leaves
//! the file as it was: the webhooks in it were answered `202`.

// Test code: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;

mod common;

#[test]
fn a_damaged_buffer_stops_the_relay_and_is_left_as_it_was() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let buffer = data.join("buffer.sqlite");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&buffer, &garbage).unwrap();

    let outcome = common::run_relay(root.path(), &[]);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(
        outcome.stdout.is_empty(),
        "nothing announced: {}",
        outcome.stdout
    );
    assert_eq!(
        outcome.stderr.trim_end().lines().count(),
        1,
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains(&buffer.display().to_string()),
        "names the file: {}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("move it away"),
        "says what to do: {}",
        outcome.stderr
    );
    assert_eq!(std::fs::read(&buffer).unwrap(), garbage);
}
