//! What installing `hookhole` gives a user beyond the binary: shell
//! completions and man pages generated from the command line's own
//! definition (so a new subcommand is in them, and in these tests, without
//! anyone editing a list), and a `--version` naming the protocol.

// Test code: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

mod common;

use clap::{CommandFactory as _, ValueEnum as _};
use common::process::{hookhole, run};
use hookhole::cli::Cli;
use hookhole_host::generated_docs::{Shell, completion_script};

/// The visible subcommands of a command line, as clap has them.
fn subcommands_of(command: clap::Command) -> Vec<String> {
    command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| sub.get_name().to_string())
        .collect()
}

/// The visible subcommands of `hookhole`.
fn subcommands() -> Vec<String> {
    let names = subcommands_of(Cli::command());
    // The definition itself: a broken derive would make every check vacuous.
    for expected in ["listen", "relay", "history", "completions", "man"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    names
}

/// Whether `script` offers `sub` as a subcommand of `bin`, in the form
/// each shell's generated script uses (a bare substring would find `man`
/// inside "command").
fn offers(shell: Shell, script: &str, bin: &str, sub: &str) -> bool {
    match shell {
        Shell::Bash => script.contains(&format!("{},{sub})", bin.replace('-', "__"))),
        Shell::Zsh => script.contains(&format!("\n'{sub}:")),
        Shell::Fish => script.contains(&format!(
            "__fish_{}_needs_command\" -f -a \"{sub}\"",
            bin.replace('-', "_")
        )),
        Shell::PowerShell => script.contains(&format!(
            "[CompletionResult]::new('{sub}', '{sub}', [CompletionResultType]::ParameterValue"
        )),
        Shell::Elvish => script.contains(&format!("cand {sub} '")),
        _ => panic!("a shell this test does not know: {shell}"),
    }
}

async fn hookhole_out(args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hookhole(dir.path());
    cmd.args(args);
    run(cmd).await
}

#[tokio::test]
async fn every_shell_gets_a_script_offering_every_subcommand() {
    let subcommands = subcommands();
    for &shell in Shell::value_variants() {
        let name = shell.to_possible_value().unwrap().get_name().to_string();
        let (code, script, stderr) = hookhole_out(&["completions", &name]).await;
        assert_eq!(code, Some(0), "{name}: {stderr}");
        assert!(stderr.is_empty(), "{name}: {stderr}");
        // Exactly what the library generates from the definition.
        let generated = completion_script(Cli::command(), shell);
        assert_eq!(script.as_bytes(), generated, "{name}");
        for sub in &subcommands {
            assert!(
                offers(shell, &script, "hookhole", sub),
                "{name} lacks {sub}"
            );
        }
        assert!(
            !offers(shell, &script, "hookhole", "no-such-command"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_unknown_shell_is_a_usage_error_naming_the_shells() {
    let (code, stdout, stderr) = hookhole_out(&["completions", "tcsh"]).await;
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{stderr}"
    );
}

#[tokio::test]
async fn man_writes_one_roff_page_per_command_into_a_new_dir() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("share/man/man1");
    let (code, stdout, stderr) = hookhole_out(&["man", dir.to_str().unwrap()]).await;
    assert_eq!(code, Some(0), "{stderr}");

    // Its own pages, and the relay binary's (`hookhole relay` is that relay).
    let relay = subcommands_of(hookhole_relay::cli::Cli::command());
    let mut expected: Vec<String> = subcommands()
        .iter()
        .map(|sub| format!("hookhole-{sub}"))
        .chain(relay.iter().map(|sub| format!("hookhole-relay-{sub}")))
        .chain(["hookhole".to_string()])
        .collect();
    expected.sort();
    expected.dedup();
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    let mut pages: Vec<String> = expected.iter().map(|p| format!("{p}.1")).collect();
    pages.sort();
    assert_eq!(found, pages);
    // Each page written is named on stdout.
    let listed: Vec<&str> = stdout.lines().collect();
    assert_eq!(listed.len(), pages.len(), "{stdout}");

    for page in &expected {
        let text = std::fs::read_to_string(dir.join(format!("{page}.1"))).unwrap();
        // Past clap_mangen's apostrophe set-up, the title line comes first.
        let title = text
            .lines()
            .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
            .unwrap();
        assert!(title.starts_with(&format!(".TH {page} 1 \"\" ")), "{title}");
        let program = if page.starts_with("hookhole-relay") {
            "hookhole-relay"
        } else {
            "hookhole"
        };
        let source = format!("\"{program} {}\"", hookhole_host::version::VERSION);
        assert!(title.contains(&source), "{title}");
        let name = page.replace('-', "\\-");
        assert!(text.contains(&format!(".SH NAME\n{name} \\- ")), "{text}");
    }
    let listen = std::fs::read_to_string(dir.join("hookhole-listen.1")).unwrap();
    assert!(listen.contains("\\-\\-forward"), "{listen}");
    // The relay binary's page, with its own subcommands.
    let relay = std::fs::read_to_string(dir.join("hookhole-relay.1")).unwrap();
    assert!(relay.contains("hookhole\\-relay\\-man(1)"), "{relay}");
    assert!(relay.contains("\\-\\-listen"), "{relay}");
}

#[tokio::test]
async fn man_into_a_path_it_cannot_create_is_one_error_line() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let dir = file.join("man1");
    let (code, stdout, stderr) = hookhole_out(&["man", dir.to_str().unwrap()]).await;
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(
        stderr,
        format!(
            "hookhole: error: cannot write {}: Not a directory (os error 20)\n",
            dir.display()
        )
    );
}

#[tokio::test]
async fn version_names_the_release_and_the_protocol() {
    let expected = format!(
        "hookhole {} (protocol {})\n",
        env!("CARGO_PKG_VERSION"),
        hookhole_shared::protocol::VERSION
    );
    for flag in ["--version", "-V"] {
        let (code, stdout, stderr) = hookhole_out(&[flag]).await;
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(stdout, expected);
    }
}
