//! The checks on this machine: the forward target and route targets
//! answer, the embedded relay's port is free, the data dir is private and
//! writable.

use super::STEP;
use super::report::Check;
use crate::forward::Forwarder;
use crate::outgoing::{self, Parts};
use crate::target::Target;
use bytes::Bytes;
use hookhole_shared::protocol::FailureCode;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// Whether the server at `target` answers HTTP: a `HEAD` of the forward
/// path, sent the way `listen` forwards (the same client: no proxy, no
/// redirects). Any answer passes, whatever its status: a webhook handler
/// may well refuse a `HEAD`.
pub async fn answers(check: &'static str, target: &Target) -> Check {
    let fix = format!(
        "start your server on {} or change --forward",
        target.authority
    );
    let forwarder = Forwarder::new(target.clone(), STEP, 64 * 1024);
    let empty = Bytes::new();
    let parts = Parts {
        id: "doctor",
        method: "HEAD",
        path: "",
        query: None,
        headers: &[],
        body: &empty,
    };
    let request = match outgoing::build_parts(target, parts) {
        Ok(request) => request,
        Err(e) => return Check::fail(check, e.to_string(), fix),
    };
    let shown = request.uri.to_string();
    match forwarder.send("doctor", request, 64 * 1024).await {
        Ok(response) => {
            let status = http::StatusCode::from_u16(response.status)
                .map_or(response.status.to_string(), |s| s.to_string());
            Check::ok(check, format!("HEAD {shown} answered {status}"))
        }
        Err(failure) => {
            // The line names the target already.
            let prefix = format!("local server {target} ");
            let said = failure
                .message
                .strip_prefix(&prefix)
                .unwrap_or(&failure.message);
            let detail = match failure.code {
                FailureCode::LocalError => format!("{said} (not an HTTP server?)"),
                _ => said.to_string(),
            };
            Check::fail(check, detail, fix)
        }
    }
}

/// Whether the embedded relay can have `port` on 127.0.0.1. Taken is a
/// warning: `listen` then takes a free port and says which.
pub async fn embedded_port(port: u16) -> Check {
    const CHECK: &str = "embedded_relay";
    if port == 0 {
        return Check::ok(
            CHECK,
            "no --relay: the embedded relay will run on a free port of 127.0.0.1",
        );
    }
    match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(_) => Check::ok(
            CHECK,
            format!("no --relay: the embedded relay will run on 127.0.0.1:{port} (free now)"),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Check::warn(
            CHECK,
            format!(
                "no --relay: port {port} is in use, so the embedded relay will take a free one"
            ),
            format!("pass --port with a free port, or stop what listens on {port}"),
        ),
        Err(e) => Check::fail(
            CHECK,
            format!("no --relay: cannot listen on 127.0.0.1:{port}: {e}"),
            "pass --port with another port",
        ),
    }
}

/// Entries looked at under the data dir: bounds the walk of a dir that
/// holds far more than hookhole put there.
const MAX_ENTRIES: usize = 10_000;
/// How deep the walk goes (hookhole's own layout is two levels).
const MAX_DEPTH: usize = 3;

/// Whether `dir` is private (nothing in it open to group or others) and
/// writable. A missing dir is fine: `listen` creates it owner-only.
pub fn data_dir(dir: Option<&Path>) -> Check {
    const CHECK: &str = "data_dir";
    let Some(dir) = dir else {
        return Check::warn(
            CHECK,
            "none: the history is not saved",
            "pass --data-dir DIR",
        );
    };
    let shown = dir.display().to_string();
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Check::ok(
                CHECK,
                "does not exist yet: listen creates it, owner-only (0700)",
            )
            .on(shown);
        }
        Err(e) => {
            return Check::fail(
                CHECK,
                format!("cannot read it: {e}"),
                "pass --data-dir with a directory this user owns",
            )
            .on(shown);
        }
    };
    if !meta.is_dir() {
        return Check::fail(CHECK, "not a directory", "pass --data-dir with a directory").on(shown);
    }
    let open = open_to_others(dir);
    if let Some((first, mode)) = open.first() {
        let what = if open.len() == 1 {
            format!("{} is readable by others (mode {mode:o})", first.display())
        } else {
            format!(
                "{} entries are open to others, e.g. {} (mode {mode:o})",
                open.len(),
                first.display()
            )
        };
        let fix = match &open[..] {
            [(only, _)] if only == dir => format!("chmod 700 {shown}"),
            [(only, _)] if !only.is_dir() => format!("chmod 600 {}", only.display()),
            _ => format!("chmod -R go-rwx {shown}"),
        };
        return Check::fail(CHECK, what, fix).on(shown);
    }
    if let Err(e) = try_write(dir) {
        return Check::fail(
            CHECK,
            format!("cannot write in it: {e}"),
            format!("make {shown} writable by this user, or pass another --data-dir"),
        )
        .on(shown);
    }
    Check::ok(CHECK, "private and writable").on(shown)
}

/// `dir` and what is under it (not following symlinks) that grants
/// anything to group or others, with its mode.
fn open_to_others(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut open = Vec::new();
    let mut seen = 0;
    let mut pending = vec![(dir.to_path_buf(), 0)];
    while let Some((path, depth)) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if !meta.file_type().is_symlink() && mode & 0o077 != 0 {
            open.push((path.clone(), mode));
        }
        if !meta.is_dir() || depth >= MAX_DEPTH {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return open;
            }
            pending.push((entry.path(), depth + 1));
        }
    }
    // The dir itself first: its fix is the one to show.
    open.sort_by_key(|(path, _)| path != dir);
    open
}

/// Creates and removes an owner-only file in `dir`.
fn try_write(dir: &Path) -> std::io::Result<()> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(std::io::Error::other)?;
    let path = dir.join(format!(".doctor-{}.tmp", hex::encode(random)));
    drop(hookhole_host::private_files::create_new(&path)?);
    std::fs::remove_file(&path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::report::Verdict;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_data_dir_open_to_others_fails_with_the_chmod_that_fixes_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        assert_eq!(data_dir(Some(&dir)).verdict, Verdict::Ok, "missing is fine");
        hookhole_host::private_files::create_dir(&dir).unwrap();
        assert_eq!(data_dir(Some(&dir)).verdict, Verdict::Ok);

        chmod(&dir, 0o755);
        let check = data_dir(Some(&dir));
        assert_eq!(check.verdict, Verdict::Fail);
        assert_eq!(check.fix.unwrap(), format!("chmod 700 {}", dir.display()));

        chmod(&dir, 0o700);
        let file = dir.join("history.db");
        std::fs::write(&file, "x").unwrap();
        chmod(&file, 0o644);
        let check = data_dir(Some(&dir));
        assert_eq!(check.verdict, Verdict::Fail);
        assert_eq!(check.fix.unwrap(), format!("chmod 600 {}", file.display()));

        chmod(&dir, 0o750);
        let check = data_dir(Some(&dir));
        assert_eq!(
            check.fix.unwrap(),
            format!("chmod -R go-rwx {}", dir.display())
        );

        chmod(&dir, 0o700);
        chmod(&file, 0o600);
        assert_eq!(data_dir(Some(&dir)).verdict, Verdict::Ok);
        assert_eq!(
            data_dir(Some(&file)).verdict,
            Verdict::Fail,
            "a file is no dir"
        );
    }
}
