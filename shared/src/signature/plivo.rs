//! Plivo: base64 HMAC-SHA256 keyed with the auth token. Version 3
//! (`X-Plivo-Signature-V3`, with `X-Plivo-Signature-V3-Nonce`) signs the
//! public URL with its query parameters decoded and sorted, then the POST
//! form parameters sorted as `name` + `value`, then `.` and the nonce; the
//! header may hold several signatures, comma-separated. The legacy version 2
//! (`X-Plivo-Signature-V2`, `-V2-Nonce`) signs the URL without its query,
//! followed by the nonce.
//!
//! This is code rather than a preset because the signed string is rebuilt
//! from decoded, re-ordered parameters, and GET and POST differ. The rules
//! follow plivo-python (`validate_v3_signature`, `validate_signature`).

use super::secret::Secret;
use super::{Attempt, Request, Status};
use crate::form;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;

const V3: &str = "X-Plivo-Signature-V3";
const V3_NONCE: &str = "X-Plivo-Signature-V3-Nonce";
const V2: &str = "X-Plivo-Signature-V2";
const V2_NONCE: &str = "X-Plivo-Signature-V2-Nonce";

/// Whether the request carries a Plivo signature (either version).
pub(super) fn is_present(request: &Request<'_>) -> bool {
    request.header(V3).is_some() || request.header(V2).is_some()
}

/// Checks the request's Plivo signature (version 3 when present) against
/// the auth token in `secret`.
pub(super) fn verify(request: &Request<'_>, secret: &Secret) -> Attempt {
    let (header, nonce_header, version) = match request.header(V3) {
        Some(header) => (header, V3_NONCE, 3),
        None => match request.header(V2) {
            Some(header) => (header, V2_NONCE, 2),
            None => return Attempt::new(Status::Unsigned, "no X-Plivo-Signature-V3 header"),
        },
    };
    let Some(nonce) = request.header(nonce_header) else {
        return Attempt::new(Status::Malformed, format!("no {nonce_header} header"));
    };
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match BASE64.decode(part.trim()) {
            Ok(bytes) if bytes.len() == 32 => signatures.push(bytes),
            _ => {
                let reason = format!(
                    "X-Plivo-Signature-V{version} is not base64 HMAC-SHA256 signatures, \
                     comma-separated"
                );
                return Attempt::new(Status::Malformed, reason);
            }
        }
    }
    let (signed, what) = if version == 3 {
        match signed_v3(request) {
            Ok(signed) => signed,
            Err(reason) => return Attempt::new(Status::Malformed, reason),
        }
    } else {
        (
            without_query(request.url).to_string(),
            " (no query)".to_string(),
        )
    };
    let matched = signatures.iter().any(|signature| {
        // verify_slice compares in constant time.
        mac(secret, &signed, nonce, version)
            .verify_slice(signature)
            .is_ok()
    });
    if matched {
        let reason = format!(
            "HMAC-SHA256 (V{version}) matches (auth token) over the public URL{what} and the nonce"
        );
        Attempt::new(Status::Valid, reason)
    } else {
        let reason = format!(
            "no match for HMAC-SHA256 (V{version}) over the public URL{what} and the nonce; is \
             the URL exactly the one configured at Plivo, and the auth token the account's (or \
             subaccount's) current one?"
        );
        Attempt::new(Status::Invalid, reason)
    }
}

/// The headers Plivo would send for this request (version 3), with `nonce`.
pub(super) fn sign(
    request: &Request<'_>,
    secret: &Secret,
    nonce: &str,
) -> Result<Vec<(&'static str, String)>, String> {
    let (signed, _) = signed_v3(request)?;
    let signature = BASE64.encode(mac(secret, &signed, nonce, 3).finalize().into_bytes());
    Ok(vec![(V3, signature), (V3_NONCE, nonce.to_string())])
}

fn mac(secret: &Secret, signed: &str, nonce: &str, version: u8) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.value.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(signed.as_bytes());
    // Version 3 separates the nonce with a dot; version 2 appends it.
    if version == 3 {
        mac.update(b".");
    }
    mac.update(nonce.as_bytes());
    mac
}

/// What version 3 signs before `.nonce`, and what that covers (for reasons).
fn signed_v3(request: &Request<'_>) -> Result<(String, String), String> {
    let base = without_query(request.url);
    let query = request.url[base.len()..].trim_start_matches('?');
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    let query: Vec<String> = sorted(form::parse(query.as_bytes())?)
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let query = query.join("&");
    let form_post = request.method.eq_ignore_ascii_case("POST") && is_form(request);
    let params = if form_post {
        sorted(form::parse(request.body)?)
    } else {
        Vec::new()
    };
    let mut signed = base.to_string();
    if !request.method.eq_ignore_ascii_case("POST") {
        if !query.is_empty() {
            signed.push('?');
            signed.push_str(&query);
        }
        return Ok((signed, " (query sorted)".to_string()));
    }
    // A POST with parameters always has the `?`; the `.` only separates a
    // query from them.
    if !query.is_empty() || !params.is_empty() {
        signed.push('?');
        signed.push_str(&query);
    }
    if !query.is_empty() && !params.is_empty() {
        signed.push('.');
    }
    for (name, value) in &params {
        signed.push_str(name);
        signed.push_str(value);
    }
    let what = match (form_post, params.len()) {
        (true, n) => format!(" + {n} sorted form params"),
        (false, _) => format!(
            " alone (the {}-byte body is not a form, so it is not covered)",
            request.body.len()
        ),
    };
    Ok((signed, what))
}

/// Pairs sorted by name, then each name's values sorted: Python's order
/// (code points) is the byte order of UTF-8 here.
fn sorted(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in pairs {
        by_name.entry(name).or_default().push(value);
    }
    by_name
        .into_iter()
        .flat_map(|(name, mut values)| {
            values.sort();
            values.into_iter().map(move |v| (name.clone(), v))
        })
        .collect()
}

fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn is_form(request: &Request<'_>) -> bool {
    form::is_form_type(request.header("content-type"))
}

#[cfg(test)]
#[path = "plivo_tests.rs"]
mod tests;
