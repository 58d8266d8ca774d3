//! How a command-line program of either binary starts and stops, apart
//! from what it does: a bad command line becomes one line and exit code 2,
//! every error line is escaped on its way to the terminal, and Ctrl-C or
//! SIGTERM becomes a cancelled token the program drains on.

use hookhole_shared::printable;
use std::io::Write as _;
use tokio_util::sync::CancellationToken;

/// Cancels `token` on Ctrl-C (SIGINT) or SIGTERM.
pub async fn stop_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot watch SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
                return token.cancel();
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("signal received, shutting down");
    token.cancel();
}

/// Prints `PROGRAM: error: MESSAGE` on stderr as one escaped line
/// (`hookhole_shared::printable::line`): an error can quote a flag, a
/// config value or what a relay sent, and none of it may reach the
/// terminal raw or start a second line.
pub fn print_error(program: &str, message: &str) {
    eprintln!("{program}: error: {}", printable::line(message));
}

/// Prints a clap error as one line (help and version as usual) and returns
/// the exit code: 2 for usage errors, as clap does, 0 for help.
///
/// clap quotes the command line and the environment (`invalid value
/// '<value>' for '--port'`, the `[env: NAME=value]` of the help), so its
/// text is escaped like every other line: the error as one line, help and
/// version as lines. Help is printed without clap's colours, whose escapes
/// would be escaped too.
pub fn exit_for_clap(err: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    let rendered = err.render().to_string();
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let mut out = std::io::stdout().lock();
        // A closed stdout (`--help | head`) is not an error.
        let _ = write!(out, "{}", printable::block(&rendered)).and_then(|()| out.flush());
        return std::process::ExitCode::SUCCESS;
    }
    let line = one_line(&rendered);
    eprintln!("{}", printable::line(&line));
    std::process::ExitCode::from(2)
}

/// clap's rendered error as one line: the error, what it lists after a
/// colon, the values it would have taken, and its tip when it has one.
fn one_line(rendered: &str) -> String {
    let mut lines = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .peekable();
    let mut first = lines
        .next()
        .unwrap_or("error: invalid arguments")
        .to_string();
    // "...were not provided:" is followed by the arguments it means.
    while first.ends_with(':') {
        match lines.next_if(|l| !l.starts_with("Usage:") && !l.starts_with("tip:")) {
            Some(more) => first = format!("{first} {more}"),
            None => break,
        }
    }
    // A value outside a fixed set (`completions tcsh`): the set.
    if let Some(values) = lines.next_if(|l| l.starts_with("[possible values:")) {
        first = format!("{first} {values}");
    }
    // Keep clap's "tip: a similar argument exists" when there is one.
    match lines.find(|l| l.starts_with("tip:")) {
        Some(tip) => format!("{first} ({tip}); see --help"),
        None => format!("{first}; see --help"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    fn error_line(args: &[&str]) -> String {
        let command = Command::new("toy")
            .arg(Arg::new("shell").value_parser(["bash", "zsh"]))
            .arg(Arg::new("name").long("name").required(true));
        let err = command.try_get_matches_from(args).unwrap_err();
        one_line(&err.render().to_string())
    }

    #[test]
    fn a_value_outside_the_set_names_the_set_and_the_tip() {
        assert_eq!(
            error_line(&["toy", "--name", "n", "zsb"]),
            "error: invalid value 'zsb' for '[shell]' [possible values: bash, zsh] \
             (tip: a similar value exists: 'zsh'); see --help"
        );
    }

    #[test]
    fn a_missing_argument_is_named_on_the_same_line() {
        assert_eq!(
            error_line(&["toy"]),
            "error: the following required arguments were not provided: --name <name>; see --help"
        );
    }
}
