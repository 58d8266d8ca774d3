//! JWT-signed webhooks (HS256): the header carries a compact JWT keyed with
//! the shared secret, and a claim carries the body's SHA-256 (Netlify's
//! `sha256`, Vonage's `payload_hash`, LiveKit's `sha256`). A JWT is not a
//! MAC over the body, so it cannot be a plain preset: the body is bound
//! only through that claim, and both must check out.

use super::crypto;
use super::schema::{Algorithm, Encoding, Preset};
use super::secret::Secret;
use super::{Attempt, Request, Status};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::Digest as _;

/// How long a JWT made by [`sign`] is valid, in seconds.
pub(super) const LIFETIME_S: i64 = 300;

fn b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

fn body_hash(body: &[u8], encoding: Encoding) -> String {
    let digest = sha2::Sha256::digest(body);
    match encoding {
        Encoding::Hex => hex::encode(digest),
        Encoding::Base64 => STANDARD.encode(digest),
        Encoding::Base64url => URL_SAFE_NO_PAD.encode(digest),
    }
}

pub(super) fn verify(preset: &Preset, request: &Request<'_>, secret: &Secret, now: i64) -> Attempt {
    let malformed =
        |why: &str| Attempt::new(Status::Malformed, format!("{}: {why}", preset.header));
    let Some(raw) = request.header(&preset.header) else {
        return Attempt::new(Status::Unsigned, format!("no {} header", preset.header));
    };
    let token = preset
        .prefix
        .as_deref()
        .and_then(|p| raw.strip_prefix(p))
        .unwrap_or(raw)
        .trim();
    let mut pieces = token.split('.');
    let (Some(head), Some(claims), Some(sig), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        return malformed("not a compact JWT (three dot-separated parts)");
    };
    let header: Option<serde_json::Value> =
        b64url(head).and_then(|h| serde_json::from_slice(&h).ok());
    if header.as_ref().and_then(|h| h["alg"].as_str()) != Some("HS256") {
        return malformed("JWT header is not alg HS256");
    }
    let Some(claims) =
        b64url(claims).and_then(|c| serde_json::from_slice::<serde_json::Value>(&c).ok())
    else {
        return malformed("JWT claims are not base64url JSON");
    };
    let Some(sig) = b64url(sig) else {
        return malformed("JWT signature is not base64url");
    };
    let signed = format!("{head}.{}", token.split('.').nth(1).unwrap_or_default());
    if !crypto::check(
        Algorithm::HmacSha256,
        secret.value.as_bytes(),
        signed.as_bytes(),
        &sig,
    ) {
        return Attempt::new(
            Status::Invalid,
            format!(
                "the JWT in {} is not signed with the configured secret",
                preset.header
            ),
        );
    }
    if let Some(claim) = &preset.jwt_body_hash_claim {
        let expected = body_hash(request.body, preset.encoding);
        let matches = claims[claim.as_str()].as_str().is_some_and(|got| {
            crypto::ct_eq(
                got.to_ascii_lowercase().as_bytes(),
                expected.to_ascii_lowercase().as_bytes(),
            ) || crypto::ct_eq(got.as_bytes(), expected.as_bytes())
        });
        if !matches {
            return Attempt::new(
                Status::Invalid,
                format!(
                    "the JWT is genuine but its {claim} claim does not match the body (changed after signing?)"
                ),
            );
        }
    }
    let mut attempt = Attempt::new(Status::Valid, "JWT (HS256) matches and binds the body");
    attempt.timestamp_age_s = claims["iat"].as_i64().map(|iat| now - iat);
    if let Some(exp) = claims["exp"].as_i64()
        && now > exp
    {
        attempt = Attempt::new(
            Status::Expired,
            format!("the JWT is genuine but expired {} s ago", now - exp),
        );
        attempt.timestamp_age_s = claims["iat"].as_i64().map(|iat| now - iat);
    }
    attempt
}

/// A JWT as the provider would send it: issued now, valid [`LIFETIME_S`].
pub(super) fn sign(preset: &Preset, secret: &Secret, body: &[u8], now: i64) -> String {
    let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let mut claims = serde_json::json!({ "iat": now, "exp": now + LIFETIME_S });
    if let Some(claim) = &preset.jwt_body_hash_claim {
        claims[claim.as_str()] = serde_json::Value::String(body_hash(body, preset.encoding));
    }
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{head}.{claims}");
    let mac = crypto::mac(
        Algorithm::HmacSha256,
        secret.value.as_bytes(),
        signed.as_bytes(),
    )
    .unwrap_or_default();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac))
}
