//! Adyen standard notifications: every `NotificationRequestItem` in the
//! body carries its own `additionalData.hmacSignature`, a base64
//! HMAC-SHA256 keyed with the **hex-decoded** HMAC key, over eight of the
//! item's fields joined by `:` (absent ones empty, nothing escaped):
//!
//! ```text
//! pspReference:originalReference:merchantAccountCode:merchantReference:amount.value:amount.currency:eventCode:success
//! ```
//!
//! This is code rather than a preset because there is no header to read and
//! the signed text is built from JSON fields, and because a valid result
//! must say which fields are covered: the rest of the item is not. (Adyen's
//! newer webhooks sign the whole body in an `HmacSignature` header; that
//! variant is a preset.)

use super::secret::Secret;
use super::{Attempt, Request, Status};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use memchr::memmem::Finder;
use serde_json::{Map, Value};
use sha2::Sha256;
use std::sync::LazyLock;

/// What a valid result says the MAC covers.
const COVERED: &str = "pspReference, originalReference, merchantAccountCode, merchantReference, \
                       amount, eventCode and success";

/// One notification item: where it is, the text Adyen signs, its signature.
struct Item {
    /// `item 2 (pspReference 7914073381342284)`, for reasons.
    place: String,
    signed: String,
    signature: Option<String>,
}

/// Whether the body is an Adyen notification with at least one signature.
pub(super) fn is_present(request: &Request<'_>) -> bool {
    items(request.body).iter().any(|i| i.signature.is_some())
}

/// Checks every item's signature against the HMAC key in `secret`; valid
/// only when all of them match.
pub(super) fn verify(request: &Request<'_>, secret: &Secret) -> Attempt {
    let key = match key(secret) {
        Ok(key) => key,
        Err(e) => {
            let reason = format!("secret configured but unusable: {e}");
            return Attempt::new(Status::NoSecret, reason);
        }
    };
    let items = items(request.body);
    if items.iter().all(|i| i.signature.is_none()) {
        return Attempt::new(
            Status::Unsigned,
            "no Adyen signature in the body (additionalData.hmacSignature in a \
             NotificationRequestItem)",
        );
    }
    for item in &items {
        let place = &item.place;
        let Some(signature) = &item.signature else {
            let reason = format!("{place} has no additionalData.hmacSignature");
            return Attempt::new(Status::Malformed, reason);
        };
        let Ok(signature) = STANDARD.decode(signature) else {
            let reason = format!("{place}: hmacSignature is not base64");
            return Attempt::new(Status::Malformed, reason);
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(item.signed.as_bytes());
        // verify_slice compares in constant time.
        if mac.verify_slice(&signature).is_err() {
            let reason = format!(
                "no match for HMAC-SHA256 over the signed fields of {place} (is this the HMAC \
                 key, in hex, of the webhook that sent it?)"
            );
            return Attempt::new(Status::Invalid, reason);
        }
    }
    let count = items.len();
    let reason = format!(
        "HMAC-SHA256 matches (hex HMAC key) for {count} notification item{} (Adyen signs \
         {COVERED}; the other fields are not covered)",
        if count == 1 { "" } else { "s" }
    );
    Attempt::new(Status::Valid, reason)
}

/// The body Adyen would send: `body` (a notification) with each item's
/// `additionalData.hmacSignature` set.
pub(super) fn sign(body: &[u8], secret: &Secret) -> Result<Vec<u8>, String> {
    let key = key(secret)?;
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| format!("Adyen notifications are JSON: {e}"))?;
    let list = value
        .get_mut("notificationItems")
        .and_then(Value::as_array_mut)
        .ok_or("an Adyen notification has a notificationItems list")?;
    for entry in list {
        let item = entry
            .get_mut("NotificationRequestItem")
            .and_then(Value::as_object_mut)
            .ok_or("each of notificationItems holds a NotificationRequestItem object")?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(signed_text(item).as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        let extra = item
            .entry("additionalData")
            .or_insert_with(|| Value::Object(Map::new()));
        let extra = extra
            .as_object_mut()
            .ok_or("additionalData must be an object")?;
        extra.insert("hmacSignature".to_string(), Value::String(signature));
    }
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

/// Adyen shows the HMAC key in hex and signs with the bytes it stands for.
fn key(secret: &Secret) -> Result<Vec<u8>, String> {
    hex::decode(secret.value.trim()).map_err(|_| {
        "an Adyen HMAC key is hex (64 digits, as the Customer Area shows it)".to_string()
    })
}

/// The notification items of an Adyen body, empty for any other body.
fn items(body: &[u8]) -> Vec<Item> {
    // Every body passes through here during detection: skip the parser
    // unless the field name occurs at all (the searcher is built once).
    static NEEDLE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("notificationItems"));
    if NEEDLE.find(body).is_none() {
        return Vec::new();
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let Some(list) = value.get("notificationItems").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|entry| entry.get("NotificationRequestItem")?.as_object())
        .enumerate()
        .map(|(index, item)| {
            let psp = text(item.get("pspReference"));
            Item {
                place: format!("item {} (pspReference {psp:?})", index + 1),
                signed: signed_text(item),
                signature: item
                    .get("additionalData")
                    .and_then(|extra| extra.get("hmacSignature"))
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            }
        })
        .collect()
}

/// The text Adyen signs for one item.
fn signed_text(item: &Map<String, Value>) -> String {
    let amount = item.get("amount");
    [
        text(item.get("pspReference")),
        text(item.get("originalReference")),
        text(item.get("merchantAccountCode")),
        text(item.get("merchantReference")),
        text(amount.and_then(|a| a.get("value"))),
        text(amount.and_then(|a| a.get("currency"))),
        text(item.get("eventCode")),
        text(item.get("success")),
    ]
    .join(":")
}

/// A field as Adyen's libraries print it: strings as they are, numbers and
/// booleans as written, anything absent (or null) empty.
fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
#[path = "adyen_tests.rs"]
mod tests;
