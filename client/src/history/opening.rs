//! Opening the history file without making a damaged one worse, and with
//! messages that say what is wrong and what to do.
//!
//! SQLite, asked to open a file whose header is garbage for writing,
//! deletes its `-wal` and `-shm` files on the way out: the deliveries not
//! yet copied into the main file go with them. So the listener first looks
//! at an existing file read-only, and refuses a damaged one before any
//! writing connection exists. The read-only commands (`history`, `show`,
//! `export`) open it read-only, so they work in a data dir they cannot write.
//! Garbage inside a page shows only when the page is read: SQLite's
//! corruption errors from any read get the same message ([`describe`]),
//! and the connection that met them does not checkpoint when it closes
//! (`History::explain`).

use hookhole_host::private_files;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::Path;

/// Makes sure the history in `dir` can be written (by the listener, and by
/// `replay`, which saves its attempts): `dir` exists (made owner-only) and
/// files can be created in it.
pub(super) fn writable_dir(dir: &Path) -> Result<(), String> {
    let not_writable = |e: std::io::Error| {
        format!(
            "the data dir {} is not writable ({e}): listen and replay save the history there; \
             make it writable or pass another --data-dir (history, show and export still read it)",
            dir.display()
        )
    };
    private_files::create_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            not_writable(e)
        }
        _ => format!("cannot create the data dir {}: {e}", dir.display()),
    })?;
    // SQLite creates the `-wal` and `-shm` files beside the database: a
    // file this process makes and removes says whether it can.
    let probe = dir.join(format!(".hookhole-write-test.{}", std::process::id()));
    private_files::create_new(&probe).map_err(not_writable)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The first bytes of every SQLite database file.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Refuses an existing history that SQLite cannot read. Its first bytes
/// are checked by hand, so a file with a garbage header is refused before
/// SQLite touches it or its `-wal` and `-shm` files at all; then SQLite
/// reads it, read-only, so that nothing is removed.
pub(super) fn check_intact(path: &Path) -> Result<(), String> {
    if !check_header(path)? {
        return Ok(());
    }
    let probe = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|conn| probe(&conn));
    probe.map_err(|e| describe(path, &e))
}

/// Whether `path` exists; an error when it does not start as a database.
fn check_header(path: &Path) -> Result<bool, String> {
    let mut head = Vec::with_capacity(MAGIC.len());
    match std::fs::File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        Ok(file) => {
            use std::io::Read as _;
            file.take(MAGIC.len() as u64)
                .read_to_end(&mut head)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        }
    }
    // An empty file is one SQLite has not written yet.
    if !head.is_empty() && head != MAGIC {
        return Err(damaged(path, "it does not start as an SQLite database"));
    }
    Ok(true)
}

/// Opens the history read-only. In a data dir nobody may write to (and
/// so no listener writes to), SQLite cannot make the `-shm` file a reader
/// needs, and the file is read as immutable instead (a `-wal` file left
/// without its `-shm` by a crash is then not read: SQLite needs the index
/// to read it).
pub(super) fn read_only(path: &Path) -> Result<Connection, String> {
    check_header(path)?;
    let first = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|conn| probe(&conn).map(|()| conn));
    match first {
        Ok(conn) => Ok(conn),
        Err(e) if is_cannot_open(&e) => {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
            Connection::open_with_flags(format!("{}?immutable=1", file_uri(path)), flags)
                .and_then(|conn| probe(&conn).map(|()| conn))
                .map_err(|e| describe(path, &e))
        }
        Err(e) => Err(describe(path, &e)),
    }
}

fn probe(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
}

fn is_cannot_open(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly)
    )
}

/// Whether SQLite found the file damaged: not a database, or a page it
/// cannot read (garbage past the header, where [`check_intact`] cannot see).
pub(super) fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// An error opening or reading `path` as one line that says what to do.
pub(super) fn describe(path: &Path, e: &rusqlite::Error) -> String {
    if is_damage(e) {
        return damaged(path, &e.to_string());
    }
    format!("history database {}: {e}", path.display())
}

/// Says the history at `path` is damaged, and how to start a new one
/// without losing it: every file that belongs to it moves together (a new
/// database beside an old `-wal` file would be handed its frames, the body
/// files no new row names would be swept, and the log would be indexed
/// into it again).
fn damaged(path: &Path, why: &str) -> String {
    let aside = path.with_file_name("history-damaged");
    let mut files = vec![path.to_path_buf()];
    for sibling in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(sibling);
        files.push(name.into());
    }
    files.push(path.with_file_name(super::bodies::DIR_NAME));
    files.push(path.with_file_name(super::log::DIR_NAME));
    let present: Vec<String> = files
        .iter()
        .filter(|f| f.exists())
        .map(|f| shell_word(f))
        .collect();
    format!(
        "the history {} is damaged ({why}); nothing was changed. To start a new history, move \
         it aside with the files that belong to it: `mkdir {aside} && mv {} {aside}/`; or pass \
         another --data-dir",
        path.display(),
        present.join(" "),
        aside = shell_word(&aside),
    )
}

/// `path` as one word for a POSIX shell: in single quotes, each `'` in it
/// written `'\''`, so spaces, `$`, `;` and backticks stay part of the
/// path when the suggested command is pasted. (Control characters are
/// escaped later, like everything printed, so the line stays printable.)
fn shell_word(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// `path` as an SQLite `file:` URI: bytes other than unreserved ones and
/// `/` percent-encoded, so `?`, `#` and `%` in a directory name stay path.
fn file_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{History, Keep};
    use std::collections::BTreeMap;

    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect()
    }

    #[test]
    fn a_damaged_history_is_refused_and_its_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(crate::history::FILE_NAME);
        std::fs::write(&db, [0x5a; 4096]).unwrap();
        std::fs::write(dir.path().join("history.sqlite-wal"), b"frames").unwrap();
        std::fs::write(dir.path().join("history.sqlite-shm"), b"index").unwrap();
        let before = files(dir.path());
        for err in [
            History::open(dir.path(), Keep::default()).err().unwrap(),
            History::open_existing(dir.path()).err().unwrap(),
            History::open_read_only(dir.path()).err().unwrap(),
        ] {
            assert!(err.contains("is damaged"), "{err}");
            let aside = dir.path().join("history-damaged");
            assert!(
                err.contains(&format!(
                    "`mkdir '{aside}' && mv '{db}' '{db}-wal' '{db}-shm' '{aside}'/`",
                    aside = aside.display(),
                    db = db.display()
                )),
                "{err}"
            );
            assert_eq!(files(dir.path()), before);
        }
    }

    #[test]
    fn a_new_history_and_its_dir_are_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        drop(History::open(&dir, Keep::default()).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(crate::history::FILE_NAME)), 0o600);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no probe left");
    }

    #[test]
    fn suggested_commands_quote_paths_for_the_shell() {
        assert_eq!(
            shell_word(Path::new("/tmp/my data/it's $(x);`y`")),
            r"'/tmp/my data/it'\''s $(x);`y`'"
        );
        let sh = std::process::Command::new("sh")
            .args([
                "-c",
                &format!("printf %s {}", shell_word(Path::new("/a b/'c'"))),
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&sh.stdout), "/a b/'c'");
    }

    #[test]
    fn uris_keep_odd_directory_names_as_path() {
        assert_eq!(
            file_uri(Path::new("/a b/c?d#e%f/h.sqlite")),
            "file:/a%20b/c%3Fd%23e%25f/h.sqlite"
        );
    }
}
