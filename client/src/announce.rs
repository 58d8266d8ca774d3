//! Where a running `hookhole listen` can be found: its public URL, per
//! working directory, in the data dir. `hookhole trigger` reads it so that
//! `hookhole trigger stripe` needs no URL. No secret is ever written here.

use hookhole_host::bounded_read::{TEXT_FILE_MAX, read_file};
use hookhole_host::private_files;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FILE_NAME: &str = "listeners.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Listening {
    pub public_url: String,
    pub pid: u32,
    pub started_at: u64,
}

/// One listener's entry, removed when it stops.
#[derive(Debug, Clone)]
pub struct Announce {
    path: PathBuf,
    key: String,
}

fn load(path: &Path) -> BTreeMap<String, Listening> {
    read_file(path, TEXT_FILE_MAX)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn store(path: &Path, all: &BTreeMap<String, Listening>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        private_files::create_dir(dir)?;
    }
    private_files::write(
        path,
        &serde_json::to_vec_pretty(all).map_err(std::io::Error::other)?,
    )
}

/// Whether a process still runs (on Linux; elsewhere assume it does).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

fn cwd_key(cwd: &Path) -> String {
    cwd.to_string_lossy().into_owned()
}

impl Announce {
    pub fn new(data_dir: &Path, cwd: &Path) -> Self {
        Announce {
            path: data_dir.join(FILE_NAME),
            key: cwd_key(cwd),
        }
    }

    pub fn record(&self, public_url: &str) {
        let mut all = load(&self.path);
        all.retain(|_, l| alive(l.pid));
        let started_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        all.insert(
            self.key.clone(),
            Listening {
                public_url: public_url.to_string(),
                pid: std::process::id(),
                started_at,
            },
        );
        if let Err(e) = store(&self.path, &all) {
            tracing::debug!("cannot record the listener for `hookhole trigger`: {e}");
        }
    }

    pub fn remove(&self) {
        let mut all = load(&self.path);
        if all
            .get(&self.key)
            .is_some_and(|l| l.pid == std::process::id())
        {
            all.remove(&self.key);
            let _ = store(&self.path, &all);
        }
    }
}

/// The listener started from `cwd`; else the most recent live one, with the
/// directory it runs in (so the caller can say which it picked).
pub fn find(data_dir: &Path, cwd: &Path) -> Option<(Listening, Option<String>)> {
    let all = load(&data_dir.join(FILE_NAME));
    if let Some(here) = all.get(&cwd_key(cwd)).filter(|l| alive(l.pid)) {
        return Some((here.clone(), None));
    }
    all.into_iter()
        .filter(|(_, l)| alive(l.pid))
        .max_by_key(|(_, l)| l.started_at)
        .map(|(dir, l)| (l, Some(dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_finds_and_removes() {
        let data = tempfile::tempdir().unwrap();
        let here = Path::new("/projects/shop");
        assert!(find(data.path(), here).is_none());
        let announce = Announce::new(data.path(), here);
        announce.record("http://127.0.0.1:8080/shop");
        let (found, elsewhere) = find(data.path(), here).unwrap();
        assert_eq!(
            (found.public_url.as_str(), elsewhere),
            ("http://127.0.0.1:8080/shop", None)
        );
        let (_, elsewhere) = find(data.path(), Path::new("/other")).unwrap();
        assert_eq!(elsewhere.as_deref(), Some("/projects/shop"));
        announce.remove();
        assert!(find(data.path(), here).is_none());
    }

    #[test]
    fn the_file_and_its_dir_are_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        Announce::new(&data, Path::new("/projects/shop")).record("http://127.0.0.1:1/x");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(FILE_NAME)), 0o600);
    }
}
