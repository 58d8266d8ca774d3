//! How a command-line program of either binary starts and stops, apart
//! from what it does: a bad command line becomes one line and exit code 2,
//! and Ctrl-C or SIGTERM becomes a cancelled token the program drains on.

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

/// Prints a clap error as one line (help and version as usual) and returns
/// the exit code: 2 for usage errors, as clap does, 0 for help.
pub fn exit_for_clap(err: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return std::process::ExitCode::SUCCESS;
    }
    let rendered = err.render().to_string();
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
    match lines.find(|l| l.starts_with("tip:")) {
        Some(tip) => eprintln!("{first} ({tip}); see --help"),
        None => eprintln!("{first}; see --help"),
    }
    std::process::ExitCode::from(2)
}
