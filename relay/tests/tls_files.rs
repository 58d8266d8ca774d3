//! Certificate files that cannot serve (missing, not a certificate, an
//! endless device) stop the real `hookhole-relay` at start: exit code 2,
//! one line naming the flag and the file, and no "listening" line a
//! script would take for a running relay.

// Test code: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

mod common;

#[test]
fn unusable_certificate_files_refuse_the_start_before_anything_is_announced() {
    let root = tempfile::tempdir().unwrap();
    let text = root.path().join("notes.txt");
    std::fs::write(&text, "not a certificate\n").unwrap();
    let missing = root.path().join("missing.pem");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = root.path().join("cert.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    let zero = std::path::PathBuf::from("/dev/zero");
    let cases = [
        (&missing, &missing, "--tls-cert"),
        (&text, &text, "no certificate"),
        (&zero, &zero, "limit"),
        (&cert, &text, "--tls-key"),
    ];
    for (cert, key, expect) in cases {
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let outcome = common::run_relay(root.path(), &["--tls-cert", &cert, "--tls-key", &key]);
        let common::Outcome {
            code,
            stdout,
            stderr,
        } = &outcome;
        assert_eq!(*code, Some(2), "{cert} {key}: {stderr}");
        assert!(stdout.is_empty(), "no listening line: {stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expect), "{expect:?} in {stderr}");
    }
}
