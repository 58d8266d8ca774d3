//! Providers whose facts are not one header or JSON field: form callbacks
//! (Twilio, Plivo), an event named by two fields (Adyen), and the facts
//! their documentation adds (Buildkite's header, Autodesk's deadline).
//! Each request has the shape the provider documents.

use super::tests::facts;
use crate::webhook::{Outcome, late, next_step};

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// Adyen's standard notification (docs.adyen.com, webhook structure): one
/// NotificationRequestItem; the event is its eventCode and pspReference.
fn adyen_body(event_code: &str, psp_reference: &str, event_date: &str) -> String {
    format!(
        r#"{{"live":"false","notificationItems":[{{"NotificationRequestItem":{{"additionalData":{{"hmacSignature":"AA=="}},"eventCode":"{event_code}","success":"true","eventDate":"{event_date}","merchantAccountCode":"YOUR_MERCHANT_ACCOUNT","pspReference":"{psp_reference}","merchantReference":"YOUR_REFERENCE","amount":{{"value":1130,"currency":"EUR"}}}}}}]}}"#
    )
}

#[test]
fn adyen_names_an_event_by_its_code_and_psp_reference() {
    let first = facts(
        "adyen",
        &[],
        adyen_body(
            "AUTHORISATION",
            "7914073381342284",
            "2019-06-28T18:03:50+01:00",
        )
        .as_bytes(),
    );
    assert_eq!(first.event_type.as_deref(), Some("AUTHORISATION"));
    assert_eq!(
        first.event_id.as_deref(),
        Some("AUTHORISATION:7914073381342284")
    );
    assert_eq!(first.deadline_ms, Some(10_000));
    // A duplicate may differ in eventDate: it is the same event.
    let again = facts(
        "adyen",
        &[],
        adyen_body(
            "AUTHORISATION",
            "7914073381342284",
            "2019-06-28T18:04:12+01:00",
        )
        .as_bytes(),
    );
    assert_eq!(again.event_id, first.event_id);
    // The capture of the same payment shares the pspReference, not the event.
    let capture = facts(
        "adyen",
        &[],
        adyen_body("CAPTURE", "7914073381342284", "2019-06-28T18:05:00+01:00").as_bytes(),
    );
    assert_eq!(
        capture.event_id.as_deref(),
        Some("CAPTURE:7914073381342284")
    );
    // Without its pspReference an item names no event at all.
    let partial = facts(
        "adyen",
        &[],
        br#"{"live":"false","notificationItems":[{"NotificationRequestItem":{"eventCode":"REPORT_AVAILABLE"}}]}"#,
    );
    assert_eq!(partial.event_type.as_deref(), Some("REPORT_AVAILABLE"));
    assert_eq!(partial.event_id, None);
}

/// Adyen waits 10 s and keeps retrying from its queue for 30 days: a slow
/// answer is late, and what follows is said without inventing a count.
#[test]
fn adyen_late_answers_are_retried_from_its_queue() {
    let registry = crate::signature::Registry::builtin();
    let rules = registry.event_rules("adyen").expect("adyen has rules");
    assert_eq!(late(rules, 10_001), Some(true));
    let outcome = Outcome {
        status: Some(200),
        duration_ms: 12_000,
    };
    assert_eq!(
        next_step("Adyen", rules, None, &outcome).as_deref(),
        Some("Adyen would time out after 10 s and retry (for up to 30 days)")
    );
}

/// A Programmable Messaging status callback, form-encoded as Twilio
/// documents it, with its idempotency token.
#[test]
fn twilio_reads_the_message_status_of_a_status_callback() {
    let body = b"AccountSid=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX&ApiVersion=2010-04-01&From=%2B15017122661&MessageSid=SM1a2b3c&MessageStatus=delivered&SmsSid=SM1a2b3c&SmsStatus=delivered&To=%2B15558675310";
    let headers = [
        FORM,
        ("X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        (
            "I-Twilio-Idempotency-Token",
            "b1e4a6f0-5c1d-4f4e-9a57-0d3c2b1a9f8e",
        ),
    ];
    let got = facts("twilio", &headers, body);
    assert_eq!(got.event_type.as_deref(), Some("delivered"));
    assert_eq!(
        got.event_id.as_deref(),
        Some("b1e4a6f0-5c1d-4f4e-9a57-0d3c2b1a9f8e")
    );
    assert_eq!(got.deadline_ms, Some(15_000));
    // A voice status callback names CallStatus: an id, no type.
    let voice = facts(
        "twilio",
        &headers,
        b"CallSid=CA123&CallStatus=completed&From=%2B15017122661",
    );
    assert_eq!(voice.event_type, None);
    assert!(voice.event_id.is_some());
    // Twilio's JSON bodies (bodySHA256 in the URL) are not forms.
    let json = facts(
        "twilio",
        &[("Content-Type", "application/json"), headers[1], headers[2]],
        br#"{"MessageStatus":"delivered"}"#,
    );
    assert_eq!(json.event_type, None);
}

/// A Plivo message status callback (form data, as documented): the event
/// is this message reaching this status.
#[test]
fn plivo_names_an_event_by_message_and_status() {
    let signed = [
        FORM,
        ("X-Plivo-Signature-V3", "AA=="),
        ("X-Plivo-Signature-V3-Nonce", "05429567804466091622"),
    ];
    let status = |status: &str| {
        format!(
            "From=14155551234&MessageUUID=db3ce55a-7f1d-11e1-8ea7-1231380bc196&Sequence=2&Status={status}&To=14155557890&TotalAmount=0.00650&TotalRate=0.00650&Type=sms&Units=1"
        )
    };
    let sent = facts("plivo", &signed, status("sent").as_bytes());
    assert_eq!(sent.event_type.as_deref(), Some("sent"));
    assert_eq!(
        sent.event_id.as_deref(),
        Some("db3ce55a-7f1d-11e1-8ea7-1231380bc196:sent")
    );
    let delivered = facts("plivo", &signed, status("delivered").as_bytes());
    assert_eq!(
        delivered.event_id.as_deref(),
        Some("db3ce55a-7f1d-11e1-8ea7-1231380bc196:delivered")
    );
    // A voice callback has neither field: no facts, never a half id.
    let voice = facts("plivo", &signed, b"CallUUID=c1&CallStatus=completed");
    assert_eq!((voice.event_type, voice.event_id), (None, None));
}

#[test]
fn buildkite_reads_its_event_header_and_autodesk_its_deadline() {
    let buildkite = facts(
        "buildkite",
        &[
            ("X-Buildkite-Event", "build.finished"),
            ("X-Buildkite-Token", "309c9c842d8565adec5d7469160059f9"),
        ],
        br#"{"event":"build.finished","build":{"id":"1517afce"},"sender":{}}"#,
    );
    assert_eq!(buildkite.event_type.as_deref(), Some("build.finished"));
    assert_eq!(buildkite.event_id, None);
    let autodesk = facts(
        "autodesk",
        &[("x-adsk-signature", "sha1hash=00")],
        br#"{"version":"1.0","resourceUrn":"urn:adsk.wipprod:dm.lineage:x","hook":{"hookId":"h1","event":"dm.version.added","system":"data"},"payload":{}}"#,
    );
    assert_eq!(autodesk.event_type.as_deref(), Some("dm.version.added"));
    assert_eq!(autodesk.deadline_ms, Some(7_000));
}
