//! The flags added against hostile senders resolve from the command line
//! and the config file, with the documented defaults.

// Test code: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

use clap::Parser;
use hookhole_relay::cli::RelayArgs;
use std::time::Duration;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    relay: RelayArgs,
}

fn resolve(args: &[&str], file: &str) -> Result<hookhole_relay::RelayConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookhole.toml");
    std::fs::write(&path, file).unwrap();
    let cli = Cli::try_parse_from(std::iter::once("relay").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli.relay
        .resolve(Some(&path))
        .map(|(_, config)| config)
        .map_err(|e| e.0)
}

#[test]
fn defaults_cut_slow_senders_within_a_minute_and_bound_the_buffer_relay_wide() {
    let config = resolve(&[], "").unwrap();
    let pace = config.limits.body_pace;
    assert_eq!(pace.timeout, Duration::from_secs(20));
    assert_eq!(pace.min_rate, 1024);
    // 25 MiB at 1 Mbit/s is 125 000 bytes a second: far above the rate.
    assert!(pace.min_rate < 125_000);
    assert_eq!(config.limits.client_connections, 4096);
    assert_eq!(config.buffer_limits.total_count, 100_000);
    assert_eq!(config.buffer_limits.total_bytes, 1 << 30);
}

#[test]
fn flags_and_the_config_file_set_them() {
    let args = [
        "--body-timeout",
        "5s",
        "--min-body-rate",
        "2KiB",
        "--max-client-connections",
        "7",
        "--buffer-total-limit",
        "9",
        "--buffer-total-bytes",
        "1MiB",
    ];
    let config = resolve(&args, "").unwrap();
    assert_eq!(config.limits.body_pace.timeout, Duration::from_secs(5));
    assert_eq!(config.limits.body_pace.min_rate, 2048);
    assert_eq!(config.limits.client_connections, 7);
    assert_eq!(config.buffer_limits.total_count, 9);
    assert_eq!(config.buffer_limits.total_bytes, 1 << 20);

    let file = "[relay]\nbody-timeout = \"30s\"\nmin-body-rate = 0\nmax-client-connections = 3\nbuffer-total-limit = 4\nbuffer-total-bytes = \"2MiB\"\n";
    let config = resolve(&[], file).unwrap();
    assert_eq!(config.limits.body_pace.timeout, Duration::from_secs(30));
    assert_eq!(config.limits.body_pace.min_rate, 0);
    assert_eq!(config.limits.client_connections, 3);
    assert_eq!(config.buffer_limits.total_count, 4);
    assert_eq!(config.buffer_limits.total_bytes, 2 << 20);
}

#[test]
fn a_zero_body_timeout_is_refused() {
    let error = resolve(&["--body-timeout", "0s"], "").unwrap_err();
    assert!(error.contains("\"0s\" is too short"), "{error}");
    let error = resolve(&[], "[relay]\nbody-timeout = \"0s\"\n").unwrap_err();
    assert!(error.contains("\"0s\" is too short"), "{error}");
}

/// Every limit flag, with its config file key.
const LIMITS: [&str; 12] = [
    "max-body",
    "max-headers",
    "buffer-limit",
    "buffer-bytes",
    "buffer-total-limit",
    "buffer-total-bytes",
    "max-clients",
    "max-in-flight",
    "max-channels-per-token",
    "max-connections",
    "max-client-connections",
    "rate-limit",
];

#[test]
fn a_limit_of_zero_is_refused_from_flags_and_the_config_file() {
    for key in LIMITS {
        let flag = format!("--{key}");
        let error = resolve(&[&flag, "0"], "").unwrap_err();
        assert!(error.contains(&flag), "{key}: {error}");
        assert!(
            error.contains("at least 1") || error.contains("positive"),
            "{key}: {error}"
        );
        let error = resolve(&[], &format!("[relay]\n{key} = 0\n")).unwrap_err();
        assert!(error.contains(key), "{key}: {error}");
        assert!(
            error.contains("at least 1") || error.contains("positive"),
            "{key}: {error}"
        );
        assert!(!error.contains('\n'), "{error}");
        // One is a limit, if a tight one.
        assert!(resolve(&[&flag, "1"], "").is_ok(), "{key}");
    }
    let error = resolve(&[], "[relay]\nmax-body = \"0MiB\"\n").unwrap_err();
    assert!(
        error.contains("max-body: must be at least 1 byte"),
        "{error}"
    );
    // A rate of 0 is documented: no rate check.
    let config = resolve(&["--min-body-rate", "0"], "").unwrap();
    assert_eq!(config.limits.body_pace.min_rate, 0);
}

#[test]
fn a_public_url_with_an_invalid_port_is_refused() {
    for url in ["http://x:99999", "https://x:0"] {
        let error = resolve(&["--public-url", url], "").unwrap_err();
        assert!(error.contains("invalid port"), "{error}");
        let file = format!("[relay]\npublic-url = \"{url}\"\n");
        let error = resolve(&[], &file).unwrap_err();
        assert!(error.contains("invalid port"), "{error}");
    }
    let config = resolve(&["--public-url", "https://hooks.example.com:8443"], "").unwrap();
    assert_eq!(
        config.public_url.as_deref(),
        Some("https://hooks.example.com:8443")
    );
}

#[test]
fn domain_asks_for_acme_from_flags_or_the_file_and_excludes_other_certificates() {
    use hookhole_relay::tls::TlsSource;
    let acme = |config: hookhole_relay::RelayConfig| match config.tls {
        Some(TlsSource::Acme(settings)) => settings,
        other => panic!("expected ACME, got {other:?}"),
    };
    let settings = acme(resolve(&["--domain", "Relay.Example.com"], "").unwrap());
    assert_eq!(settings.domains, ["relay.example.com"]);
    assert_eq!(settings.directory, hookhole_relay::acme::LETS_ENCRYPT);
    assert_eq!(settings.http_port, None);

    let file = "[relay]\ndomain = [\"a.example.com\", \"b.example.com\"]\nacme-email = \"ops@example.com\"\nhttp-port = 8081\nacme-directory = \"https://ca.example.com/dir\"\n";
    let settings = acme(resolve(&[], file).unwrap());
    assert_eq!(settings.domains, ["a.example.com", "b.example.com"]);
    assert_eq!(settings.email.as_deref(), Some("ops@example.com"));
    assert_eq!(settings.http_port, Some(8081));
    assert_eq!(settings.directory, "https://ca.example.com/dir");

    for (args, file, why) in [
        (
            &["--domain", "a.example.com", "--tls-self-signed"][..],
            "",
            "leave out --tls-cert",
        ),
        (
            &["--domain", "a.example.com"][..],
            "[relay]\ntls-self-signed = true\n",
            "leave out",
        ),
        (&["--domain", "10.0.0.1"][..], "", "IP address"),
        (&["--domain", "*.example.com"][..], "", "wildcards"),
        (&["--http-port", "80"][..], "", "need --domain"),
        (
            &["--domain", "a.example.com", "--http-port", "8080"][..],
            "",
            "is the --listen port",
        ),
        (
            &[
                "--domain",
                "a.example.com",
                "--acme-directory",
                "http://ca.example/dir",
            ][..],
            "",
            "https://",
        ),
        (
            &["--domain", "a.example.com", "--acme-email", "nobody"][..],
            "",
            "@",
        ),
        (
            &[][..],
            "[relay]\ndomain = [\"localhost\"]\n",
            "domain in the config file",
        ),
    ] {
        let error = resolve(args, file).unwrap_err();
        assert!(error.contains(why), "{args:?} {file:?}: {error}");
    }
}
