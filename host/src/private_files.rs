//! Files only their owner may read: every file the relay or the client writes
//! under its data dir (and every export) goes through here, so the rule
//! "0600 files in 0700 directories" lives in one place.
//!
//! Other local users are attackers too: they must not read a webhook's
//! headers and body, and must not be able to pre-plant a file or symlink
//! that we then write through. So files are created with their mode from the
//! start (never chmod-ed after the data is in), replaced atomically through
//! a fresh temporary name, and a file that already exists with wider
//! permissions is narrowed before it is written.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Mode of every file we write.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory we create.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the one kind of file meant for everyone: man pages
/// ([`write_public`]).
pub const PUBLIC_FILE_MODE: u32 = 0o644;

/// Creates `dir` (and missing parents) as owner-only directories. The last
/// component, if it already exists, is narrowed to 0700 when it grants
/// anything to group or others: it is hookhole's own data dir.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    narrow(dir, DIR_MODE)
}

/// Opens `path` for appending (a log), created owner-only; an existing file
/// is narrowed to 0600 first.
pub fn open_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)?;
    narrow_file(&file)?;
    Ok(file)
}

/// Opens `path` for reading and writing (a database), created owner-only;
/// an existing file is narrowed to 0600 first.
pub fn open_read_write(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(FILE_MODE)
        .open(path)?;
    narrow_file(&file)?;
    Ok(file)
}

/// Opens an existing `path` for reading (a file we wrote earlier), narrowed
/// to 0600 first if it grants anything to group or others: an older
/// version may have left it readable, and it would stay so until next
/// rewritten.
pub fn open_read(path: &Path) -> io::Result<File> {
    let file = File::open(path)?;
    // Only a file: a directory in its place is the caller's error to report.
    if file.metadata()?.is_file() {
        narrow_file(&file)?;
    }
    Ok(file)
}

/// Creates `path`, which must not exist yet (no symlink followed, nothing
/// overwritten), owner-only.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Replaces `path` with `bytes` atomically: written to a fresh owner-only
/// file beside it, then renamed over it, so a reader never sees half a file
/// and a symlink planted at `path` is replaced, not followed.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, FILE_MODE)
}

/// [`write`] for the one kind of file meant for every user of the machine:
/// the man pages `hookhole man` installs, which a system-wide install puts
/// where everyone's `man` reads them. They hold only our own help text.
/// Still atomic, and still never written through a planted symlink.
pub fn write_public(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, PUBLIC_FILE_MODE)
}

fn replace(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut attempt = 0u32;
    loop {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.{attempt}.tmp", std::process::id()));
        let tmp = dir.join(tmp_name);
        let fresh = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp);
        match fresh {
            Ok(mut file) => {
                let written = file
                    .write_all(bytes)
                    .and_then(|()| file.sync_data())
                    .and_then(|()| std::fs::rename(&tmp, path));
                if written.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                return written;
            }
            // A leftover of a crashed run, or a name someone planted: try
            // the next one rather than write through it.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

fn narrow(path: &Path, mode: u32) -> io::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & 0o077 != 0 {
        std::fs::set_permissions(path, Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

fn narrow_file(file: &File) -> io::Result<()> {
    let current = file.metadata()?.permissions().mode() & 0o777;
    if current & 0o077 != 0 {
        file.set_permissions(Permissions::from_mode(current & FILE_MODE))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn directories_are_created_owner_only_and_an_open_one_is_narrowed() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("a/b");
        create_dir(&nested).unwrap();
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);

        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, Permissions::from_mode(0o755)).unwrap();
        create_dir(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
    }

    #[test]
    fn files_are_owner_only_and_a_readable_one_is_narrowed_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        std::fs::write(&log, "old\n").unwrap();
        std::fs::set_permissions(&log, Permissions::from_mode(0o644)).unwrap();
        open_append(&log).unwrap().write_all(b"new\n").unwrap();
        assert_eq!(mode(&log), 0o600);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "old\nnew\n");

        let db = dir.path().join("x.sqlite");
        open_read_write(&db).unwrap();
        assert_eq!(mode(&db), 0o600);

        let old = dir.path().join("owners.json");
        std::fs::write(&old, "{}").unwrap();
        std::fs::set_permissions(&old, Permissions::from_mode(0o644)).unwrap();
        let mut text = String::new();
        io::Read::read_to_string(&mut open_read(&old).unwrap(), &mut text).unwrap();
        assert_eq!((text.as_str(), mode(&old)), ("{}", 0o600));
        let missing = open_read(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn an_atomic_write_replaces_a_planted_symlink_instead_of_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("channels.json");
        std::os::unix::fs::symlink(&victim, &path).unwrap();

        write(&path, b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_public_file_is_readable_by_all_and_replaces_a_planted_symlink_too() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let page = dir.path().join("hookhole.1");
        std::os::unix::fs::symlink(&victim, &page).unwrap();

        write_public(&page, b".TH hookhole 1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read(&page).unwrap(), b".TH hookhole 1\n");
        // 0644 less the umask: what a file made with 0666 keeps, minus
        // everyone's write bits.
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        assert_eq!(mode(&page), mode(&plain) & 0o644);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn create_new_refuses_an_existing_name_and_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(
            create_new(&link).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert!(!target.exists());
        let file = dir.path().join("new");
        create_new(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
    }
}
