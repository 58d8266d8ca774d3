//! The file a request is edited in (`e`). Other local users are attackers
//! too: the request (headers, tokens, customer data) must not be readable
//! while the editor is open, and a name in the shared temp directory could
//! be pre-planted as a symlink that our write would follow. So the file
//! lives in a fresh directory only we can enter (0700), is created
//! exclusively (0600), and both are removed afterwards. The directory is
//! what keeps it private: editors that save by writing a new file and
//! renaming it over ours (with the umask's mode) write inside it. An
//! editor that fails or leaves the file as it was replays nothing.

use hookhole_host::{bounded_read, private_files};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, ExitStatus};

/// Edits `text` with `program` (`$VISUAL`/`$EDITOR`, which may carry
/// arguments, e.g. "code --wait"). `run` starts the prepared command and
/// waits for it (the caller hands the terminal over around it). Returns the
/// edited text, or why nothing is to be replayed.
pub fn edit_text(
    program: &str,
    text: &str,
    run: impl FnOnce(&mut Command) -> std::io::Result<ExitStatus>,
) -> Result<String, String> {
    let dir = tempfile::Builder::new()
        .prefix("hookhole-edit-")
        .permissions(std::fs::Permissions::from_mode(private_files::DIR_MODE))
        .tempdir()
        .map_err(|e| format!("cannot make a private directory for the edit: {e}"))?;
    let path = dir.path().join("request.http");
    private_files::create_new(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut words = program.split_whitespace();
    let mut command = Command::new(words.next().unwrap_or("vi"));
    command.args(words).arg(&path);
    let status = run(&mut command);
    let edited = bounded_read::read_text_file(&path, bounded_read::BODY_MAX);
    // Removes the file and whatever the editor left beside it (swap and
    // backup files); a failure leaves a directory only we can read.
    let _ = dir.close();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(format!("{program} exited with {s}; nothing replayed")),
        Err(e) => return Err(format!("cannot run {program}: {e}; nothing replayed")),
    }
    let edited = edited.map_err(|e| format!("cannot read the edited request: {e}"))?;
    if edited == text {
        return Err("the request was not changed; nothing replayed".to_string());
    }
    Ok(edited)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// An `$EDITOR` that runs `body` as a shell script with the file as `$1`.
    fn script(dir: &Path, body: &str) -> String {
        let path = dir.join("editor.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        path.display().to_string()
    }

    fn status(command: &mut Command) -> std::io::Result<ExitStatus> {
        command.status()
    }

    #[test]
    fn the_file_is_private_while_open_and_gone_afterwards() {
        let scratch = tempfile::tempdir().unwrap();
        let seen = scratch.path().join("seen");
        let editor = script(
            scratch.path(),
            &format!(
                "stat -c %a \"$(dirname \"$1\")\" \"$1\" > {seen}; echo \"$1\" >> {seen}; echo changed >> \"$1\"",
                seen = seen.display()
            ),
        );
        let edited = edit_text(&editor, "POST /x\n\n", status).unwrap();
        assert_eq!(edited, "POST /x\n\nchanged\n");
        let seen = std::fs::read_to_string(&seen).unwrap();
        let lines: Vec<&str> = seen.lines().collect();
        assert_eq!(
            lines[..2],
            ["700", "600"],
            "modes of the directory and the file"
        );
        let path = Path::new(lines[2]);
        assert!(path.starts_with(std::env::temp_dir()), "{}", path.display());
        assert!(!path.exists() && !path.parent().unwrap().exists());
    }

    #[test]
    fn a_failed_or_unchanged_edit_replays_nothing() {
        let scratch = tempfile::tempdir().unwrap();
        let failing = script(scratch.path(), "echo changed >> \"$1\"; exit 3");
        let err = edit_text(&failing, "POST /x\n\n", status).unwrap_err();
        assert!(
            err.contains("exited with exit status: 3; nothing replayed"),
            "{err}"
        );

        let untouched = script(scratch.path(), "true");
        let err = edit_text(&untouched, "POST /x\n\n", status).unwrap_err();
        assert_eq!(err, "the request was not changed; nothing replayed");

        let err = edit_text("/nonexistent/editor", "POST /x\n\n", status).unwrap_err();
        assert!(err.starts_with("cannot run /nonexistent/editor"), "{err}");
    }

    #[test]
    fn arguments_in_the_editor_variable_are_passed_on() {
        let scratch = tempfile::tempdir().unwrap();
        let editor = script(scratch.path(), "echo \"$1\" >> \"$2\"");
        let edited = edit_text(&format!("{editor} --wait"), "POST /x\n\n", status).unwrap();
        assert_eq!(edited, "POST /x\n\n--wait\n");
    }
}
