//! The preset engine: one function verifies every data-described scheme.
//!
//! Order of checks follows the providers' SDKs: header present, header
//! parsable, timestamp present, a signature matches, then the timestamp is
//! within tolerance. A stale but correct signature is `expired`, not
//! `invalid`, so the user knows the secret is right and the clock (or a
//! replay) is the problem.

use super::crypto;
use super::parse;
use super::schema::{Algorithm, Direction, Part, Preset, TimestampSource};
use super::secret::Secret;
use super::{Attempt, Request, Status};

/// What the engine read off the request before checking any signature.
struct Parsed<'a> {
    signatures: Vec<Vec<u8>>,
    /// The timestamp as sent (signed as text) and as Unix seconds (`None`
    /// for raw timestamps, which are signed but not interpreted).
    timestamp: Option<(String, Option<i64>)>,
    id: Option<&'a str>,
}

fn read<'a>(preset: &Preset, request: &Request<'a>) -> Result<Parsed<'a>, Attempt> {
    let malformed = |why: String| Attempt::new(Status::Malformed, why);
    let Some(raw) = request.header(&preset.header) else {
        return Err(Attempt::new(
            Status::Unsigned,
            format!("no {} header", preset.header),
        ));
    };
    let (texts, list_ts) = match &preset.list {
        Some(format) => {
            let list = parse::list(raw, format)
                .map_err(|e| malformed(format!("{}: {e}", preset.header)))?;
            (list.signatures, list.timestamp)
        }
        None => (vec![raw], None),
    };
    let mut stripped = Vec::with_capacity(texts.len());
    for text in texts {
        match preset.prefix.as_deref() {
            Some(prefix) => match text.strip_prefix(prefix) {
                Some(rest) => stripped.push(rest),
                None if preset.prefix_optional => stripped.push(text),
                None => {
                    return Err(malformed(format!(
                        "{} does not start with {prefix}",
                        preset.header
                    )));
                }
            },
            None => stripped.push(text),
        }
    }
    // An entry that does not decode is "no match" for that entry (a rotation
    // list may carry placeholders); only a header with no usable entry is
    // malformed.
    let signatures: Vec<Vec<u8>> = stripped
        .iter()
        .filter_map(|s| parse::decode_signature(s, preset.encoding))
        .collect();
    if signatures.is_empty() {
        return Err(malformed(format!(
            "{} is not {:?}-encoded{}",
            preset.header,
            preset.encoding,
            preset
                .prefix
                .as_deref()
                .map(|p| format!(" (after {p})"))
                .unwrap_or_default()
        )));
    }
    let timestamp = match &preset.timestamp {
        None => None,
        Some(rule) => {
            let text = match &rule.source {
                TimestampSource::List(_) => list_ts.map(str::to_string),
                TimestampSource::Header(name) => request.header(name).map(str::to_string),
                TimestampSource::Body(field) => parse::json_field(request.body, field),
            };
            let text =
                text.ok_or_else(|| malformed(format!("missing timestamp ({})", rule.source)))?;
            let secs = parse::timestamp(&text, rule.unit).map_err(malformed)?;
            Some((text, secs))
        }
    };
    let id = match &preset.id_header {
        Some(name) => Some(
            request
                .header(name)
                .ok_or_else(|| malformed(format!("missing {name} header")))?,
        ),
        None => None,
    };
    Ok(Parsed {
        signatures,
        timestamp,
        id,
    })
}

/// The bytes the provider signed, built from the preset's template.
pub fn signed_content(
    preset: &Preset,
    request: &Request<'_>,
    secret: &Secret,
    timestamp: Option<&str>,
    id: Option<&str>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(request.body.len() + 128);
    for part in preset.template.parts() {
        match part {
            Part::Text(t) => out.extend_from_slice(t.as_bytes()),
            Part::Body => out.extend_from_slice(request.body),
            Part::Timestamp => out.extend_from_slice(timestamp.ok_or("no timestamp")?.as_bytes()),
            Part::Id => out.extend_from_slice(id.ok_or("no message id")?.as_bytes()),
            Part::Url => out.extend_from_slice(request.url.as_bytes()),
            Part::Secret => out.extend_from_slice(secret.value.as_bytes()),
            Part::BodySha256 => {
                use sha2::Digest as _;
                out.extend_from_slice(hex::encode(sha2::Sha256::digest(request.body)).as_bytes());
            }
            Part::Header(name) => out.extend_from_slice(
                request
                    .header(name)
                    .ok_or_else(|| format!("missing {name} header"))?
                    .as_bytes(),
            ),
            Part::Param(name) => out.extend_from_slice(
                secret
                    .params
                    .get(name)
                    .ok_or_else(|| format!("{} needs {name}=... with its secret", preset.id))?
                    .as_bytes(),
            ),
        }
    }
    Ok(out)
}

pub fn verify(preset: &Preset, request: &Request<'_>, secret: &Secret, now: i64) -> Attempt {
    if preset.algorithm.is_credential() {
        return credential(preset, request, secret);
    }
    let parsed = match read(preset, request) {
        Ok(p) => p,
        Err(attempt) => return attempt,
    };
    let key = crypto::decode_key(&secret.value, &preset.key_decoding)
        .ok()
        .filter(|k| crypto::key_fits(preset.algorithm, k));
    let Some(key) = key else {
        return Attempt::new(
            Status::Invalid,
            format!(
                "the configured {} secret does not fit this scheme (expected {})",
                preset.id, preset.secret_hint
            ),
        );
    };
    let ts_text = parsed.timestamp.as_ref().map(|(t, _)| t.as_str());
    let content = match signed_content(preset, request, secret, ts_text, parsed.id) {
        Ok(c) => c,
        Err(e) => return Attempt::new(Status::Malformed, e),
    };
    let count = parsed.signatures.len();
    let Some(index) = parsed
        .signatures
        .iter()
        .position(|sig| crypto::check(preset.algorithm, &key, &content, sig))
    else {
        let over = if preset.template.signs(&Part::Url) {
            format!("{} (signed URL: {})", preset.template, request.url)
        } else {
            preset.template.to_string()
        };
        return Attempt::new(
            Status::Invalid,
            format!(
                "no {} signature matches the configured secret ({count} in {}, over {over})",
                preset.algorithm.label(),
                preset.header
            ),
        );
    };
    let which = if count > 1 {
        format!(" (signature {} of {count})", index + 1)
    } else {
        String::new()
    };
    let Some((_, Some(ts))) = parsed.timestamp else {
        return Attempt::new(
            Status::Valid,
            format!("{} matches{which}", preset.algorithm.label()),
        );
    };
    let age = now - ts;
    let mut attempt = match preset
        .timestamp
        .as_ref()
        .and_then(|r| r.tolerance_s.map(|t| (t, r.direction)))
    {
        Some((tolerance, direction))
            if age > tolerance || (direction == Direction::Both && -age > tolerance) =>
        {
            let when = if age >= 0 {
                format!("{age} s old")
            } else {
                format!("{} s in the future", -age)
            };
            Attempt::new(
                Status::Expired,
                format!(
                    "signature matches{which} but the timestamp is {when} (tolerance {tolerance} s)"
                ),
            )
        }
        _ => Attempt::new(
            Status::Valid,
            format!(
                "{} matches{which}, timestamp {age} s old",
                preset.algorithm.label()
            ),
        ),
    };
    attempt.timestamp_age_s = Some(age);
    attempt
}

/// Schemes where the header carries the secret itself (a token, or Basic
/// credentials): compared in constant time, never echoed.
fn credential(preset: &Preset, request: &Request<'_>, secret: &Secret) -> Attempt {
    let Some(raw) = request.header(&preset.header) else {
        return Attempt::new(Status::Unsigned, format!("no {} header", preset.header));
    };
    let presented: Vec<u8> = match preset.algorithm {
        Algorithm::BasicAuth => {
            let Some(encoded) = raw
                .strip_prefix("Basic ")
                .or_else(|| raw.strip_prefix("basic "))
            else {
                return Attempt::new(
                    Status::Malformed,
                    format!("{} is not Basic credentials", preset.header),
                );
            };
            match parse::base64_lenient(encoded) {
                Some(decoded) => decoded,
                None => {
                    return Attempt::new(
                        Status::Malformed,
                        format!("{} Basic credentials are not base64", preset.header),
                    );
                }
            }
        }
        _ => preset
            .prefix
            .as_deref()
            .and_then(|p| raw.strip_prefix(p))
            .unwrap_or(raw)
            .as_bytes()
            .to_vec(),
    };
    if crypto::ct_eq(&presented, secret.value.as_bytes()) {
        Attempt::new(
            Status::Valid,
            format!("{} matches the configured secret", preset.algorithm.label()),
        )
    } else {
        Attempt::new(
            Status::Invalid,
            format!(
                "{} in {} does not match the configured secret",
                preset.algorithm.label(),
                preset.header
            ),
        )
    }
}
