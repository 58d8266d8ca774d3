//! The text forms of the schema: what parses, what prints back, what is refused.

use super::*;

#[test]
fn text_forms_print_as_they_were_written() {
    for text in ["utf8", "hex", "base64", "base64-strip-prefix:whsec_|sk_"] {
        assert_eq!(text.parse::<KeyDecoding>().unwrap().to_string(), text);
    }
    for text in ["list:t", "header:X-Ts", "body:webhookTimestamp"] {
        assert_eq!(text.parse::<TimestampSource>().unwrap().to_string(), text);
    }
}

#[test]
fn bad_text_forms_are_refused_with_the_syntax() {
    for bad in ["rot13", "base64-strip-prefix:", "UTF8"] {
        let err = bad.parse::<KeyDecoding>().unwrap_err();
        assert!(err.contains("base64-strip-prefix:PREFIX"), "{bad}: {err}");
    }
    for bad in ["head:x", "header:", "list", ""] {
        let err = bad.parse::<TimestampSource>().unwrap_err();
        assert!(err.contains("header:NAME"), "{bad}: {err}");
    }
    let err = serde_json::from_str::<TimestampRule>(r#"{"source":"x:y","unit":"s"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("must be list:KEY"), "{err}");
}
