//! The preset schema: one provider's signing rules as data.
//!
//! The built-in table is `presets.json` beside this file, compiled into the
//! binary; users add entries with the same fields in `hookhole.toml`.

use super::Request;
pub use super::template::{Part, parse_template};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

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

    fn from_param(text: &str) -> Option<Algorithm> {
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
    fn from_param(text: &str) -> Option<Encoding> {
        match text.to_ascii_lowercase().as_str() {
            "hex" => Some(Encoding::Hex),
            "base64" | "b64" => Some(Encoding::Base64),
            "base64url" => Some(Encoding::Base64url),
            _ => None,
        }
    }
}

/// Providers whose scheme is code, not data.
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

impl Custom {
    /// Whether the scheme is found and checked by its code alone: the
    /// preset's header, template and key settings do not apply (a JWT
    /// preset still names its header and claims).
    fn is_code_only(self) -> bool {
        match self {
            Custom::Twilio | Custom::Mailgun | Custom::Adyen | Custom::Plivo => true,
            Custom::JwtHs256 => false,
        }
    }
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampRule {
    /// `list:KEY`, `header:NAME` or `body:FIELD` (a top-level JSON field).
    pub source: String,
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

fn default_template() -> String {
    "{body}".to_string()
}

fn default_confidence() -> Confidence {
    Confidence::Medium
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
    /// What is signed: `{body}`, `{timestamp}`, `{id}`, `{url}`,
    /// `{header:NAME}`, `{param:NAME}` and literal text.
    #[serde(default = "default_template")]
    pub template: String,
    /// How the secret becomes key bytes: `utf8`, `hex`, `base64`, or
    /// `base64-strip-prefix:P1|P2` (strip an optional prefix, then base64).
    #[serde(default = "default_key_decoding")]
    pub key_decoding: String,
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
    /// JWT schemes: the claim holding the body's SHA-256 (in `encoding`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_body_hash_claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

fn default_algorithm() -> Algorithm {
    Algorithm::HmacSha256
}

fn default_encoding() -> Encoding {
    Encoding::Hex
}

fn default_key_decoding() -> String {
    "utf8".to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("preset {id}: {message}")]
    Invalid { id: String, message: String },
    #[error("built-in preset table: {0}")]
    Table(String),
}

impl Preset {
    /// Checks what serde cannot: template placeholders, key decoding,
    /// timestamp source, and that the pieces the template needs exist.
    pub fn validate(&self) -> Result<(), PresetError> {
        let fail = |message: String| PresetError::Invalid {
            id: self.id.clone(),
            message,
        };
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(fail("id must be lowercase letters, digits and '-'".into()));
        }
        if self.custom.is_some_and(Custom::is_code_only) {
            return Ok(());
        }
        let parts = parse_template(&self.template).map_err(fail)?;
        super::crypto::parse_key_decoding(&self.key_decoding).map_err(fail)?;
        if parts.contains(&Part::Timestamp) && self.timestamp.is_none() {
            return Err(fail(
                "template uses {timestamp} but no timestamp rule is given".into(),
            ));
        }
        if parts.contains(&Part::Secret)
            && !matches!(self.algorithm, Algorithm::Sha1 | Algorithm::Sha256)
        {
            return Err(fail(
                "{secret} belongs only in plain sha1/sha256 templates".into(),
            ));
        }
        if parts.contains(&Part::Id) && self.id_header.is_none() {
            return Err(fail("template uses {id} but no id_header is given".into()));
        }
        if let Some(rule) = &self.timestamp {
            let ok = match rule.source.split_once(':') {
                Some(("list", key)) => {
                    self.list.as_ref().and_then(|l| l.ts_key.as_deref()) == Some(key)
                }
                Some(("header" | "body", name)) => !name.is_empty(),
                _ => false,
            };
            if !ok {
                return Err(fail(format!(
                    "timestamp source {:?} must be list:KEY (the list's ts_key), header:NAME or body:FIELD",
                    rule.source
                )));
            }
        }
        if let Some(list) = &self.list {
            if list.item_sep.is_empty() || list.kv_sep.is_empty() || list.sig_keys.is_empty() {
                return Err(fail("list needs item_sep, kv_sep and sig_keys".into()));
            }
        }
        Ok(())
    }

    /// Applies a secret's settings (`header`, `algorithm`/`hash`, `encoding`,
    /// `prefix`, `template`, `tolerance`) and checks required ones.
    pub fn with_params(&self, params: &BTreeMap<String, String>) -> Result<Preset, String> {
        let mut p = self.clone();
        for key in &self.params {
            if !params.contains_key(key) {
                return Err(format!("{} needs {key}=... with its secret", self.id));
            }
        }
        if let Some(h) = params.get("header") {
            p.header = h.clone();
        }
        if let Some(a) = params.get("algorithm").or_else(|| params.get("hash")) {
            p.algorithm = Algorithm::from_param(a)
                .ok_or_else(|| format!("unknown algorithm {a:?} (sha1, sha256, sha512, md5)"))?;
        }
        if let Some(e) = params.get("encoding") {
            p.encoding = Encoding::from_param(e)
                .ok_or_else(|| format!("unknown encoding {e:?} (hex, base64, base64url)"))?;
        }
        if let Some(prefix) = params.get("prefix") {
            p.prefix = Some(prefix.clone()).filter(|s| !s.is_empty());
        }
        if let Some(t) = params.get("template") {
            parse_template(t)?;
            p.template = t.clone();
        }
        if let Some(h) = params.get("timestamp_header") {
            p.timestamp = Some(TimestampRule {
                source: format!("header:{h}"),
                unit: TimestampUnit::S,
                tolerance_s: Some(300),
                direction: Direction::PastOnly,
            });
        }
        if let Some(h) = params.get("id_header") {
            p.id_header = Some(h.clone());
        }
        let parts = parse_template(&p.template)?;
        if parts.contains(&Part::Timestamp) && p.timestamp.is_none() {
            return Err(format!(
                "{}: the template signs {{timestamp}}; add timestamp_header=NAME",
                self.id
            ));
        }
        if parts.contains(&Part::Id) && p.id_header.is_none() {
            return Err(format!(
                "{}: the template signs {{id}}; add id_header=NAME",
                self.id
            ));
        }
        if let Some(t) = params.get("tolerance") {
            let secs = super::secret::parse_tolerance(t)?;
            if let Some(rule) = p.timestamp.as_mut() {
                rule.tolerance_s = Some(secs);
            }
        }
        if p.header.is_empty() && p.custom.is_none() {
            return Err(format!("{} needs header=NAME with its secret", self.id));
        }
        Ok(p)
    }

    /// The header whose presence [`Preset::is_present`] starts from (empty
    /// when a secret must name it), or `None` for schemes found by code.
    pub fn detection_header(&self) -> Option<&str> {
        match self.custom {
            Some(custom) if custom.is_code_only() => None,
            _ => Some(&self.header),
        }
    }

    /// Whether this scheme's signature is on the request.
    pub fn is_present(&self, request: &Request<'_>) -> bool {
        match self.custom {
            Some(Custom::Twilio) => return super::twilio::is_present(request),
            Some(Custom::Mailgun) => return super::mailgun::is_present(request),
            Some(Custom::Adyen) => return super::adyen::is_present(request),
            Some(Custom::Plivo) => return super::plivo::is_present(request),
            Some(Custom::JwtHs256) | None => {}
        }
        if self.header.is_empty() {
            return false;
        }
        let Some(value) = request.header(&self.header) else {
            return false;
        };
        self.header_contains
            .as_deref()
            .is_none_or(|c| value.contains(c))
            && self
                .header_lacks
                .as_deref()
                .is_none_or(|c| !value.contains(c))
    }

    /// Whether changing a body byte breaks this scheme's signature. Tokens
    /// and Basic credentials do not cover the body; Mailgun signs only
    /// timestamp + token.
    pub fn covers_body(&self) -> bool {
        match self.custom {
            Some(Custom::JwtHs256) => self.jwt_body_hash_claim.is_some(),
            // Adyen signs eight fields of each item, not the rest.
            Some(Custom::Mailgun | Custom::Adyen) => false,
            // Form bodies are covered (decoded): what hookhole trigger sends.
            Some(Custom::Twilio | Custom::Plivo) => true,
            None => {
                !self.algorithm.is_credential()
                    && (self.template.contains("{body}") || self.template.contains("{body_sha256}"))
            }
        }
    }

    /// Seconds after signing when a signature is reported `expired`, if it
    /// ever is (JWTs made by our signer live 300 s; Mailgun's window is 300 s).
    pub fn expires_after(&self) -> Option<i64> {
        match self.custom {
            Some(Custom::JwtHs256 | Custom::Mailgun) => return Some(300),
            Some(Custom::Twilio | Custom::Adyen | Custom::Plivo) => return None,
            None => {}
        }
        let rule = self.timestamp.as_ref()?;
        if rule.unit == TimestampUnit::Raw {
            return None;
        }
        rule.tolerance_s
    }

    /// The header that identifies this scheme, for messages.
    pub fn header_label(&self) -> &str {
        match self.custom {
            Some(Custom::Mailgun | Custom::Adyen) => "signature in the body",
            Some(Custom::Plivo) => "X-Plivo-Signature-V3 or -V2",
            _ if self.header.is_empty() => "configured header",
            _ => &self.header,
        }
    }
}

/// The built-in presets, parsed once. The table is tested to parse and
/// validate, so a failure here is a build defect; it yields an empty table
/// rather than a panic in a running client.
pub fn builtin() -> &'static [Preset] {
    static TABLE: OnceLock<Vec<Preset>> = OnceLock::new();
    TABLE.get_or_init(|| parse_table(BUILTIN).unwrap_or_default())
}

/// The built-in table's source.
pub const BUILTIN: &str = include_str!("presets.json");

pub fn parse_table(json: &str) -> Result<Vec<Preset>, PresetError> {
    let table: Vec<Preset> =
        serde_json::from_str(json).map_err(|e| PresetError::Table(e.to_string()))?;
    for preset in &table {
        preset.validate()?;
    }
    Ok(table)
}

#[cfg(test)]
#[path = "preset_tests.rs"]
mod tests;
