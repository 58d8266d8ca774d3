//! The benchmark's own flags, run as a new user would: a bad value exits 2
//! with one line, before anything is started or installed.

use std::process::{Command, Output};

/// Runs the benchmark with `args`. `HOOKHOLE_BENCH_BINARY` names a binary
/// that does not exist: should a flag wrongly be accepted, the run fails at
/// once (exit 1) instead of starting the benchmark.
fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookhole-bench"))
        .args(args)
        .env("HOOKHOLE_BENCH_BINARY", "/nonexistent/hookhole")
        .output()
        .expect("the benchmark runs")
}

#[test]
fn an_unknown_peer_exits_2_naming_the_accepted_ones() {
    for args in [
        &["--peers", "rathole"][..],
        &["--quick", "--peers=bore,outpunch"],
        &["--peers"],
    ] {
        let out = bench(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("hookhole-bench: --peers takes bore"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn peers_are_refused_where_there_is_no_table_to_put_them_in() {
    for other in ["--soak=1", "--profile", "--cluster"] {
        let out = bench(&["--peers", "bore", other]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{other}: {stderr}");
        assert!(
            stderr.contains("not with --soak, --profile or --cluster"),
            "{stderr}"
        );
    }
}

#[test]
fn a_good_peer_flag_is_accepted() {
    // Accepted, so the run goes on to find the hookhole binary, which does
    // not exist: exit 1, not 2.
    let out = bench(&["--peers", "bore"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/hookhole not found"),
        "{stderr}"
    );
}
