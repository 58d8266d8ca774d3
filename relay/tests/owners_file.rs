//! A damaged or unreadable `owners.json` stops the real `hookhole-relay`
//! at start, with exit code 2 and one line that names the file and what to
//! do, and leaves the file as it was: taken as empty, it would let any
//! token claim any channel.

// Test code: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

mod common;

use common::Outcome;

/// Runs `hookhole-relay` with its data dir in `dir` and a token.
fn relay(dir: &Path) -> Outcome {
    common::run_relay(dir, &[])
}

/// Asserts the relay refused to start: code 2, nothing announced, one line
/// naming `owners` and containing `expect`.
fn assert_refused(outcome: &Outcome, owners: &Path, expect: &str) {
    let Outcome {
        code,
        stdout,
        stderr,
    } = outcome;
    assert_eq!(*code, Some(2), "{stderr}");
    assert!(stdout.is_empty(), "no listening line: {stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&owners.display().to_string()),
        "names the file: {stderr}"
    );
    assert!(stderr.contains(expect), "{expect:?} in {stderr}");
}

fn data_dir(root: &Path) -> std::path::PathBuf {
    let data = root.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    data
}

#[test]
fn a_damaged_owners_file_stops_the_relay_and_is_left_as_it_was() {
    let root = tempfile::tempdir().unwrap();
    let owners = data_dir(root.path()).join("owners.json");
    let garbage = b"{\"shop\": \"5e88\x00\xff\xfe truncated";
    std::fs::write(&owners, garbage).unwrap();
    std::fs::set_permissions(&owners, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::metadata(&owners).unwrap();

    let outcome = relay(root.path());
    assert_refused(&outcome, &owners, "is damaged");
    assert!(
        outcome.stderr.contains("restore it from a backup"),
        "says what to do: {}",
        outcome.stderr
    );
    assert_eq!(std::fs::read(&owners).unwrap(), garbage);
    let after = std::fs::metadata(&owners).unwrap();
    assert_eq!(after.permissions().mode(), before.permissions().mode());
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    // Refused before anything else was written into the data dir.
    let names: Vec<_> = std::fs::read_dir(owners.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["owners.json"]);
}

#[test]
fn an_owners_file_of_the_wrong_shape_stops_the_relay() {
    let root = tempfile::tempdir().unwrap();
    let owners = data_dir(root.path()).join("owners.json");
    std::fs::write(&owners, "[\"shop\"]").unwrap();
    assert_refused(&relay(root.path()), &owners, "is damaged");
    assert_eq!(std::fs::read(&owners).unwrap(), b"[\"shop\"]");
}

#[test]
fn an_unreadable_owners_file_stops_the_relay() {
    let root = tempfile::tempdir().unwrap();
    // A directory in its place cannot be read even by root, which file
    // modes would not stop.
    let owners = data_dir(root.path()).join("owners.json");
    std::fs::create_dir(&owners).unwrap();
    let outcome = relay(root.path());
    assert_refused(&outcome, &owners, "cannot read");
    assert!(
        outcome.stderr.contains("make it a file this user can read"),
        "{}",
        outcome.stderr
    );
    assert!(owners.is_dir());
}
