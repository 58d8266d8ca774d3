//! Mailgun: hex HMAC-SHA256, keyed with the webhook signing key, over
//! `timestamp + token`, all three of which travel inside the body (a
//! `signature` object in JSON webhooks, plain form fields in legacy ones).
//!
//! This is code rather than a preset because there is no header to read: the
//! signature has to be dug out of the body, and a valid result must say that
//! `event-data`, the part a receiver acts on, is not covered by the MAC.

use super::secret::Secret;
use super::{Attempt, Request, Status};
use hmac::{Hmac, Mac};
use memchr::memmem::Finder;
use serde_json::{Map, Value};
use sha2::Sha256;
use std::sync::LazyLock;

/// Mailgun only says "not too far from the current time"; this is the
/// product default (past only), overridable with `tolerance=` on the secret.
pub(super) const TOLERANCE_S: i64 = 300;

/// One set of signed fields found in the body. Only sets with a non-empty
/// `signature` are kept: without one there is nothing to verify.
struct Found {
    /// Where the fields were, for reasons.
    place: &'static str,
    timestamp: Option<String>,
    token: Option<String>,
    signature: String,
}

/// Whether the body carries a Mailgun signature.
pub(super) fn is_present(request: &Request<'_>) -> bool {
    !find(request.body).is_empty()
}

/// Checks the body's signature against the webhook signing key in `secret`;
/// `now` is Unix seconds.
pub(super) fn verify(request: &Request<'_>, secret: &Secret, now: i64) -> Attempt {
    let tolerance = secret
        .params
        .get("tolerance")
        .and_then(|t| super::secret::parse_tolerance(t).ok())
        .unwrap_or(TOLERANCE_S);
    let mut first_failure = None;
    // A subaccount's webhook also carries `parent-signature`, made the same
    // way with the primary account's key: either may be the configured one.
    for found in find(request.body) {
        let attempt = check(&found, secret.value.as_bytes(), now, tolerance);
        if matches!(attempt.status, Status::Valid | Status::Expired) {
            return attempt;
        }
        if first_failure.is_none() {
            first_failure = Some(attempt);
        }
    }
    first_failure.unwrap_or_else(|| {
        Attempt::new(
            Status::Unsigned,
            "no Mailgun signature in the body (a `signature` object with timestamp, token \
             and signature)",
        )
    })
}

fn check(found: &Found, key: &[u8], now: i64, tolerance: i64) -> Attempt {
    let place = found.place;
    let Some(timestamp) = &found.timestamp else {
        return Attempt::new(Status::Malformed, format!("{place} has no timestamp"));
    };
    let Some(token) = &found.token else {
        return Attempt::new(Status::Malformed, format!("{place} has no token"));
    };
    let Ok(signed_at) = timestamp.parse::<i64>() else {
        let reason = format!("{place}: timestamp {timestamp:?} is not Unix seconds");
        return Attempt::new(Status::Malformed, reason);
    };
    let Some(signature) = hex::decode(&found.signature).ok().filter(|s| s.len() == 32) else {
        let reason = format!("{place}: signature is not 64 hex digits (an HMAC-SHA256)");
        return Attempt::new(Status::Malformed, reason);
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    if mac.verify_slice(&signature).is_err() {
        let reason = format!(
            "no match for HMAC-SHA256 over timestamp + token in {place} (is this the \
             webhook signing key of the account that sent it?)"
        );
        return Attempt::new(Status::Invalid, reason);
    }
    let age = now.saturating_sub(signed_at);
    let mut attempt = if age > tolerance {
        let reason =
            format!("signature matches but the timestamp is {age} s old (tolerance {tolerance} s)");
        Attempt::new(Status::Expired, reason)
    } else {
        let reason = format!(
            "HMAC-SHA256 matches (webhook signing key) in {place}, timestamp age {age} s \
             (Mailgun signs timestamp+token only; event-data is not covered)"
        );
        Attempt::new(Status::Valid, reason)
    };
    attempt.timestamp_age_s = Some(age);
    attempt
}

/// The signed field sets in the body, `signature` before `parent-signature`.
fn find(body: &[u8]) -> Vec<Found> {
    // Every body passes through here during detection: skip the parsers
    // unless the word occurs at all (the searcher is built once).
    static NEEDLE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("signature"));
    if NEEDLE.find(body).is_none() {
        return Vec::new();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(top)) => ["signature", "parent-signature"]
            .into_iter()
            .filter_map(|name| match top.get(name) {
                Some(Value::Object(fields)) => from_json(name, fields),
                _ => None,
            })
            .collect(),
        Ok(_) => Vec::new(),
        Err(_) => from_form(body).into_iter().collect(),
    }
}

fn from_json(name: &str, fields: &Map<String, Value>) -> Option<Found> {
    // Mailgun sends the timestamp as a string, but a number means the same.
    let text = |key: &str| match fields.get(key) {
        Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let place = if name == "signature" {
        "the `signature` object"
    } else {
        "the `parent-signature` object (primary account key)"
    };
    Some(Found {
        place,
        timestamp: text("timestamp"),
        token: text("token"),
        signature: text("signature")?,
    })
}

/// Legacy webhooks post `timestamp`, `token` and `signature` as form fields.
/// A form counts only with a token or timestamp beside the signature, since a
/// field named `signature` alone is too common to mean Mailgun.
fn from_form(body: &[u8]) -> Option<Found> {
    let pairs = crate::form::parse(body).ok()?;
    let field = |key: &str| {
        let value = pairs.iter().find(|(name, _)| name == key).map(|(_, v)| v);
        value.filter(|v| !v.is_empty()).cloned()
    };
    let found = Found {
        place: "the form fields",
        timestamp: field("timestamp"),
        token: field("token"),
        signature: field("signature")?,
    };
    (found.timestamp.is_some() || found.token.is_some()).then_some(found)
}

/// The body Mailgun would send: `body` (a JSON object) with its `signature`
/// object set for `timestamp` and `token`.
pub(super) fn sign(
    body: &[u8],
    secret: &Secret,
    timestamp: i64,
    token: &str,
) -> Result<Vec<u8>, String> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| format!("Mailgun bodies are JSON: {e}"))?;
    let object = value
        .as_object_mut()
        .ok_or("Mailgun bodies are JSON objects")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.value.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp}{token}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    object.insert(
        "signature".to_string(),
        serde_json::json!({ "timestamp": timestamp.to_string(), "token": token, "signature": signature }),
    );
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Header;
    use crate::signature::Status::{Expired, Invalid, Malformed, Unsigned, Valid};

    const KEY: &str = "key-1f5c606735c729d426854036f8546f97";
    const TOKEN: &str = "55f0ebdc69ef97244ed98dfdcc09fdbe7dd11876f61e848cf9";
    const NOW: i64 = 1_767_225_600;
    const TS: &str = r#""1767225580""#;

    fn sign(key: &str, timestamp: &str, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{timestamp}{token}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A signature object; `ts` is spliced in raw, so quote it for a string.
    fn object(ts: &str, token: &str, signature: &str) -> String {
        format!(r#"{{"timestamp":{ts},"token":"{token}","signature":"{signature}"}}"#)
    }

    fn json(ts: &str, token: &str, signature: &str, event: &str) -> String {
        let object = object(ts, token, signature);
        format!(r#"{{"signature":{object},"event-data":{{"event":"{event}"}}}}"#)
    }

    fn check(body: &str, secret: &Secret) -> Attempt {
        let headers = [Header::new("Content-Type", "application/json")];
        let request = Request {
            method: "POST",
            url: "https://hooks.example.test/in/abc123",
            headers: &headers,
            body: body.as_bytes(),
        };
        let attempt = verify(&request, secret, NOW);
        assert!(!attempt.reason.contains(&secret.value));
        assert_eq!(is_present(&request), attempt.status != Unsigned);
        attempt
    }

    #[test]
    fn statuses_ages_and_reasons() {
        let fresh = sign(KEY, "1767225580", TOKEN);
        let stale = sign(KEY, "1767225000", TOKEN);
        let future = sign(KEY, "1767225700", TOKEN);
        let sub = sign("key-sub", "1767225580", TOKEN);
        let tampered = TOKEN.replace("8cf9", "beef");
        let parent = format!(r#"{{"parent-signature":{},"#, object(TS, TOKEN, &fresh));
        let with_parent = json(TS, TOKEN, &sub, "x").replacen('{', &parent, 1);
        let form = format!("timestamp=1767225580&token={TOKEN}&signature={fresh}&event=x");
        let unsigned = r#"{"event-data":{"event":"delivered","id":"CPgfbmQMTCKtHW6uIWtuVe"}}"#;
        #[rustfmt::skip]
        let cases = [
            (json(TS, TOKEN, &fresh, "delivered"), KEY, Valid, Some(20), "event-data is not covered"),
            (json("1767225580", TOKEN, &fresh, "delivered"), KEY, Valid, Some(20), "age 20 s"),
            (json(TS, TOKEN, &fresh, "failed"), KEY, Valid, Some(20), "event-data is not covered"),
            (json(TS, &tampered, &fresh, "delivered"), KEY, Invalid, None, "no match"),
            (json(TS, TOKEN, &fresh, "delivered"), "key-other", Invalid, None, "signing key"),
            (json(r#""1767225000""#, TOKEN, &stale, "x"), KEY, Expired, Some(600), "600 s old (tolerance 300 s)"),
            (json(r#""1767225700""#, TOKEN, &future, "x"), KEY, Valid, Some(-100), "matches"),
            (json(TS, TOKEN, "zz", "x"), KEY, Malformed, None, "64 hex digits"),
            (json(r#""yesterday""#, TOKEN, &fresh, "x"), KEY, Malformed, None, "not Unix seconds"),
            (json("null", TOKEN, &fresh, "x"), KEY, Malformed, None, "no timestamp"),
            (json(TS, "", &fresh, "x"), KEY, Malformed, None, "no token"),
            (json(TS, TOKEN, "", "x"), KEY, Unsigned, None, "no Mailgun signature"),
            (unsigned.to_string(), KEY, Unsigned, None, "no Mailgun signature"),
            (with_parent.clone(), KEY, Valid, Some(20), "the `parent-signature` object"),
            (with_parent, "key-sub", Valid, Some(20), "the `signature` object"),
            (form, KEY, Valid, Some(20), "the form fields"),
            // A lone `signature` form field is too common to be taken for Mailgun's.
            ("signature=abc&name=x".to_string(), KEY, Unsigned, None, "no Mailgun signature"),
        ];
        for (body, key, status, age, says) in cases {
            let attempt = check(&body, &Secret::new("mailgun", key));
            let seen = (
                attempt.status,
                attempt.timestamp_age_s,
                attempt.reason.contains(says),
            );
            assert_eq!(seen, (status, age, true), "{body}: {}", attempt.reason);
        }
    }

    #[test]
    fn tolerance_can_be_configured() {
        let body = json(
            r#""1767225000""#,
            TOKEN,
            &sign(KEY, "1767225000", TOKEN),
            "x",
        );
        let secret = Secret::new("mailgun", KEY).with_param("tolerance", "900s");
        assert_eq!(check(&body, &secret).status, Valid);
    }
}
