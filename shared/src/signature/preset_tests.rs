//! The preset schema and the built-in table.

use super::*;

#[test]
fn the_builtin_table_parses_and_validates() {
    let table = parse_table(BUILTIN).unwrap();
    assert_eq!(builtin().len(), table.len());
    for required in [
        "stripe",
        "github",
        "shopify",
        "slack",
        "standard-webhooks",
        "svix",
        "convoy",
        "maple",
        "malomo",
        "twilio",
        "square",
        "paddle",
        "linear",
        "zoom",
        "twitch",
        "mailgun",
        "intercom",
        "discord",
        "sendgrid",
        "generic",
    ] {
        assert!(
            table.iter().any(|p| p.id == required),
            "missing provider {required}"
        );
    }
}

#[test]
fn params_override_and_required_params_are_checked() {
    let generic = builtin().iter().find(|p| p.id == "generic").unwrap();
    assert!(
        generic
            .with_params(&BTreeMap::new())
            .unwrap_err()
            .contains("header=")
    );
    let mut params = BTreeMap::new();
    params.insert("header".to_string(), "X-Sig".to_string());
    params.insert("encoding".to_string(), "base64".to_string());
    params.insert("hash".to_string(), "SHA512".to_string());
    let p = generic.with_params(&params).unwrap();
    assert_eq!(
        (p.header.as_str(), p.encoding, p.algorithm),
        ("X-Sig", Encoding::Base64, Algorithm::HmacSha512)
    );
    let maple = builtin()
        .iter()
        .find(|p| p.id == "maple" && p.variant.is_none())
        .unwrap();
    assert!(
        maple
            .with_params(&BTreeMap::new())
            .unwrap_err()
            .contains("subscription_id")
    );
}

/// One preset as JSON, with `extra` fields.
fn preset_json(extra: &str) -> String {
    format!(r#"[{{"id":"acme","name":"Acme","secret_hint":"x","header":"X-Sig"{extra}}}]"#)
}

#[test]
fn a_field_that_does_not_parse_refuses_the_table() {
    for (extra, says) in [
        (r#","template":"{nope}""#, "unknown placeholder {nope}"),
        (r#","key_decoding":"rot13""#, "unknown key_decoding"),
        (
            r#","timestamp":{"source":"header:","unit":"s"}"#,
            "timestamp source \"header:\"",
        ),
    ] {
        let err = parse_table(&preset_json(extra)).unwrap_err().to_string();
        assert!(err.contains(says), "{extra}: {err}");
    }
}

#[test]
fn the_rules_between_fields_are_checked_when_loaded() {
    let ts = r#","timestamp":{"source":"header:X-Ts","unit":"s"}"#;
    let list = r#","list":{"item_sep":",","kv_sep":"=","sig_keys":["v1"],"ts_key":"t"}"#;
    for (extra, says) in [
        (
            r#","template":"{timestamp}.{body}""#.to_string(),
            "no timestamp rule",
        ),
        (r#","template":"{id}.{body}""#.to_string(), "no id_header"),
        (
            r#","template":"{secret}{body}""#.to_string(),
            "plain sha1/sha256",
        ),
        (
            format!(
                r#","template":"{{timestamp}}.{{body}}","timestamp":{{"source":"list:ts","unit":"s"}}{list}"#
            ),
            "names no ts_key",
        ),
    ] {
        let err = parse_table(&preset_json(&extra)).unwrap_err().to_string();
        assert!(err.contains(says), "{extra}: {err}");
    }
    let capital = preset_json("").replace("acme", "Acme");
    let err = parse_table(&capital).unwrap_err().to_string();
    assert!(err.contains("lowercase"), "{err}");
    let fine = format!(r#","template":"{{timestamp}}.{{body}}"{ts}"#);
    assert_eq!(parse_table(&preset_json(&fine)).unwrap().len(), 1);
    let fine = format!(
        r#","template":"{{timestamp}}.{{body}}","timestamp":{{"source":"list:t","unit":"s"}}{list}"#
    );
    assert_eq!(parse_table(&preset_json(&fine)).unwrap().len(), 1);
}

/// An `events` object is read with the preset: a bad source is refused as
/// the table is parsed, a policy that cannot be when it is checked, each
/// naming the preset.
#[test]
fn event_rules_are_checked_when_loaded() {
    for (extra, says) in [
        (r#","events":{"type":"body:type"}"#, "starting with '/'"),
        (r#","events":{"id":"header:"}"#, "names no header"),
        (
            r#","events":{"retries":{"attempts":2,"on":"whenever"}}"#,
            "unknown variant `whenever`",
        ),
    ] {
        let err = parse_table(&preset_json(extra)).unwrap_err().to_string();
        assert!(err.contains(says), "{extra}: {err}");
    }
    let zero = r#","events":{"retries":{"attempts":0,"on":"any_failure"}}"#;
    let err = parse_table(&preset_json(zero)).unwrap_err().to_string();
    assert!(
        err.starts_with("preset acme: events.retries.attempts") && err.contains("at least 1"),
        "{err}"
    );
    let fine = r#","events":{"type":"header:X-Event","id":"body:/id","deadline_ms":5000}"#;
    let table = parse_table(&preset_json(fine)).unwrap();
    assert_eq!(table[0].events.as_ref().unwrap().deadline_ms, Some(5000));
}

/// Verifying with a secret that carries no settings reads the loaded
/// preset itself: nothing is copied or parsed again per delivery.
#[test]
fn a_secret_without_settings_uses_the_loaded_preset() {
    let stripe = builtin().iter().find(|p| p.id == "stripe").unwrap();
    assert!(matches!(
        stripe.with_params(&BTreeMap::new()),
        Ok(Cow::Borrowed(p)) if std::ptr::eq(p, stripe)
    ));
    let maple = builtin().iter().find(|p| p.id == "maple").unwrap();
    let mut params = BTreeMap::new();
    params.insert("subscription_id".to_string(), "dws_1".to_string());
    assert!(matches!(maple.with_params(&params), Ok(Cow::Borrowed(_))));
    params.insert("tolerance".to_string(), "60".to_string());
    let changed = maple.with_params(&params).unwrap();
    assert!(matches!(changed, Cow::Owned(_)));
    assert_eq!(changed.timestamp.as_ref().unwrap().tolerance_s, Some(60));
}

/// A secret's `template=` meets the same rules as a preset's.
#[test]
fn a_secrets_template_is_checked_like_a_presets() {
    let generic = builtin().iter().find(|p| p.id == "generic").unwrap();
    for (template, says) in [
        ("{nope}", "unknown placeholder"),
        ("{id}.{body}", "add id_header=NAME"),
        ("{secret}{body}", "plain sha1/sha256"),
    ] {
        let mut params = BTreeMap::new();
        params.insert("header".to_string(), "X-Sig".to_string());
        params.insert("template".to_string(), template.to_string());
        let err = generic.with_params(&params).unwrap_err();
        assert!(err.contains(says), "{template}: {err}");
    }
}
