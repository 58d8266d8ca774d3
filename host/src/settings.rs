//! The `hookhole.toml` config file and the value parsers shared by both
//! binaries' flags and the file (sizes like `25MiB`, durations like `10s`).
//!
//! Precedence, highest first: flag, `HOOKHOLE_*` environment variable (both
//! through clap), config file, built-in default.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Name of the config file looked up in the working directory, then in the
/// platform config directory (`~/.config/hookhole/` on Linux).
pub const FILE_NAME: &str = "hookhole.toml";

/// A mistake in what the user gave us (flags, environment, config file), or
/// a file of theirs the relay must not start without (a damaged
/// `owners.json`): reported on one line, exit code 2, as for a bad flag.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The config file to read: the explicit one, else the first that exists.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let local = PathBuf::from(FILE_NAME);
    if local.is_file() {
        return Some(local);
    }
    dirs::config_dir()
        .map(|d| d.join("hookhole").join(FILE_NAME))
        .filter(|p| p.is_file())
}

/// Reads one `[section]` of the config file into `T` (all fields optional).
/// A missing file or section gives `T::default()`; unknown keys are errors,
/// so a typo does not silently do nothing.
pub fn load_section<T>(explicit: Option<&Path>, section: &str) -> Result<T, UsageError>
where
    T: for<'de> Deserialize<'de> + Default,
{
    let Some(path) = find(explicit) else {
        return Ok(T::default());
    };
    let text = crate::bounded_read::read_text_file(&path, crate::bounded_read::TEXT_FILE_MAX)
        .map_err(|e| UsageError(format!("cannot read config file {}: {e}", path.display())))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| {
        UsageError(format!(
            "invalid config file {}: {}",
            path.display(),
            one_line(&e.to_string())
        ))
    })?;
    match table.remove(section) {
        None => Ok(T::default()),
        Some(value) => T::deserialize(value).map_err(|e| {
            UsageError(format!(
                "invalid [{section}] in config file {}: {}",
                path.display(),
                one_line(&e.to_string())
            ))
        }),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a byte size: `1048576`, `512KiB`, `25MiB`, `1GiB` (also `KB`/`MB`/`GB`
/// as powers of 1000).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected e.g. 25MiB or 1048576"))?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => return Err(format!("unknown size unit {other:?} in {text:?}")),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// Every count or size that bounds something (bodies, headers, buffers,
/// clients, connections) must be at least 1: a limit of 0 would refuse
/// everything it bounds, or be taken for "no limit". The one place this
/// rule lives; flags reach it through [`parse_count`] and [`parse_limit`],
/// the config file through [`file_count`] and [`SizeValue::resolve_limit`].
/// (`--min-body-rate` is a rate, not a limit: 0 there means no rate check.)
pub fn at_least_one<T: PartialEq + From<u8>>(value: T, unit: &str) -> Result<T, String> {
    if value == T::from(0) {
        return Err(format!(
            "must be at least 1{unit}, as 0 would refuse everything"
        ));
    }
    Ok(value)
}

/// Parses a count that bounds something (`--max-clients 16`): at least 1.
pub fn parse_count<T>(text: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialEq + From<u8>,
{
    let value = text
        .trim()
        .parse::<T>()
        .map_err(|_| format!("invalid count {text:?}: expected a whole number such as 16"))?;
    at_least_one(value, "")
}

/// Parses a size that bounds something (`--max-body 25MiB`): at least 1 byte.
pub fn parse_limit(text: &str) -> Result<usize, String> {
    at_least_one(parse_size(text)?, " byte")
}

/// Checks an optional count from the config file against [`at_least_one`].
pub fn file_count<T: PartialEq + From<u8>>(
    value: Option<T>,
    key: &str,
) -> Result<Option<T>, UsageError> {
    value
        .map(|v| at_least_one(v, "").map_err(|e| UsageError(format!("{key}: {e}"))))
        .transpose()
}

/// The shortest duration a flag or the config file may give: a timeout or
/// interval below it ends before a loopback round trip, and zero would mean
/// "at once" (every answer a timeout) rather than "never".
pub const MIN_DURATION: Duration = Duration::from_millis(10);
/// The longest: ten years is past any timeout, interval or retention a
/// person means, and far from where adding it to a clock overflows.
/// (humantime's year: 365.25 days, so the limit reads `10years`.)
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 31_557_600);

/// Parses a duration like `10s`, `500ms`, `2m`, between [`MIN_DURATION`]
/// and [`MAX_DURATION`]: every duration flag and config key of both
/// binaries goes through here.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_age(text)?;
    if duration < MIN_DURATION {
        return Err(format!(
            "duration {text:?} is too short: give at least {}",
            humantime::format_duration(MIN_DURATION)
        ));
    }
    Ok(duration)
}

/// Parses an age that may be zero (`0s` means "now"), up to
/// [`MAX_DURATION`].
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid duration {text:?} ({e}): expected e.g. 10s or 500ms"))?;
    if duration > MAX_DURATION {
        return Err(format!(
            "duration {text:?} is too long: give at most {}",
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(duration)
}

/// A size in the config file: a number of bytes or a string like `"25MiB"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(usize),
    Text(String),
}

impl SizeValue {
    pub fn resolve(&self, key: &str) -> Result<usize, UsageError> {
        match self {
            SizeValue::Bytes(n) => Ok(*n),
            SizeValue::Text(t) => parse_size(t).map_err(|e| UsageError(format!("{key}: {e}"))),
        }
    }

    /// The same for a size that bounds something: at least 1 byte.
    pub fn resolve_limit(&self, key: &str) -> Result<usize, UsageError> {
        at_least_one(self.resolve(key)?, " byte").map_err(|e| UsageError(format!("{key}: {e}")))
    }
}

/// Resolves an optional duration string from the config file.
pub fn file_duration(value: Option<&str>, key: &str) -> Result<Option<Duration>, UsageError> {
    value
        .map(|v| parse_duration(v).map_err(|e| UsageError(format!("{key}: {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("25MiB"), Ok(25 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn limits_are_at_least_one() {
        assert_eq!(parse_count::<usize>("16"), Ok(16));
        assert_eq!(parse_count::<u64>(" 1 "), Ok(1));
        assert!(
            parse_count::<usize>("0")
                .unwrap_err()
                .starts_with("must be at least 1,")
        );
        assert!(
            parse_count::<usize>("-1")
                .unwrap_err()
                .starts_with("invalid count")
        );
        assert_eq!(parse_limit("1"), Ok(1));
        assert!(
            parse_limit("0MiB")
                .unwrap_err()
                .starts_with("must be at least 1 byte")
        );
        assert_eq!(file_count(Some(3u64), "buffer-limit").unwrap(), Some(3));
        assert_eq!(file_count::<usize>(None, "max-clients").unwrap(), None);
        let err = file_count(Some(0usize), "max-clients").unwrap_err();
        assert!(
            err.0.starts_with("max-clients: must be at least 1"),
            "{}",
            err.0
        );
        let err = SizeValue::Bytes(0).resolve_limit("max-body").unwrap_err();
        assert!(
            err.0.starts_with("max-body: must be at least 1 byte"),
            "{}",
            err.0
        );
        assert_eq!(SizeValue::Bytes(0).resolve("min-body-rate").unwrap(), 0);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_duration("10ms"), Ok(MIN_DURATION));
        assert!(parse_duration("0s").unwrap_err().contains("too short"));
        assert!(parse_duration("1ms").unwrap_err().contains("too short"));
        assert_eq!(parse_duration("10y"), Ok(MAX_DURATION));
        assert!(
            parse_duration("11y")
                .unwrap_err()
                .ends_with("is too long: give at most 10years")
        );
        assert!(
            parse_duration("99999999999999999999s")
                .unwrap_err()
                .starts_with("invalid duration")
        );
        assert_eq!(parse_age("0s"), Ok(Duration::ZERO));
        assert!(parse_age("11y").is_err());
        let err = file_duration(Some("0s"), "response-timeout").unwrap_err();
        assert!(err.0.starts_with("response-timeout: duration"), "{}", err.0);
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Sample {
        listen: Option<String>,
    }

    #[test]
    fn loads_a_section_and_rejects_typos() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookhole.toml");
        std::fs::write(&path, "[relay]\nlisten = \"127.0.0.1:9\"\n").unwrap();
        let sample: Sample = load_section(Some(&path), "relay").unwrap();
        assert_eq!(sample.listen.as_deref(), Some("127.0.0.1:9"));
        let missing: Sample = load_section(Some(&path), "other").unwrap();
        assert!(missing.listen.is_none());

        std::fs::write(&path, "[relay]\nlisten_addr = 1\n").unwrap();
        let err = load_section::<Sample>(Some(&path), "relay").unwrap_err();
        assert!(err.0.contains("unknown field `listen_addr`"), "{}", err.0);
        std::fs::write(&path, "[relay\n").unwrap();
        let err = load_section::<Sample>(Some(&path), "relay").unwrap_err();
        assert!(err.0.starts_with("invalid config file"), "{}", err.0);
        assert!(!err.0.contains('\n'));
    }
}
