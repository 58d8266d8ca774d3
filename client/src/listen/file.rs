//! The `[listen]` section of `hookhole.toml`, and the shapes its values
//! may take beyond what the flags accept.

use serde::Deserialize;
use std::path::PathBuf;

/// The `[listen]` section of `hookhole.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct ListenFile {
    /// A URL, `HOST:PORT`, or a port: `forward = 3000` as `--forward 3000`.
    #[serde(default, deserialize_with = "url_or_port")]
    pub(super) forward: Option<String>,
    /// One URL, or a list of them: `relay = ["https://a", "https://b"]`.
    #[serde(default, deserialize_with = "one_or_more")]
    pub(super) relay: Vec<String>,
    pub(super) channel: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) no_tui: Option<bool>,
    pub(super) data_dir: Option<PathBuf>,
    pub(super) response_timeout: Option<String>,
    pub(super) forward_timeout: Option<String>,
    /// Same syntax as `--secret`; `@path` is relative to the config file.
    #[serde(default)]
    pub(super) secret: Vec<String>,
    pub(super) keep: Option<String>,
    pub(super) token: Option<String>,
    pub(super) ca_cert: Option<PathBuf>,
    pub(super) insecure: Option<bool>,
    /// A provider id, as `--provider`.
    pub(super) provider: Option<String>,
    /// As `--retries`.
    pub(super) retries: Option<bool>,
    /// As `--retry-speed` (checked when resolved: a whole number from 1).
    pub(super) retry_speed: Option<i64>,
    /// `[[listen.route]]` tables, checked as `--route`s are
    /// (`crate::route::parse`).
    #[serde(default)]
    pub(super) route: Vec<toml::Table>,
    /// An answer mode, as `--answer`.
    pub(super) answer: Option<String>,
}

/// The config file's `forward`: a string, or a port written as a TOML
/// integer, taken as its digits (`Target::parse` checks the range).
fn url_or_port<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct UrlOrPort;
    impl serde::de::Visitor<'_> for UrlOrPort {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a URL, HOST:PORT or a port")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, port: u64) -> Result<String, E> {
            Ok(port.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, port: i64) -> Result<String, E> {
            match u64::try_from(port) {
                Ok(port) => Ok(port.to_string()),
                Err(_) => Err(E::invalid_value(
                    serde::de::Unexpected::Signed(port),
                    &"a port from 1 to 65535",
                )),
            }
        }
    }
    d.deserialize_any(UrlOrPort).map(Some)
}

/// A string, or a list of strings: `relay = "https://a"` as well as
/// `relay = ["https://a", "https://b"]`.
fn one_or_more<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct OneOrMore;
    impl<'de> serde::de::Visitor<'de> for OneOrMore {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a URL or a list of URLs")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Vec<String>, E> {
            Ok(vec![text.to_string()])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut all = Vec::new();
            while let Some(text) = seq.next_element::<String>()? {
                all.push(text);
            }
            Ok(all)
        }
    }
    d.deserialize_any(OneOrMore)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relays(text: &str) -> Result<Vec<String>, String> {
        toml::from_str::<ListenFile>(text)
            .map(|file| file.relay)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn relay_is_one_url_or_a_list() {
        assert_eq!(relays("").unwrap(), Vec::<String>::new());
        assert_eq!(relays("relay = \"http://a\"").unwrap(), ["http://a"]);
        assert_eq!(
            relays("relay = [\"http://a\", \"http://b\"]").unwrap(),
            ["http://a", "http://b"]
        );
        let error = relays("relay = 3").unwrap_err();
        assert!(error.contains("a URL or a list of URLs"), "{error}");
        let error = relays("relay = [\"http://a\", 3]").unwrap_err();
        assert!(error.contains("expected a string"), "{error}");
    }
}
