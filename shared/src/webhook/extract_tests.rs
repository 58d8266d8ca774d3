//! Form fields and composite ids against hostile and documented shapes.

use super::*;
use crate::webhook::MAX_FACT_LEN;

const FORM: &str = "application/x-www-form-urlencoded";

fn rules(json: &str) -> EventRules {
    let rules: EventRules = serde_json::from_str(json).expect("rules parse");
    rules.validate().expect("rules are valid");
    rules
}

fn facts(rules: &EventRules, headers: &[(&str, &str)], body: &[u8]) -> WebhookFacts {
    crate::webhook::with_test_request(headers, body, |request| rules.facts("acme", request))
}

fn status_rules() -> EventRules {
    rules(
        r#"{"type":"form:MessageStatus","id":["form:MessageSid","form:MessageStatus"],"attempt":"form:Attempt"}"#,
    )
}

#[test]
fn form_fields_are_read_decoded_from_a_form_body_only() {
    let rules = status_rules();
    let body = b"MessageSid=SM1%2Fa&MessageStatus=delivered&MessageStatus=sent&Attempt=2";
    let got = facts(&rules, &[("Content-Type", FORM)], body);
    assert_eq!(got.event_type.as_deref(), Some("delivered"));
    assert_eq!(got.event_id.as_deref(), Some("SM1/a:delivered"));
    assert_eq!(got.attempt, Some(2));
    // With a charset, as some senders write it.
    let charset = facts(
        &rules,
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        body,
    );
    assert_eq!(charset.event_type.as_deref(), Some("delivered"));
    // The same bytes sent as something else are not a form.
    for content_type in ["application/json", "text/plain"] {
        let got = facts(&rules, &[("Content-Type", content_type)], body);
        assert_eq!(
            (got.event_type, got.event_id),
            (None, None),
            "{content_type}"
        );
    }
    let none = facts(&rules, &[], body);
    assert_eq!(none.event_type, None);
}

/// A malformed pair anywhere gives no form facts at all (never half a
/// decoded body), while headers are still read.
#[test]
fn a_form_that_does_not_decode_gives_no_form_facts() {
    let rules = rules(r#"{"type":"form:Status","id":"header:X-Id"}"#);
    for body in [
        &b"Status=sent&Bad=%zz"[..],
        b"Status=sent&Bad=%f",
        b"Status=sent&Bad=%ff%fe",
        b"Status=s\xffent",
    ] {
        let got = facts(&rules, &[("Content-Type", FORM), ("X-Id", "i1")], body);
        assert_eq!(got.event_type, None, "{body:?}");
        assert_eq!(got.event_id.as_deref(), Some("i1"));
    }
}

#[test]
fn form_values_are_capped_kept_as_sent_or_dropped_when_empty() {
    let rules = rules(r#"{"type":"form:Status","id":"form:Sid"}"#);
    let long = "%C3%A9".repeat(1_000);
    let body = format!("Status={long}&Sid=");
    let got = facts(&rules, &[("Content-Type", FORM)], body.as_bytes());
    let kind = got.event_type.unwrap();
    assert!(kind.len() <= MAX_FACT_LEN && kind.len() > MAX_FACT_LEN - 2);
    assert!(kind.chars().all(|c| c == '\u{e9}'));
    // An empty value is no value: every such delivery would share it.
    assert_eq!(got.event_id, None);
    let escape = facts(
        &rules,
        &[("Content-Type", FORM)],
        b"Status=%1B%5D52%3Bc%3BaGk%3D%07&Sid=x",
    );
    assert_eq!(escape.event_type.as_deref(), Some("\u{1b}]52;c;aGk=\u{7}"));
}

#[test]
fn a_huge_form_is_not_scanned() {
    let rules = rules(r#"{"type":"form:Status"}"#);
    let mut body = b"Status=sent&Pad=".to_vec();
    body.resize(MAX_SCANNED_BODY + 1, b'a');
    let started = std::time::Instant::now();
    let got = facts(&rules, &[("Content-Type", FORM)], &body);
    assert_eq!(got.event_type, None);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    body.truncate(MAX_SCANNED_BODY);
    let at_the_cap = facts(&rules, &[("Content-Type", FORM)], &body);
    assert_eq!(at_the_cap.event_type.as_deref(), Some("sent"));
}

/// Adyen's documented shape: the event is its eventCode and pspReference.
#[test]
fn a_composite_id_joins_its_parts_and_is_absent_without_one() {
    let rules = rules(
        r#"{"type":"body:/items/0/code","id":["body:/items/0/code","body:/items/0/ref","header:X-Env"]}"#,
    );
    let body = br#"{"items":[{"code":"CAPTURE","ref":8835}]}"#;
    let got = facts(&rules, &[("X-Env", "live")], body);
    assert_eq!(got.event_id.as_deref(), Some("CAPTURE:8835:live"));
    assert_eq!(got.event_type.as_deref(), Some("CAPTURE"));
    // Any part missing, null or not a scalar: no id, never half of one.
    for (headers, body) in [
        (&[][..], &body[..]),
        (
            &[("X-Env", "live")][..],
            br#"{"items":[{"code":"CAPTURE"}]}"#,
        ),
        (
            &[("X-Env", "live")][..],
            br#"{"items":[{"code":"CAPTURE","ref":null}]}"#,
        ),
        (
            &[("X-Env", "live")][..],
            br#"{"items":[{"code":"CAPTURE","ref":{}}]}"#,
        ),
        (
            &[("X-Env", "live")][..],
            br#"{"items":[{"code":"CAPTURE","ref":1}"#,
        ),
    ] {
        let got = facts(&rules, headers, body);
        assert_eq!(got.event_id, None, "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn a_composite_id_is_capped_as_a_whole() {
    let rules = rules(r#"{"id":["header:X-A","header:X-B"]}"#);
    let a = "a".repeat(MAX_FACT_LEN);
    let b = "\u{e9}".repeat(MAX_FACT_LEN);
    let got = facts(&rules, &[("X-A", &a), ("X-B", &b)], b"");
    let id = got.event_id.unwrap();
    assert_eq!(id, a, "cut after the first part and its ':'");
    let short = facts(&rules, &[("X-A", "ab"), ("X-B", &b)], b"");
    let id = short.event_id.unwrap();
    assert!(
        id.starts_with("ab:\u{e9}") && id.len() <= MAX_FACT_LEN,
        "{id}"
    );
}
