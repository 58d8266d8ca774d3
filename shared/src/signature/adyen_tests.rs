use super::*;
use crate::signature::Status::{Invalid, Malformed, NoSecret, Unsigned, Valid};
use crate::signature::{Registry, verify as verify_all};

/// Adyen's worked example (docs.adyen.com, "Verify HMAC signatures"): this
/// key and these fields give this signature.
const KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
const SIGNATURE: &str = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=";

/// One item of the example, with `value` and `method` spliced in raw.
fn item(value: &str, method: &str, signature: &str) -> String {
    format!(
        r#"{{"NotificationRequestItem":{{"additionalData":{{"hmacSignature":"{signature}"}},"amount":{{"currency":"EUR","value":{value}}},"eventCode":"AUTHORISATION","eventDate":"2014-08-06T13:39:04+02:00","merchantAccountCode":"TestMerchant","merchantReference":"TestPayment-1407325143704","paymentMethod":"{method}","pspReference":"7914073381342284","reason":"033899:1111:03/2030","success":"true"}}}}"#
    )
}

fn notification(items: &[String]) -> String {
    format!(
        r#"{{"live":"false","notificationItems":[{}]}}"#,
        items.join(",")
    )
}

/// Adyen's verdict on `body` (no headers: the scheme reads none).
fn check(body: &str, key: &str) -> Attempt {
    let request = Request {
        method: "POST",
        url: "https://x",
        headers: &[],
        body: body.as_bytes(),
    };
    verify(&request, &Secret::new("adyen", key))
}

#[test]
fn adyen_worked_example_verifies() {
    let body = notification(&[item("1130", "visa", SIGNATURE)]);
    let attempt = check(&body, KEY);
    assert_eq!(attempt.status, Valid, "{}", attempt.reason);
    assert!(attempt.reason.contains("not covered"), "{}", attempt.reason);
    // Hex digits in either case are the same key.
    assert_eq!(check(&body, &KEY.to_lowercase()).status, Valid);
}

#[test]
fn signed_fields_are_covered_and_the_rest_is_not() {
    let changed_amount = notification(&[item("1131", "visa", SIGNATURE)]);
    let attempt = check(&changed_amount, KEY);
    assert_eq!(attempt.status, Invalid, "{}", attempt.reason);
    assert!(
        attempt.reason.contains("7914073381342284"),
        "{}",
        attempt.reason
    );
    let changed_method = notification(&[item("1130", "mc", SIGNATURE)]);
    assert_eq!(check(&changed_method, KEY).status, Valid);
}

#[test]
fn every_item_must_match() {
    let good = item("1130", "visa", SIGNATURE);
    let body = notification(&[good.clone(), item("2000", "visa", SIGNATURE)]);
    let attempt = check(&body, KEY);
    assert_eq!(attempt.status, Invalid);
    assert!(attempt.reason.contains("item 2"), "{}", attempt.reason);
    let unsigned_second = notification(&[good, item("2000", "visa", "")]);
    let attempt = check(&unsigned_second, KEY);
    assert_eq!(attempt.status, Malformed);
    assert!(attempt.reason.contains("item 2"), "{}", attempt.reason);
}

#[test]
fn wrong_keys_and_bodies_say_why() {
    let body = notification(&[item("1130", "visa", SIGNATURE)]);
    let other_key = "00".repeat(32);
    assert_eq!(check(&body, &other_key).status, Invalid);
    let attempt = check(&body, "not-hex-at-all");
    assert_eq!(attempt.status, NoSecret);
    assert!(attempt.reason.contains("hex"), "{}", attempt.reason);
    let not_base64 = notification(&[item("1130", "visa", "%%%")]);
    assert_eq!(check(&not_base64, KEY).status, Malformed);
    let unsigned = notification(&[item("1130", "visa", "")]);
    assert_eq!(check(&unsigned, KEY).status, Unsigned);
}

#[test]
fn only_adyen_notifications_are_detected() {
    let request = |body: &'static [u8]| Request {
        method: "POST",
        url: "https://x",
        headers: &[],
        body,
    };
    assert!(!is_present(&request(br#"{"id":"evt_1","object":"event"}"#)));
    assert!(!is_present(&request(br#"{"notificationItems":"no"}"#)));
    assert!(!is_present(&request(b"notificationItems, but not JSON")));
    let body = notification(&[item("1130", "visa", SIGNATURE)]);
    let body: &'static [u8] = Box::leak(body.into_bytes().into_boxed_slice());
    assert!(is_present(&request(body)));
}

#[test]
fn signing_reproduces_the_example_and_the_registry_finds_it() {
    let body = notification(&[item("1130", "visa", "")]);
    let signed = sign(body.as_bytes(), &Secret::new("adyen", KEY)).unwrap();
    let text = String::from_utf8(signed.clone()).unwrap();
    assert!(text.contains(SIGNATURE), "{text}");
    let request = Request {
        method: "POST",
        url: "https://x",
        headers: &[],
        body: &signed,
    };
    let registry = Registry::builtin();
    let verdict = verify_all(&registry, &request, &[Secret::new("adyen", KEY)], 0);
    assert_eq!(verdict.status, Valid, "{}", verdict.reason);
    assert_eq!(verdict.scheme.as_deref(), Some("adyen"));
    let without = verify_all(&registry, &request, &[], 0);
    assert_eq!(without.status, NoSecret, "{}", without.reason);
    assert_eq!(without.candidates, ["adyen"]);
}
