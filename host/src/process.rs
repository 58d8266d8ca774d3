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
    // Keep clap's "tip: a similar argument exists" when there is one.
    let line = match lines.find(|l| l.starts_with("tip:")) {
        Some(tip) => format!("{first} ({tip}); see --help"),
        None => format!("{first}; see --help"),
    };
    eprintln!("{}", printable::line(&line));
    std::process::ExitCode::from(2)
}
