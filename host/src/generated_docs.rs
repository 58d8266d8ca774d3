//! `completions SHELL` and `man DIR`, the same for both binaries: shell
//! completion scripts (`clap_complete`) and man pages (`clap_mangen`)
//! generated from the program's own clap `Command`, so a new subcommand or
//! flag is in them without anyone editing a script.
//!
//! Names in what is generated are our own: the program's fixed name, never
//! `argv[0]` (a renamed or symlinked binary would otherwise name its
//! completion functions and man pages after whatever it was called), and the
//! subcommands' names. The only thing from the user is the directory the
//! man pages go to.

use crate::{private_files, process};
use clap::Command;
use hookhole_shared::printable;
use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The shells a script is generated for (bash, elvish, fish, powershell,
/// zsh), named as `completions` takes them.
pub use clap_complete::Shell;

/// The subcommands every binary has for installing itself into a shell and
/// into `man`. Flattened into each binary's own subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DocsCommand {
    /// Print the shell completion script to stdout
    ///
    /// Save it where the shell looks for it, named for the program (NAME):
    ///
    /// bash: ~/.local/share/bash-completion/completions/NAME
    ///
    /// zsh: _NAME in a directory on $fpath (before compinit runs)
    ///
    /// fish: ~/.config/fish/completions/NAME.fish
    Completions {
        /// The shell to write the script for
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Write the man pages, one per command, into DIR (created if missing)
    ///
    /// Pages already there from an earlier run are replaced, as an install
    /// step is expected to do; e.g. DIR = ~/.local/share/man/man1.
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// A man page could not be written: the file (or directory) and why.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct ManPageError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl DocsCommand {
    /// Runs the command for the program whose clap definition is `command`:
    /// the script goes to stdout, each page written is named on stdout. A
    /// page that cannot be written is one error line and exit code 1.
    /// `companions`: other programs whose man pages come with this one's
    /// ([`write_man_pages`]).
    pub fn run(&self, command: Command, companions: &[Command]) -> ExitCode {
        let program = command.get_name().to_string();
        let stdout = &mut io::stdout().lock();
        match self {
            DocsCommand::Completions { shell } => {
                let script = completion_script(command, *shell);
                // A closed stdout (`| head`) is not an error.
                let _ = stdout.write_all(&script).and_then(|()| stdout.flush());
            }
            DocsCommand::Man { dir } => match write_man_pages(command, companions, dir) {
                Ok(pages) => {
                    for page in pages {
                        let page = page.display().to_string();
                        let _ = writeln!(stdout, "{}", printable::line(&page));
                    }
                }
                Err(e) => {
                    process::print_error(&program, &e.to_string());
                    return ExitCode::FAILURE;
                }
            },
        }
        ExitCode::SUCCESS
    }
}

/// The completion script for `shell`. Built in memory: clap_complete
/// panics on a failed write, and stdout may be closed.
pub fn completion_script(mut command: Command, shell: Shell) -> Vec<u8> {
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    script
}

/// Writes `NAME.1` for the program and `NAME-SUB.1` for each (visible)
/// subcommand, at any depth, into `dir`, creating it if missing; then the
/// same for each of `companions`, other programs whose pages come with
/// this one. Returns the paths written.
///
/// A companion's page wins over a subcommand page of the same name:
/// `hookhole relay` and the `hookhole-relay` binary would both be
/// `hookhole-relay.1`, and the file must not depend on which program
/// wrote it last.
///
/// The directory is made with the usual permissions, not owner-only, and
/// an existing one is left as it is: it is typically `man1` of a man path
/// every user reads. Each page is replaced atomically
/// ([`private_files::write_public`], 0644).
pub fn write_man_pages(
    command: Command,
    companions: &[Command],
    dir: &Path,
) -> Result<Vec<PathBuf>, ManPageError> {
    let mut pages = BTreeMap::new();
    for companion in companions {
        pages.extend(man_pages(companion.clone()));
    }
    for (file, roff) in man_pages(command) {
        pages.entry(file).or_insert(roff);
    }
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ManPageError { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    let mut written = Vec::new();
    for (file, roff) in pages {
        let path = dir.join(file);
        private_files::write_public(&path, &roff).map_err(failed(&path))?;
        written.push(path);
    }
    Ok(written)
}

/// Each page of `command` (file name, roff), named after the program and
/// the path of subcommands that lead to it.
fn man_pages(command: Command) -> Vec<(String, Vec<u8>)> {
    let name = command.get_name().to_string();
    // Pages are per command: `help` is not one (clap_mangen does the same).
    let mut command = command.bin_name(&name).disable_help_subcommand(true);
    command.build();
    let source = format!("{name} {}", command.get_version().unwrap_or_default());
    let mut pages = Vec::new();
    let mut pending = vec![command];
    while let Some(command) = pending.pop() {
        pending.extend(
            command
                .get_subcommands()
                .filter(|sub| !sub.is_hide_set())
                .cloned(),
        );
        // No date (the pages are the same for every build of a release),
        // but quoted: clap_mangen writes an empty date as nothing, and
        // `.TH` would then read the source as the date.
        let page = clap_mangen::Man::new(command)
            .date("\"\"")
            .source(source.clone());
        let mut roff = Vec::new();
        page.render(&mut roff)
            .expect("rendering into memory cannot fail");
        pages.push((page.get_filename(), roff));
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum as _;

    fn toy() -> Command {
        Command::new("toy")
            .version("1.2 (protocol 9)")
            .subcommand(Command::new("fetch").about("Fetch things"))
            .subcommand(
                Command::new("remote").subcommand(Command::new("add").about("Add a remote")),
            )
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn every_shell_gets_a_script_named_for_the_program_not_argv0() {
        for &shell in Shell::value_variants() {
            let mut command = toy();
            // What clap sets from argv[0] when a renamed binary parses.
            command.set_bin_name("/tmp/evil name");
            let script = String::from_utf8(completion_script(command, shell)).unwrap();
            assert!(script.contains("toy"), "{shell}: {script}");
            assert!(script.contains("fetch"), "{shell}: {script}");
            assert!(!script.contains("evil"), "{shell}: {script}");
        }
    }

    #[test]
    fn man_pages_are_written_per_visible_command_into_a_created_dir() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("share/man/man1");
        let written = write_man_pages(toy(), &[], &dir).unwrap();
        let names: Vec<_> = written
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().to_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["toy-fetch.1", "toy-remote-add.1", "toy-remote.1", "toy.1"]
        );
        let top = std::fs::read_to_string(dir.join("toy.1")).unwrap();
        let title = top
            .lines()
            .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "));
        assert_eq!(
            title,
            Some(".TH toy 1 \"\" \"toy 1.2 (protocol 9)\" "),
            "{top}"
        );
        let sub = std::fs::read_to_string(dir.join("toy-remote-add.1")).unwrap();
        assert!(sub.contains(".TH toy-remote-add 1"), "{sub}");
        assert!(sub.contains("Add a remote"), "{sub}");

        // A second run replaces its own pages.
        std::fs::write(dir.join("toy.1"), "stale").unwrap();
        write_man_pages(toy(), &[], &dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("toy.1")).unwrap(), top);
    }

    #[test]
    fn a_companion_programs_page_wins_over_a_subcommand_of_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let companion = Command::new("toy-fetch")
            .version("3.0")
            .about("The fetch daemon")
            .subcommand(Command::new("serve"));
        let written = write_man_pages(toy(), &[companion], dir.path()).unwrap();
        assert_eq!(written.len(), 5, "{written:?}");
        let fetch = std::fs::read_to_string(dir.path().join("toy-fetch.1")).unwrap();
        assert!(fetch.contains("The fetch daemon"), "{fetch}");
        assert!(fetch.contains("\"toy-fetch 3.0\""), "{fetch}");
        assert!(dir.path().join("toy-fetch-serve.1").is_file());
    }

    #[test]
    fn a_dir_that_cannot_be_made_is_named_in_the_error() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = write_man_pages(toy(), &[], &file.join("man1")).unwrap_err();
        assert_eq!(err.path, file.join("man1"));
        assert!(err.to_string().starts_with("cannot write "), "{err}");
    }
}
