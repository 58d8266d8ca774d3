//! The preset table: the built-in `presets.json` beside this file (compiled
//! into the binary) plus users' `[[preset]]` entries with the same fields,
//! checked once when loaded, and what a loaded preset answers about a
//! request. The types are in [`super::schema`] (re-exported here).

use super::Request;
pub use super::schema::{
    Algorithm, Confidence, Custom, Direction, Encoding, KeyDecoding, ListFormat, Part, Preset,
    Template, TimestampRule, TimestampSource, TimestampUnit,
};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("preset {id}: {message}")]
    Invalid { id: String, message: String },
    #[error("built-in preset table: {0}")]
    Table(String),
}

/// Something a template signs that its preset cannot supply.
enum Gap {
    Timestamp,
    Secret,
    Id,
}

impl Preset {
    /// Checks the rules between fields, once, when a table is loaded (each
    /// field's own syntax was checked as it was read). Verifying and
    /// signing rely on it: a loaded preset is valid.
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
        if let Some(events) = &self.events {
            events.validate().map_err(fail)?;
        }
        if self.facts_only {
            return match (&self.events, self.header.is_empty(), self.custom) {
                (None, _, _) => Err(fail("facts_only needs an events object".into())),
                (Some(_), true, None) => Ok(()),
                _ => Err(fail(
                    "facts_only describes a sender that does not sign: no header or custom scheme"
                        .into(),
                )),
            };
        }
        if self.custom.is_some_and(Custom::is_code_only) {
            return Ok(());
        }
        if let Some(gap) = self.gap() {
            return Err(fail(
                match gap {
                    Gap::Timestamp => "template uses {timestamp} but no timestamp rule is given",
                    Gap::Secret => "{secret} belongs only in plain sha1/sha256 templates",
                    Gap::Id => "template uses {id} but no id_header is given",
                }
                .into(),
            ));
        }
        if let Some(TimestampRule {
            source: source @ TimestampSource::List(key),
            ..
        }) = &self.timestamp
            && self.list.as_ref().and_then(|l| l.ts_key.as_ref()) != Some(key)
        {
            return Err(fail(format!(
                "timestamp source \"{source}\" names no ts_key of the signature header's list"
            )));
        }
        if let Some(list) = &self.list
            && (list.item_sep.is_empty() || list.kv_sep.is_empty() || list.sig_keys.is_empty())
        {
            return Err(fail("list needs item_sep, kv_sep and sig_keys".into()));
        }
        Ok(())
    }

    /// The one rule between a template and the rest of its preset: what it
    /// signs must be there. Code-only schemes use no template.
    fn gap(&self) -> Option<Gap> {
        let signs = |part| self.template.signs(&part);
        if self.custom.is_some_and(Custom::is_code_only) {
            None
        } else if signs(Part::Timestamp) && self.timestamp.is_none() {
            Some(Gap::Timestamp)
        } else if signs(Part::Secret) && !self.algorithm.is_keyed_digest() {
            Some(Gap::Secret)
        } else if signs(Part::Id) && self.id_header.is_none() {
            Some(Gap::Id)
        } else {
            None
        }
    }

    /// The preset as used with a secret's settings (`header`,
    /// `algorithm`/`hash`, `encoding`, `prefix`, `template`,
    /// `timestamp_header`, `id_header`, `tolerance`), after checking the
    /// ones it requires. Borrowed when no setting changes it: the common
    /// case, on every delivery.
    pub fn with_params(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<Cow<'_, Preset>, String> {
        if self.facts_only {
            return Err(format!(
                "{} does not sign its deliveries, so it takes no secret (its event facts need none)",
                self.id
            ));
        }
        for key in &self.params {
            if !params.contains_key(key) {
                return Err(format!("{} needs {key}=... with its secret", self.id));
            }
        }
        // The settings a preset requires (`subscription_id`) are read while
        // signing and verifying; any other setting changes the preset.
        let preset = if params.keys().any(|k| !self.params.contains(k)) {
            Cow::Owned(self.changed_by(params)?)
        } else {
            Cow::Borrowed(self)
        };
        if preset.header.is_empty() && preset.custom.is_none() {
            return Err(format!("{} needs header=NAME with its secret", self.id));
        }
        Ok(preset)
    }

    fn changed_by(&self, params: &BTreeMap<String, String>) -> Result<Preset, String> {
        let mut p = self.clone();
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
            p.template = Template::parse(t)?;
        }
        if let Some(h) = params.get("timestamp_header") {
            p.timestamp = Some(TimestampRule {
                source: TimestampSource::Header(h.clone()),
                unit: TimestampUnit::S,
                tolerance_s: Some(300),
                direction: Direction::PastOnly,
            });
        }
        if let Some(h) = params.get("id_header") {
            p.id_header = Some(h.clone());
        }
        if let Some(gap) = p.gap() {
            let needs = match gap {
                Gap::Timestamp => "the template signs {timestamp}; add timestamp_header=NAME",
                Gap::Secret => "{secret} belongs only in plain sha1/sha256 templates",
                Gap::Id => "the template signs {id}; add id_header=NAME",
            };
            return Err(format!("{}: {needs}", self.id));
        }
        if let Some(t) = params.get("tolerance") {
            let secs = super::secret::parse_tolerance(t)?;
            if let Some(rule) = p.timestamp.as_mut() {
                rule.tolerance_s = Some(secs);
            }
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
        if self.facts_only {
            return false;
        }
        if let Some(custom) = self.custom.filter(|c| c.is_code_only()) {
            return custom.finds(request);
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
    /// and Basic credentials do not cover the body.
    pub fn covers_body(&self) -> bool {
        match self.custom {
            Some(custom) => custom.covers_body(self),
            None => !self.algorithm.is_credential() && self.template.signs_body(),
        }
    }

    /// Seconds after signing when a signature is reported `expired`, if it
    /// ever is.
    pub fn expires_after(&self) -> Option<i64> {
        if let Some(custom) = self.custom {
            return custom.expires_after();
        }
        let rule = self.timestamp.as_ref()?;
        if rule.unit == TimestampUnit::Raw {
            return None;
        }
        rule.tolerance_s
    }

    /// The header that identifies this scheme, for messages.
    pub fn header_label(&self) -> &str {
        match self.custom.and_then(Custom::header_label) {
            Some(label) => label,
            None if self.header.is_empty() => "configured header",
            None => &self.header,
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
