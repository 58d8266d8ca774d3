//! hookhole-host: what both programs need from the machine they run on.
//!
//! The relay (`hookhole-relay`, and `hookhole relay`) and the client
//! (`hookhole`) read flags and a config file, print errors, stop on signals,
//! log, and keep files; these rules are the same for both, and none of them
//! is the relay's or the client's. Unlike `hookhole-shared`, this crate does
//! I/O: files, the terminal, signals.
//!
//! - [`settings`]: usage errors ([`settings::UsageError`], exit code 2), the
//!   `hookhole.toml` config file, and the duration, size and count values
//!   flags and the file give.
//! - [`process`]: a bad command line as one line and exit code 2, escaped
//!   error lines, Ctrl-C and SIGTERM as a cancelled token.
//! - [`logging`]: tracing set-up (stderr, or a log file), with every log
//!   field made printable.
//! - [`private_files`]: owner-only files and directories (0600 in 0700).
//! - [`bounded_read`]: reading whole files and standard input with a size
//!   bound.
//! - [`generated_docs`]: the `completions` and `man` subcommands, generated
//!   from each binary's clap definition; [`version`]: what `--version`
//!   prints (the release and the protocol).

pub mod bounded_read;
pub mod generated_docs;
pub mod logging;
pub mod private_files;
pub mod process;
pub mod settings;
pub mod version;
