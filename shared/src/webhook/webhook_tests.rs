use super::*;

fn rules(json: &str) -> Result<EventRules, String> {
    let rules: EventRules = serde_json::from_str(json).map_err(|e| e.to_string())?;
    rules.validate()?;
    Ok(rules)
}

#[test]
fn sources_read_and_print_as_written() {
    let text = r#"{"type":"header:X-GitHub-Event","type_detail":"body:/action","id":"body:/data/a~1b","attempt":"header:Malomo-Attempt-Number","deadline_ms":10000,"retries":{"attempts":10,"within_s":86400,"on":"any_failure"},"source":"https://docs.example/retries"}"#;
    let parsed = rules(text).unwrap();
    assert_eq!(
        parsed.event_type,
        Some(FieldSource::Header("X-GitHub-Event".into()))
    );
    assert_eq!(
        parsed.id,
        Some(FieldSource::Body("/data/a~1b".into()).into())
    );
    assert_eq!(serde_json::to_string(&parsed).unwrap(), text);
}

#[test]
fn a_body_source_names_its_keys_unescaped() {
    let keys = |text: &str| text.parse::<FieldSource>().unwrap().body_keys();
    assert_eq!(
        keys("body:/data/a~1b/~01"),
        Some(vec!["data".to_string(), "a/b".into(), "~1".into()])
    );
    assert_eq!(
        keys("body:/items/0"),
        Some(vec!["items".into(), "0".into()])
    );
    assert_eq!(keys("header:Malomo-Attempt-Number"), None);
}

#[test]
fn a_bad_source_is_refused_with_what_is_wrong() {
    let cases = [
        ("body:type", "starting with '/'"),
        ("body:", "starting with '/'"),
        ("header:", "names no header"),
        ("header:X Event", "cannot be in a header name"),
        ("header:X-Event\n", "cannot be in a header name"),
        ("body:/a~2b", "\"~2\" is not an escape"),
        ("body:/a~", "\"~\" is not an escape"),
        ("form:", "names no form field"),
        (
            "query:type",
            "must be header:NAME, body:/json/pointer or form:NAME",
        ),
        (
            "type",
            "must be header:NAME, body:/json/pointer or form:NAME",
        ),
    ];
    for (source, says) in cases {
        let err = rules(&format!(r#"{{"id":{source:?}}}"#)).unwrap_err();
        assert!(err.contains(says), "{source:?}: {err}");
        assert!(err.contains(&format!("{source:?}")), "{source:?}: {err}");
    }
}

/// A form field is named as the provider writes it; a name no provider
/// sends (a control character, an essay) is refused with the reason.
#[test]
fn a_form_source_names_a_field() {
    let parsed = rules(r#"{"type":"form:MessageStatus"}"#).unwrap();
    assert_eq!(
        parsed.event_type,
        Some(FieldSource::Form("MessageStatus".into()))
    );
    let control = serde_json::json!({ "type": "form:Message\u{7}Status" }).to_string();
    let err = rules(&control).unwrap_err();
    assert!(err.contains("cannot be in a form field name"), "{err}");
    let long = serde_json::json!({ "type": format!("form:{}", "x".repeat(200)) }).to_string();
    let err = rules(&long).unwrap_err();
    assert!(err.contains("at most 128 bytes"), "{err}");
}

/// The id may join several sources; it is written back as it was read.
#[test]
fn a_composite_id_reads_and_prints_as_written() {
    let text = r#"{"id":["body:/notificationItems/0/NotificationRequestItem/eventCode","form:Sid","header:X-Part"]}"#;
    let parsed = rules(text).unwrap();
    let id = parsed.id.as_ref().unwrap();
    assert_eq!(id.parts().len(), 3);
    assert_eq!(id.single(), None);
    assert_eq!(id.parts()[1], FieldSource::Form("Sid".into()));
    assert_eq!(
        id.to_string(),
        "[body:/notificationItems/0/NotificationRequestItem/eventCode, form:Sid, header:X-Part]"
    );
    assert_eq!(serde_json::to_string(&parsed).unwrap(), text);
    let single = rules(r#"{"id":"header:X-Id"}"#).unwrap().id.unwrap();
    assert_eq!(single.single(), Some(&FieldSource::Header("X-Id".into())));
    assert_eq!(single.to_string(), "header:X-Id");
}

#[test]
fn a_composite_that_cannot_be_is_refused_with_what_is_wrong() {
    let cases = [
        (r#"[]"#, "joins 2 to 4 of them"),
        (r#"["body:/a"]"#, "write a single source as a string"),
        (
            r#"["body:/a","body:/b","body:/c","body:/d","body:/e"]"#,
            "joins at most 4 of them",
        ),
        (
            r#"["body:/a","body:x"]"#,
            "source \"body:x\" needs a JSON pointer starting with '/'",
        ),
        (
            r#"["body:/a",3]"#,
            "invalid type: integer `3`, expected a string",
        ),
        (
            r#"{"a":1}"#,
            "expected a source (header:NAME, body:/json/pointer, form:NAME) or a list",
        ),
        (r#"7"#, "expected a source"),
    ];
    for (id, says) in cases {
        let err = rules(&format!(r#"{{"id":{id}}}"#)).unwrap_err();
        assert!(err.contains(says), "{id}: {err}");
    }
    // Only the id joins sources; a type is one source.
    let err = rules(r#"{"type":["body:/a","body:/b"]}"#).unwrap_err();
    assert!(
        err.contains("invalid type: sequence, expected a string"),
        "{err}"
    );
}

#[test]
fn a_retry_policy_that_cannot_be_is_refused() {
    let cases = [
        (r#"{"attempts":0,"on":"any_failure"}"#, "at least 1"),
        (
            r#"{"attempts":3,"delays_s":[60,300,1800],"on":"any_failure"}"#,
            "3 waits but 3 attempts leave 2 retries",
        ),
        (
            r#"{"on":"any_failure"}"#,
            "needs attempts, delays_s or within_s",
        ),
        (
            r#"{"within_s":0,"on":"any_failure"}"#,
            "within_s must be more than 0",
        ),
        (
            r#"{"attempts":3,"on":"sometimes"}"#,
            "unknown variant `sometimes`",
        ),
        (
            r#"{"attempts":3,"on":"any_failure","every":5}"#,
            "unknown field `every`",
        ),
    ];
    for (policy, says) in cases {
        let err = rules(&format!(r#"{{"retries":{policy}}}"#)).unwrap_err();
        assert!(err.contains(says), "{policy}: {err}");
    }
    let err = rules(r#"{"deadline_ms":0}"#).unwrap_err();
    assert!(err.contains("deadline_ms must be more than 0"), "{err}");
    let err = rules(r#"{"kind":"body:/type"}"#).unwrap_err();
    assert!(err.contains("unknown field `kind`"), "{err}");
}

#[test]
fn the_attempt_count_follows_from_the_listed_waits() {
    let listed = rules(r#"{"retries":{"delays_s":[60,300],"on":"any_failure"}}"#).unwrap();
    assert_eq!(listed.retries.unwrap().total_attempts(), Some(3));
    let window = rules(r#"{"retries":{"within_s":3600,"on":"any_failure"}}"#).unwrap();
    assert_eq!(window.retries.unwrap().total_attempts(), None);
}

#[test]
fn late_means_after_the_deadline_and_is_unknown_without_one() {
    let ten = rules(r#"{"deadline_ms":10000}"#).unwrap();
    assert_eq!(late(&ten, 10_000), Some(false));
    assert_eq!(late(&ten, 10_001), Some(true));
    assert_eq!(late(&EventRules::default(), u64::MAX), None);
}

#[test]
fn facts_serialize_with_the_names_of_the_json_lines() {
    let facts = WebhookFacts {
        provider: "malomo".into(),
        event_type: Some("orders:created".into()),
        event_id: Some("w1".into()),
        attempt: Some(3),
        deadline_ms: None,
    };
    assert_eq!(
        serde_json::to_string(&facts).unwrap(),
        r#"{"provider":"malomo","type":"orders:created","id":"w1","attempt":3}"#
    );
    let back: WebhookFacts = serde_json::from_str(r#"{"provider":"github"}"#).unwrap();
    assert_eq!(back.event_id, None);
}
