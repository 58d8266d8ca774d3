//! Logging for both binaries: to stderr (or a file the caller opens),
//! filtered by `RUST_LOG`, with every field made printable so a sender or
//! relay cannot write to the terminal through a log line.

/// Logs to stderr, filtered by `RUST_LOG` (e.g. `debug`, `hookhole_relay=trace`),
/// `info` by default. Stdout stays free for machine-readable lines.
pub fn init_tracing() {
    use std::io::IsTerminal as _;
    use tracing_subscriber::prelude::*;
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(log_fields())
                .with_writer(std::io::stderr)
                .with_ansi(color),
        )
        .with(log_filter())
        .try_init();
}

/// Logs to `file` (a log file the caller opened owner-only), filtered like
/// [`init_tracing`], never coloured: for a program whose terminal is busy,
/// such as the client's terminal UI.
pub fn init_tracing_to_file(file: std::fs::File) {
    use tracing_subscriber::prelude::*;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(log_fields())
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false),
        )
        .with(log_filter())
        .try_init();
}

/// How log fields are written, for every log of both programs: each value
/// (the message too) through `hookhole_shared::printable`'s one-line form,
/// so a path, header or error text that a sender or relay chose can neither
/// drive the terminal nor start a forged log line. The only escape sequences
/// left are the colours tracing itself adds, and only on a terminal.
pub fn log_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static
{
    use hookhole_shared::printable::LineWriter;
    use std::fmt::Write as _;
    use tracing_subscriber::field::MakeExt as _;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let mut safe = LineWriter(writer);
        match field.name() {
            "message" => write!(safe, "{value:?}"),
            name => write!(safe, "{name}={value:?}"),
        }
    })
    .delimited(" ")
}

/// What `RUST_LOG` asks for (e.g. `debug`, `hookhole_relay=trace`), `info`
/// when it is unset or unreadable.
pub fn log_filter() -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}
