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
