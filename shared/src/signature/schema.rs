//! The preset schema: one provider's signing rules as typed data.
//!
//! A preset is written as JSON (the built-in `presets.json`) or TOML (a
//! user's `[[preset]]`); the fields with a small text syntax (the
//! signed-content [`Template`], the [`KeyDecoding`], the
//! [`TimestampSource`]) are parsed while the preset is deserialized, so the
//! engine and the signer only ever see parsed values, and print back as
//! they were written. Rules between fields are checked by
//! `Preset::validate` when the table is loaded. This module is a leaf: data
//! types and their text forms, no behaviour.

mod template;

pub use template::{Part, Template};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Serde goes through a type's text form: `FromStr` when reading (so a bad
/// value is refused with the parser's message), `Display` when writing.
macro_rules! text_form {
    ($type:ty) => {
        impl TryFrom<String> for $type {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                text.parse()
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> String {
                value.to_string()
            }
        }
    };
}

text_form!(Template);
text_form!(KeyDecoding);
text_form!(TimestampSource);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    HmacSha1,
    HmacSha256,
    HmacSha512,
    HmacMd5,
    /// Ed25519 public-key signature (Discord, Standard Webhooks v1a).
    Ed25519,
    /// ECDSA P-256 with SHA-256, DER signature (SendGrid).
    EcdsaP256Sha256,
    /// A plain digest of the template, which contains `{secret}` (Recharge,
    /// Cloudinary): weaker than an HMAC, but what those providers send.
    Sha1,
    Sha256,
    /// The header carries the secret itself (GitLab's token, Telegram).
    Static,
    /// `Authorization: Basic ...` carrying `user:password` (the secret).
    BasicAuth,
}

impl Algorithm {
    pub fn label(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "HMAC-SHA1",
            Algorithm::HmacSha256 => "HMAC-SHA256",
            Algorithm::HmacSha512 => "HMAC-SHA512",
            Algorithm::HmacMd5 => "HMAC-MD5",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::EcdsaP256Sha256 => "ECDSA P-256/SHA-256",
            Algorithm::Sha1 => "SHA-1 (keyed)",
            Algorithm::Sha256 => "SHA-256 (keyed)",
            Algorithm::Static => "static token",
            Algorithm::BasicAuth => "HTTP Basic auth",
        }
    }

    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            Algorithm::HmacSha1
                | Algorithm::HmacSha256
                | Algorithm::HmacSha512
                | Algorithm::HmacMd5
        )
    }

    /// Schemes whose signature a holder of the secret can produce (so
    /// `sign` supports them): everything but public-key signatures.
    pub fn is_symmetric(self) -> bool {
        !matches!(self, Algorithm::Ed25519 | Algorithm::EcdsaP256Sha256)
    }

    /// Schemes compared as a whole header value, not a decoded signature.
    pub fn is_credential(self) -> bool {
        matches!(self, Algorithm::Static | Algorithm::BasicAuth)
    }

    /// Plain digests, whose template carries the key as `{secret}`.
    pub fn is_keyed_digest(self) -> bool {
        matches!(self, Algorithm::Sha1 | Algorithm::Sha256)
    }

    /// A secret's `algorithm=`/`hash=` setting: the HMACs only.
    pub fn from_param(text: &str) -> Option<Algorithm> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "sha1" | "hmac-sha1" => Some(Algorithm::HmacSha1),
            "sha256" | "hmac-sha256" => Some(Algorithm::HmacSha256),
            "sha512" | "hmac-sha512" => Some(Algorithm::HmacSha512),
            "md5" | "hmac-md5" => Some(Algorithm::HmacMd5),
            _ => None,
        }
    }
}

/// How a signature is written on the wire. Hex is decoded case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Hex,
    Base64,
    Base64url,
}

impl Encoding {
    /// A secret's `encoding=` setting.
    pub fn from_param(text: &str) -> Option<Encoding> {
        match text.to_ascii_lowercase().as_str() {
            "hex" => Some(Encoding::Hex),
            "base64" | "b64" => Some(Encoding::Base64),
            "base64url" => Some(Encoding::Base64url),
            _ => None,
        }
    }
}

/// Providers whose scheme is code, not data (`signature/custom.rs` runs them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Custom {
    Twilio,
    Mailgun,
    /// Adyen's standard notifications: a signature inside each item.
    Adyen,
    /// Plivo's V3 (and legacy V2) signatures over URL, parameters and nonce.
    Plivo,
    /// A compact JWT (HS256) in the header, keyed with the secret, whose
    /// claims carry the body's hash (Netlify, Vonage, LiveKit).
    JwtHs256,
}

/// How sure we are that the preset matches the provider's real behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// Checked against the provider's SDK source or official test vectors.
    High,
    /// From official documentation.
    Medium,
    /// From secondary sources: marked unverified wherever listed.
    Low,
}

/// How a configured secret becomes key bytes: `utf8`, `hex`, `base64`, or
/// `base64-strip-prefix:P1|P2` (strip an optional prefix, then base64).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum KeyDecoding {
    #[default]
    Utf8,
    Hex,
    Base64,
    /// Strip the first matching prefix (if any), then base64.
    StripPrefixBase64(Vec<String>),
}

const STRIP_PREFIX: &str = "base64-strip-prefix:";

impl FromStr for KeyDecoding {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "utf8" => Ok(KeyDecoding::Utf8),
            "hex" => Ok(KeyDecoding::Hex),
            "base64" => Ok(KeyDecoding::Base64),
            _ => match text.strip_prefix(STRIP_PREFIX) {
                Some(prefixes) if !prefixes.is_empty() => Ok(KeyDecoding::StripPrefixBase64(
                    prefixes.split('|').map(str::to_string).collect(),
                )),
                _ => Err(format!(
                    "unknown key_decoding {text:?} (utf8, hex, base64, base64-strip-prefix:PREFIX)"
                )),
            },
        }
    }
}

impl fmt::Display for KeyDecoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyDecoding::Utf8 => f.write_str("utf8"),
            KeyDecoding::Hex => f.write_str("hex"),
            KeyDecoding::Base64 => f.write_str("base64"),
            KeyDecoding::StripPrefixBase64(prefixes) => {
                write!(f, "{STRIP_PREFIX}{}", prefixes.join("|"))
            }
        }
    }
}

/// A signature header holding a list: `t=..,v1=..` (Stripe),
/// `v1,<b64> v1,<b64>` (Standard Webhooks), `ts=..;h1=..` (Paddle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFormat {
    pub item_sep: String,
    pub kv_sep: String,
    /// Keys whose values are signatures (several entries: rotation). A
    /// trailing `*` matches any suffix (`v*` for Convoy's `v1`, `v2`...).
    pub sig_keys: Vec<String>,
    /// Key whose value is the timestamp, if the list carries one.
    #[serde(default)]
    pub ts_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimestampUnit {
    S,
    Ms,
    /// RFC 3339; a value without a zone is taken as UTC.
    #[serde(alias = "iso8601")]
    Rfc3339,
    /// Signed as sent but not interpreted: no tolerance check.
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Only too-old timestamps are rejected (Stripe, Paddle, Convoy).
    PastOnly,
    /// Too old and too new are rejected (Slack, Standard Webhooks).
    Both,
}

/// Where the timestamp is: `list:KEY` (an entry of the signature header's
/// list), `header:NAME` or `body:FIELD` (a top-level JSON field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TimestampSource {
    List(String),
    Header(String),
    Body(String),
}

impl FromStr for TimestampSource {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some(("list", key)) if !key.is_empty() => Ok(TimestampSource::List(key.to_string())),
            Some(("header", name)) if !name.is_empty() => {
                Ok(TimestampSource::Header(name.to_string()))
            }
            Some(("body", field)) if !field.is_empty() => {
                Ok(TimestampSource::Body(field.to_string()))
            }
            _ => Err(format!(
                "timestamp source {text:?} must be list:KEY (the list's ts_key), header:NAME or body:FIELD"
            )),
        }
    }
}

impl fmt::Display for TimestampSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampSource::List(key) => write!(f, "list:{key}"),
            TimestampSource::Header(name) => write!(f, "header:{name}"),
            TimestampSource::Body(field) => write!(f, "body:{field}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampRule {
    pub source: TimestampSource,
    pub unit: TimestampUnit,
    /// Seconds; `None` means the timestamp is signed but never expires.
    #[serde(default)]
    pub tolerance_s: Option<i64>,
    #[serde(default = "past_only")]
    pub direction: Direction,
}

fn past_only() -> Direction {
    Direction::PastOnly
}

fn default_confidence() -> Confidence {
    Confidence::Medium
}

fn default_algorithm() -> Algorithm {
    Algorithm::HmacSha256
}

fn default_encoding() -> Encoding {
    Encoding::Hex
}

/// One provider scheme (a provider may have several: GitHub's sha256 and
/// legacy sha1 headers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Provider name used in `--secret`, config and results (`stripe`).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub name: String,
    #[serde(default = "default_confidence")]
    pub confidence: Confidence,
    /// What to paste as the secret.
    pub secret_hint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Custom>,
    /// The signature header; empty means "set by the secret's `header=`".
    #[serde(default)]
    pub header: String,
    /// The preset applies only when the header value contains / lacks this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_lacks: Option<String>,
    #[serde(default = "default_algorithm")]
    pub algorithm: Algorithm,
    #[serde(default = "default_encoding")]
    pub encoding: Encoding,
    /// Text before the signature (`sha256=`): required unless `prefix_optional`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prefix_optional: bool,
    /// What is signed (`{body}` unless given).
    #[serde(default)]
    pub template: Template,
    #[serde(default)]
    pub key_decoding: KeyDecoding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampRule>,
    /// Header carrying the message id for `{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_header: Option<String>,
    /// Secret settings this preset needs (`subscription_id` for Maple).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
    /// Consider this scheme only when a secret is configured for it: its
    /// header (`Authorization`) is too common to mean "signed by them".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub only_with_secret: bool,
    /// The sender does not sign (Maestra): the preset carries its `events`
    /// only, for `listen --provider`, and is never a signature candidate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub facts_only: bool,
    /// JWT schemes: the claim holding the body's SHA-256 (in `encoding`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_body_hash_claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Where a delivery says its event type, id and attempt, and the
    /// provider's documented deadline and retries (`webhook` reads them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<crate::webhook::EventRules>,
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
