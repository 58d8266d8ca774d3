//! Remembers the channel the relay assigned, per relay, in the data dir, so
//! the URL pasted into a provider stays valid across runs.

use hookhole_host::bounded_read::{TEXT_FILE_MAX, read_file};
use hookhole_host::private_files;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FILE_NAME: &str = "channels.json";

#[derive(Debug, Clone)]
pub struct ChannelMemory {
    path: PathBuf,
}

impl ChannelMemory {
    pub fn new(data_dir: &Path) -> Self {
        ChannelMemory {
            path: data_dir.join(FILE_NAME),
        }
    }

    fn load(&self) -> BTreeMap<String, String> {
        read_file(&self.path, TEXT_FILE_MAX)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// The channel last used with the relay known as `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        self.load().remove(key)
    }

    /// Records `channel` for `key`, owner-only and atomically (a crash never
    /// leaves a half-written file).
    pub fn set(&self, key: &str, channel: &str) -> std::io::Result<()> {
        let mut all = self.load();
        if all.get(key).map(String::as_str) == Some(channel) {
            return Ok(());
        }
        all.insert(key.to_string(), channel.to_string());
        if let Some(dir) = self.path.parent() {
            private_files::create_dir(dir)?;
        }
        let json = serde_json::to_vec_pretty(&all).map_err(std::io::Error::other)?;
        private_files::write(&self.path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_relay() {
        let dir = tempfile::tempdir().unwrap();
        let memory = ChannelMemory::new(&dir.path().join("nested"));
        assert_eq!(memory.get("embedded"), None);
        memory.set("embedded", "abc").unwrap();
        memory.set("http://relay:1", "xyz").unwrap();
        let again = ChannelMemory::new(&dir.path().join("nested"));
        assert_eq!(again.get("embedded").as_deref(), Some("abc"));
        assert_eq!(again.get("http://relay:1").as_deref(), Some("xyz"));
    }

    #[test]
    fn the_file_and_its_dir_are_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        ChannelMemory::new(&data).set("embedded", "abc").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(FILE_NAME)), 0o600);
    }

    #[test]
    fn a_corrupt_file_is_treated_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        let memory = ChannelMemory::new(dir.path());
        assert_eq!(memory.get("x"), None);
        memory.set("x", "y").unwrap();
        assert_eq!(memory.get("x").as_deref(), Some("y"));
    }
}
