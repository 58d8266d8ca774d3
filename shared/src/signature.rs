//! Webhook signature verification: is this delivery really from the provider?
//!
//! Most providers differ only in data (which header, which HMAC, hex or
//! base64, what is signed, where the timestamp is), so each is a
//! [`preset::Preset`] in one data file (`signature/presets.json`) run by one
//! engine; only schemes that cannot be described that way (Twilio's and
//! Plivo's sorted form parameters, Mailgun's and Adyen's signatures inside
//! the body) have code of their own. Users add presets in their config with
//! the same schema.
//!
//! - [`verify()`]: detect candidate schemes from the headers, try every
//!   configured secret, report one [`Verdict`].
//! - [`schema`]: the preset's data types, their text forms parsed as a
//!   preset is read; [`preset`]: the table (built-in plus user presets),
//!   checked once when loaded; [`secret`]: `--secret` syntax; [`sign`]: the
//!   signing side, the mirror of the verifiers.
//! - `engine`, `parse`, `crypto`: the preset engine and its parts.
//! - `facts`: each provider's event rules ([`crate::webhook`]) looked up
//!   by id, and a delivery's facts read with them.
//! - `custom`: the one dispatch to the schemes written as code: `twilio`,
//!   `plivo`, `mailgun`, `adyen`, `jwt`.
//!
//! Everything is pure: the clock is a parameter, secrets arrive resolved.

mod adyen;
mod crypto;
mod custom;
mod engine;
mod facts;
mod jwt;
mod mailgun;
mod parse;
mod plivo;
pub mod preset;
pub mod schema;
pub mod secret;
pub mod sign;
mod twilio;

use crate::headers::Header;
use schema::Preset;
use secret::Secret;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;

/// What a verifier sees of a delivery.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The public URL the provider called (schemes that sign the URL need it,
    /// not the local forward URL).
    pub url: &'a str,
    pub headers: &'a [Header],
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// The first value of a header, trimmed, if present and non-empty.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        crate::headers::get(self.headers, name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

/// The outcome of verifying one delivery. The names are part of the
/// interface (JSON, terminal UI, docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A signature matches and the timestamp, if any, is within tolerance.
    Valid,
    /// The signature is well-formed but matches no configured secret.
    Invalid,
    /// A signature matches but its timestamp is outside the tolerance.
    Expired,
    /// No known signature header.
    Unsigned,
    /// Signed, but no secret is configured for the scheme.
    NoSecret,
    /// A signature header is present but cannot be parsed.
    Malformed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Expired => "expired",
            Status::Unsigned => "unsigned",
            Status::NoSecret => "no_secret",
            Status::Malformed => "malformed",
        }
    }

    /// How strongly a status speaks when several schemes were tried: a match
    /// beats a stale match beats a mismatch beats an unreadable header.
    fn rank(self) -> u8 {
        match self {
            Status::Valid => 5,
            Status::Expired => 4,
            Status::Invalid => 3,
            Status::Malformed => 2,
            Status::NoSecret => 1,
            Status::Unsigned => 0,
        }
    }
}

/// The result for one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Verdict {
    /// The provider whose scheme decided (`stripe`, `github`...); `None` when unsigned.
    pub scheme: Option<String>,
    pub status: Status,
    /// One line for humans: which key matched, the timestamp age, what was expected.
    pub reason: String,
    /// Which configured secret matched, masked (`secret 2 of 2, whsec_…5e2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Seconds between the signed timestamp and the verifier's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_age_s: Option<i64>,
    /// Schemes whose headers are present (for `no_secret`, what to configure).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
}

/// One scheme's outcome for one secret (or for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub status: Status,
    pub reason: String,
    pub timestamp_age_s: Option<i64>,
}

impl Attempt {
    pub fn new(status: Status, reason: impl Into<String>) -> Self {
        Attempt {
            status,
            reason: reason.into(),
            timestamp_age_s: None,
        }
    }
}

/// The providers to verify against: the built-in table plus user presets.
#[derive(Debug, Clone)]
pub struct Registry {
    presets: Vec<Preset>,
    /// Presets by the (lowercase) header whose presence signals them, so a
    /// request is checked against the few presets whose header it carries
    /// rather than every one of them.
    by_header: HashMap<String, Vec<usize>>,
    /// Presets whose code looks for them (in the body, or in several
    /// headers): asked about every request.
    by_code: Vec<usize>,
    /// Presets by provider id, for the providers given secrets.
    by_id: HashMap<String, Vec<usize>>,
}

impl Registry {
    fn new(presets: Vec<Preset>) -> Self {
        let mut registry = Registry {
            presets,
            by_header: HashMap::new(),
            by_code: Vec::new(),
            by_id: HashMap::new(),
        };
        for (index, preset) in registry.presets.iter().enumerate() {
            registry
                .by_id
                .entry(preset.id.clone())
                .or_default()
                .push(index);
            if preset.facts_only {
                // Known by id (`listen --provider`), never looked for.
                continue;
            }
            match preset.detection_header() {
                None => registry.by_code.push(index),
                // Only a secret's `header=` makes such a preset detectable.
                Some("") => {}
                Some(header) => registry
                    .by_header
                    .entry(header.to_ascii_lowercase())
                    .or_default()
                    .push(index),
            }
        }
        registry
    }

    /// The built-in table alone.
    pub fn builtin() -> Self {
        Registry::new(preset::builtin().to_vec())
    }

    /// The built-in table plus user presets; a user preset with a built-in
    /// id and variant replaces it. Each is checked here, once: verifying
    /// and signing rely on a loaded preset being valid.
    pub fn with_user_presets(user: Vec<Preset>) -> Result<Self, preset::PresetError> {
        let mut presets = preset::builtin().to_vec();
        for p in user {
            p.validate()?;
            presets.retain(|b| !(b.id == p.id && b.variant == p.variant));
            presets.push(p);
        }
        Ok(Registry::new(presets))
    }

    pub fn presets(&self) -> &[Preset] {
        &self.presets
    }

    /// Whether `id` names a provider in this registry.
    pub fn knows(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// The presets worth asking about `request`, in table order: those whose
    /// header it carries, those found by code, and every preset of a
    /// provider with a secret (a secret's settings may name the header).
    fn worth_asking(&self, request: &Request<'_>, secrets: &[Secret]) -> Vec<usize> {
        let mut found = self.by_code.clone();
        for header in request.headers {
            let list = if header.name.bytes().any(|b| b.is_ascii_uppercase()) {
                self.by_header.get(&header.name.to_ascii_lowercase())
            } else {
                self.by_header.get(&header.name)
            };
            found.extend(list.into_iter().flatten());
        }
        for secret in secrets {
            found.extend(self.by_id.get(&secret.provider).into_iter().flatten());
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// A candidate scheme: a preset whose signature is on the request, with
/// the secret to try (after the secret's own parameters are applied).
struct Candidate<'a> {
    preset: Cow<'a, Preset>,
    secret: Option<(usize, usize, &'a Secret)>,
}

/// Verifies a request against every matching scheme and configured secret.
/// `now` is the verifier's clock in Unix seconds.
pub fn verify<'a>(
    registry: &'a Registry,
    request: &Request<'_>,
    secrets: &'a [Secret],
    now: i64,
) -> Verdict {
    let mut candidates: Vec<Candidate<'a>> = Vec::new();
    let mut setup_errors: Vec<(String, String)> = Vec::new();
    for index in registry.worth_asking(request, secrets) {
        let preset = &registry.presets[index];
        let mine: Vec<&Secret> = secrets.iter().filter(|s| s.provider == preset.id).collect();
        if mine.is_empty() {
            if !preset.only_with_secret && preset.is_present(request) {
                candidates.push(Candidate {
                    preset: Cow::Borrowed(preset),
                    secret: None,
                });
            }
            continue;
        }
        let total = mine.len();
        for (index, secret) in mine.into_iter().enumerate() {
            match preset.with_params(&secret.params) {
                Ok(effective) if effective.is_present(request) => candidates.push(Candidate {
                    preset: effective,
                    secret: Some((index, total, secret)),
                }),
                Ok(_) => {}
                Err(e) => setup_errors.push((preset.id.clone(), e)),
            }
        }
    }

    let mut names: Vec<String> = Vec::new();
    for c in &candidates {
        if !names.contains(&c.preset.id) {
            names.push(c.preset.id.clone());
        }
    }
    if candidates.is_empty() {
        if let Some((id, error)) = setup_errors.into_iter().next() {
            return Verdict {
                scheme: Some(id),
                status: Status::NoSecret,
                reason: format!("secret configured but unusable: {error}"),
                secret: None,
                timestamp_age_s: None,
                candidates: names,
            };
        }
        return Verdict {
            scheme: None,
            status: Status::Unsigned,
            reason: "no known signature header".to_string(),
            secret: None,
            timestamp_age_s: None,
            candidates: names,
        };
    }
    if candidates.iter().all(|c| c.secret.is_none()) {
        let first = &candidates[0].preset;
        // A secret that was given but could not be used explains more than
        // the list of providers that share this header.
        let unusable = setup_errors
            .first()
            .map(|(_, e)| format!("secret configured but unusable: {e}; "))
            .unwrap_or_default();
        return Verdict {
            scheme: Some(first.id.clone()),
            status: Status::NoSecret,
            reason: format!(
                "{unusable}signed ({}) but no secret is configured for {}; pass --secret {}=...",
                first.header_label(),
                names.join(" or "),
                first.id
            ),
            secret: None,
            timestamp_age_s: None,
            candidates: names,
        };
    }

    let mut best: Option<(Attempt, &Candidate<'_>)> = None;
    for candidate in candidates.iter().filter(|c| c.secret.is_some()) {
        let Some((_, _, secret)) = candidate.secret else {
            continue;
        };
        let attempt = match candidate.preset.custom {
            Some(custom) => custom.verify(&candidate.preset, request, secret, now),
            None => engine::verify(&candidate.preset, request, secret, now),
        };
        let better = best
            .as_ref()
            .is_none_or(|(b, _)| attempt.status.rank() > b.status.rank());
        if better {
            let done = attempt.status == Status::Valid;
            best = Some((attempt, candidate));
            if done {
                break;
            }
        }
    }
    let Some((attempt, candidate)) = best else {
        // Unreachable in practice: at least one candidate had a secret.
        return Verdict {
            scheme: None,
            status: Status::Unsigned,
            reason: "no scheme could be tried".to_string(),
            secret: None,
            timestamp_age_s: None,
            candidates: names,
        };
    };
    let secret_label = match (attempt.status, candidate.secret) {
        (Status::Valid | Status::Expired, Some((index, total, secret))) => Some(format!(
            "secret {} of {total}, {}",
            index + 1,
            secret.masked()
        )),
        _ => None,
    };
    Verdict {
        scheme: Some(candidate.preset.id.clone()),
        status: attempt.status,
        reason: attempt.reason,
        secret: secret_label,
        timestamp_age_s: attempt.timestamp_age_s,
        candidates: names,
    }
}

#[cfg(test)]
#[path = "signature/verify_tests.rs"]
mod tests;
