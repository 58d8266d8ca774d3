//! Who may listen on which channel: client tokens, and the channel each
//! token claimed.
//!
//! Tokens are compared in constant time and never stored or logged: a
//! token is known by the SHA-256 of it (its "owner id"), which is also what
//! a tokens file may hold (`sha256:<hex>`), so the file can be shared with
//! less care than the tokens themselves.

use hookhole_host::settings::UsageError;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The SHA-256 of a token, hex: how the relay refers to it.
pub fn owner_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality (time depends on the lengths only).
/// Whether the owner id `held` (as stored) is `owner`, in constant time.
pub fn same_owner(held: &[u8], owner: &str) -> bool {
    ct_eq(held, owner.as_bytes())
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The tokens a relay accepts, as owner ids.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    hashes: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.hashes.len())
    }
}

impl Tokens {
    /// Adds a token given in plain (`--token`) or hashed (`sha256:<hex>`).
    pub fn add(&mut self, entry: &str) -> Result<(), String> {
        let entry = entry.trim();
        let hash: [u8; 32] = match entry.strip_prefix("sha256:") {
            Some(hex_text) => hex::decode(hex_text)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    "a hashed token must be sha256: followed by 64 hex digits".to_string()
                })?,
            None if entry.len() < 16 => {
                return Err("tokens must be at least 16 characters (use a random one, e.g. `openssl rand -hex 24`)".to_string());
            }
            None => Sha256::digest(entry.as_bytes()).into(),
        };
        self.hashes.push(hash);
        Ok(())
    }

    /// Reads a tokens file: one token per line, `#` comments, blank lines ignored.
    pub fn add_file(&mut self, path: &Path) -> Result<(), String> {
        let text = hookhole_host::bounded_read::read_text_file(
            path,
            hookhole_host::bounded_read::TEXT_FILE_MAX,
        )
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.add(line)
                .map_err(|e| format!("{} line {}: {e}", path.display(), n + 1))?;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The owner id of `presented`, if it is an accepted token. Every
    /// configured token is compared, so timing says nothing about which.
    pub fn check(&self, presented: &str) -> Option<String> {
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let found = self
            .hashes
            .iter()
            .fold(false, |found, h| found | ct_eq(h, &hash));
        found.then(|| hex::encode(hash))
    }
}

/// The largest `owners.json` read: about 150 bytes a channel, so room for
/// hundreds of thousands of claims, far beyond what a relay's tokens hold.
const OWNERS_FILE_MAX: u64 = 64 << 20;

/// The file in the data dir that records who owns which channel.
pub const OWNERS_FILE: &str = "owners.json";

/// Which owner claimed which named channel, kept in the data dir so a
/// channel stays its owner's across restarts.
pub struct Owners {
    path: Option<PathBuf>,
    owners: Mutex<BTreeMap<String, String>>,
}

impl Owners {
    /// Reads who owns which channel from `data_dir` (no file yet: nobody
    /// has claimed anything). A file that cannot be read, or does not hold
    /// a record, refuses the start and is left as it is: taken as empty, it
    /// would let any token claim any channel, and the next claim would
    /// overwrite what a backup could have restored.
    pub fn open(data_dir: Option<&Path>) -> Result<Owners, UsageError> {
        let path = data_dir.map(|d| d.join(OWNERS_FILE));
        let owners = match &path {
            Some(path) => load(path)?,
            None => BTreeMap::new(),
        };
        Ok(Owners {
            path,
            owners: Mutex::new(owners),
        })
    }

    /// Whether some token has claimed `channel`.
    pub fn is_claimed(&self, channel: &str) -> bool {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(channel)
    }

    /// Whether `owner` claimed `channel`.
    pub fn is_owned_by(&self, channel: &str, owner: &str) -> bool {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(channel)
            .is_some_and(|held| ct_eq(held.as_bytes(), owner.as_bytes()))
    }

    /// Whether `owner` may claim `channel` here: free, or already theirs,
    /// and within their `max` channels. `Ok(true)` when it is theirs.
    fn may_claim(
        owners: &BTreeMap<String, String>,
        channel: &str,
        owner: &str,
        max: usize,
    ) -> Result<bool, String> {
        match owners.get(channel) {
            Some(current) if ct_eq(current.as_bytes(), owner.as_bytes()) => return Ok(true),
            Some(_) => return Err(format!("channel {channel} belongs to another token")),
            None => {}
        }
        if owners.values().filter(|o| *o == owner).count() >= max {
            return Err(format!(
                "this token already holds {max} channels, the relay's limit"
            ));
        }
        Ok(false)
    }

    /// Checks a claim without making it (a cluster asks first, then
    /// claims across nodes, then here).
    pub fn check_claim(&self, channel: &str, owner: &str, max: usize) -> Result<(), String> {
        let owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        Self::may_claim(&owners, channel, owner, max).map(|_| ())
    }

    /// Claims `channel` for `owner`: free, or already theirs, and within
    /// their `max` channels.
    pub fn claim(&self, channel: &str, owner: &str, max: usize) -> Result<(), String> {
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        if Self::may_claim(&owners, channel, owner, max)? {
            return Ok(());
        }
        owners.insert(channel.to_string(), owner.to_string());
        if let Some(path) = &self.path {
            // Owner-only, replaced atomically: a crash never leaves half a file.
            let saved =
                hookhole_host::private_files::create_dir(path.parent().unwrap_or(Path::new(".")))
                    .and_then(|()| {
                        hookhole_host::private_files::write(
                            path,
                            &serde_json::to_vec_pretty(&*owners).unwrap_or_default(),
                        )
                    });
            if let Err(e) = saved {
                tracing::warn!("cannot record the owner of channel {channel}: {e}");
            }
        }
        Ok(())
    }
}

/// The claims recorded at `path`; none when there is no file.
fn load(path: &Path) -> Result<BTreeMap<String, String>, UsageError> {
    const WHY: &str =
        "it records which token owns each channel, so the relay will not start without it";
    // Narrowed as it is opened: an older relay wrote it readable by all.
    let read = hookhole_host::private_files::open_read(path)
        .and_then(|file| hookhole_host::bounded_read::read_limited(file, OWNERS_FILE_MAX));
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(UsageError(format!(
                "cannot read {}: {e}; {WHY}: make it a file this user can read, or restore it from a backup",
                path.display()
            )));
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        UsageError(format!(
            "{} is damaged ({e}); {WHY}: restore it from a backup, or move it away to let tokens claim channels afresh",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_hashed_tokens() {
        let mut tokens = Tokens::default();
        tokens.add("correct-horse-battery-staple").unwrap();
        tokens
            .add(&format!("sha256:{}", owner_id("second-token-0123456789")))
            .unwrap();
        assert_eq!(
            tokens.check("correct-horse-battery-staple"),
            Some(owner_id("correct-horse-battery-staple"))
        );
        assert!(tokens.check("second-token-0123456789").is_some());
        assert_eq!(tokens.check("wrong"), None);
        assert!(tokens.add("short").is_err());
        assert!(tokens.add("sha256:abc").is_err());
        assert!(!format!("{tokens:?}").contains("horse"));
    }

    #[test]
    fn a_channel_stays_its_first_owners_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let owners = Owners::open(Some(dir.path())).unwrap();
        assert!(owners.claim("shop", "alice", 2).is_ok());
        assert!(owners.claim("shop", "alice", 2).is_ok());
        assert!(
            owners
                .claim("shop", "mallory", 2)
                .unwrap_err()
                .contains("another token")
        );
        let reopened = Owners::open(Some(dir.path())).unwrap();
        assert!(reopened.claim("shop", "mallory", 2).is_err());
        assert!(reopened.claim("other", "mallory", 2).is_ok());
        assert!(reopened.claim("third", "mallory", 2).is_ok());
        assert!(
            reopened
                .claim("fourth", "mallory", 2)
                .unwrap_err()
                .contains("holds 2 channels")
        );
        let text = std::fs::read_to_string(dir.path().join("owners.json")).unwrap();
        assert!(!text.contains("correct"), "only owner ids are stored");
    }

    #[test]
    fn an_owners_file_an_older_version_left_readable_is_narrowed_on_open() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(OWNERS_FILE);
        std::fs::write(&path, "{\"shop\": \"alice\"}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let owners = Owners::open(Some(dir.path())).unwrap();
        assert!(owners.is_claimed("shop"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_damaged_or_unreadable_owners_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(OWNERS_FILE);
        for damaged in [&b"{\"shop\": \"ab"[..], b"\x00\xff garbage", b"[]", b""] {
            std::fs::write(&path, damaged).unwrap();
            let error = Owners::open(Some(dir.path())).err().unwrap().0;
            assert!(error.contains("owners.json is damaged"), "{error}");
            assert!(error.contains("restore it from a backup"), "{error}");
            assert_eq!(std::fs::read(&path).unwrap(), damaged);
        }
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let error = Owners::open(Some(dir.path())).err().unwrap().0;
        assert!(error.starts_with("cannot read "), "{error}");
        assert!(error.contains("owners.json"), "{error}");
        // No file at all: nobody has claimed anything yet.
        let fresh = tempfile::tempdir().unwrap();
        let owners = Owners::open(Some(&fresh.path().join("not-yet"))).unwrap();
        assert!(!owners.is_claimed("shop"));
    }

    #[test]
    fn tokens_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(
            &file,
            format!(
                "# team\n\nalpha-token-0000000001\nsha256:{}\n",
                owner_id("beta-token-00000000002")
            ),
        )
        .unwrap();
        let mut tokens = Tokens::default();
        tokens.add_file(&file).unwrap();
        assert!(
            tokens.check("alpha-token-0000000001").is_some()
                && tokens.check("beta-token-00000000002").is_some()
        );
        std::fs::write(&file, "tiny\n").unwrap();
        assert!(
            Tokens::default()
                .add_file(&file)
                .unwrap_err()
                .contains("line 1")
        );
    }
}
