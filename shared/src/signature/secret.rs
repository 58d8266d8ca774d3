//! Configured secrets: `PROVIDER=SECRET[,key=value...]`.
//!
//! Parsing is pure; reading `@path` and `env:NAME` values is the caller's
//! job (see [`SecretSource`]). Secrets never appear in `Debug` output or in
//! results: only [`Secret::masked`] does.

use std::collections::BTreeMap;
use std::fmt;

/// One configured secret for one provider. Several for the same provider
/// are tried in turn (key rotation).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    pub provider: String,
    pub value: String,
    /// Extra settings not on the wire: `subscription_id` (Maple), `header`,
    /// `algorithm`, `encoding`, `prefix`, `template`, `timestamp_header`,
    /// `id_header` (generic, Convoy), `tolerance`.
    pub params: BTreeMap<String, String>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("provider", &self.provider)
            .field("value", &self.masked())
            .field("params", &self.params)
            .finish()
    }
}

impl Secret {
    pub fn new(provider: impl Into<String>, value: impl Into<String>) -> Self {
        Secret {
            provider: provider.into(),
            value: value.into(),
            params: BTreeMap::new(),
        }
    }

    pub fn with_param(mut self, key: &str, value: &str) -> Self {
        self.params.insert(key.to_string(), value.to_string());
        self
    }

    /// The secret as it may be shown: its readable prefix (`whsec_`) and last
    /// four characters, never more than a third of it.
    pub fn masked(&self) -> String {
        mask(&self.value)
    }
}

pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 12 {
        return "…".to_string();
    }
    let prefix_len = chars
        .iter()
        .take(8)
        .rposition(|c| *c == '_')
        .map_or(0, |i| i + 1);
    let prefix: String = chars[..prefix_len].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

/// Where a secret's value comes from, as written by the user.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    Literal(String),
    /// `@path`: the file's contents, trailing newline removed.
    File(String),
    /// `env:NAME`: an environment variable.
    Env(String),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Literal(v) => write!(f, "Literal({})", mask(v)),
            SecretSource::File(p) => write!(f, "File({p})"),
            SecretSource::Env(n) => write!(f, "Env({n})"),
        }
    }
}

/// A parsed `--secret` argument whose value may still need reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    pub provider: String,
    pub source: SecretSource,
    pub params: BTreeMap<String, String>,
}

impl SecretSpec {
    /// Parses `PROVIDER=SECRET[,key=value...]`. The secret itself may not
    /// contain a comma; use `@path` or `env:NAME` for such values.
    pub fn parse(text: &str) -> Result<SecretSpec, String> {
        let (provider, rest) = text
            .split_once('=')
            .ok_or_else(|| "expected PROVIDER=SECRET, e.g. stripe=whsec_...".to_string())?;
        let provider = provider.trim().to_ascii_lowercase();
        if provider.is_empty() {
            return Err("missing provider name before '='".to_string());
        }
        let mut parts = rest.split(',');
        let value = parts.next().unwrap_or_default().trim();
        if value.is_empty() {
            return Err(format!("missing secret after '{provider}='"));
        }
        let source = if let Some(path) = value.strip_prefix('@') {
            SecretSource::File(path.to_string())
        } else if let Some(name) = value.strip_prefix("env:") {
            SecretSource::Env(name.to_string())
        } else {
            SecretSource::Literal(value.to_string())
        };
        let mut params = BTreeMap::new();
        for part in parts {
            let (key, val) = part
                .split_once('=')
                .ok_or_else(|| format!("expected key=value after the secret, got {part:?}"))?;
            let key = key.trim().to_ascii_lowercase().replace('-', "_");
            if !KNOWN_PARAMS.contains(&key.as_str()) {
                return Err(format!(
                    "unknown secret setting {key:?} (known: {})",
                    KNOWN_PARAMS.join(", ")
                ));
            }
            let val = val.trim();
            if key == "tolerance" {
                parse_tolerance(val)?;
            }
            params.insert(key, val.to_string());
        }
        Ok(SecretSpec {
            provider,
            source,
            params,
        })
    }

    /// Turns the spec into a secret once its value has been read.
    pub fn resolve(self, value: String) -> Secret {
        Secret {
            provider: self.provider,
            value,
            params: self.params,
        }
    }
}

/// Reads a `tolerance=` setting: whole seconds, `300` or `300s`, at most a
/// day (a wider window accepts replays for longer than any provider does).
pub fn parse_tolerance(text: &str) -> Result<i64, String> {
    /// One day, in seconds.
    const MAX: i64 = 24 * 3600;
    match text.strip_suffix('s').unwrap_or(text).parse::<i64>() {
        Ok(secs) if (0..=MAX).contains(&secs) => Ok(secs),
        _ => Err(format!(
            "tolerance={text:?}: expected whole seconds from 0 to {MAX}, e.g. tolerance=300"
        )),
    }
}

/// Settings a secret may carry.
pub const KNOWN_PARAMS: &[&str] = &[
    "subscription_id",
    "header",
    "algorithm",
    "hash",
    "encoding",
    "prefix",
    "template",
    "tolerance",
    "timestamp_header",
    "id_header",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literal_file_env_and_params() {
        let s = SecretSpec::parse("stripe=whsec_abc").unwrap();
        assert_eq!(s.provider, "stripe");
        assert_eq!(s.source, SecretSource::Literal("whsec_abc".into()));
        let s = SecretSpec::parse("maple=mwhsec_x,subscription_id=dws_1").unwrap();
        assert_eq!(s.params["subscription_id"], "dws_1");
        let s =
            SecretSpec::parse("generic=@/run/secret,header=X-Signature,encoding=base64").unwrap();
        assert_eq!(s.source, SecretSource::File("/run/secret".into()));
        assert_eq!(s.params["header"], "X-Signature");
        let s = SecretSpec::parse("GitHub=env:GH_SECRET").unwrap();
        assert_eq!(
            (s.provider.as_str(), s.source),
            ("github", SecretSource::Env("GH_SECRET".into()))
        );
    }

    #[test]
    fn refuses_bad_specs_with_reasons() {
        assert!(
            SecretSpec::parse("whsec_abc")
                .unwrap_err()
                .contains("PROVIDER=SECRET")
        );
        assert!(SecretSpec::parse("=x").is_err());
        assert!(SecretSpec::parse("stripe=").is_err());
        assert!(SecretSpec::parse("stripe=x,oops").is_err());
        assert!(
            SecretSpec::parse("stripe=x,colour=red")
                .unwrap_err()
                .contains("unknown secret setting")
        );
        for bad in ["abc", "-5", "1.5", "86401", ""] {
            let err = SecretSpec::parse(&format!("github=x,tolerance={bad}")).unwrap_err();
            assert!(err.contains("whole seconds"), "{bad}: {err}");
        }
        let s = SecretSpec::parse("mailgun=x,tolerance=900s").unwrap();
        assert_eq!(parse_tolerance(&s.params["tolerance"]), Ok(900));
    }

    #[test]
    fn masking_never_shows_the_secret() {
        assert_eq!(
            mask("whsec_aa1e1658da734685cb6fe116e45175e2"),
            "whsec_…75e2"
        );
        assert_eq!(mask("It's a Secret to Everybody"), "…body");
        assert_eq!(mask("short"), "…");
        let debug = format!("{:?}", Secret::new("stripe", "whsec_supersecretvalue1234"));
        assert!(!debug.contains("supersecret"), "{debug}");
        let debug = format!(
            "{:?}",
            SecretSource::Literal("whsec_supersecretvalue1234".into())
        );
        assert!(!debug.contains("supersecret"), "{debug}");
    }
}
