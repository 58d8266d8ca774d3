use super::*;

fn one(body: &str, pointer: &str) -> Option<String> {
    read(body.as_bytes(), &[pointer]).remove(0)
}

#[test]
fn reads_nested_fields_array_items_and_numbers() {
    let body = r#"{"type":"a.b","data":{"object":{"id":"ch_1","n":42,"neg":-3,"f":1.5}},
                  "items":[{"id":"first"},{"id":"second"}]}"#;
    let found = read(
        body.as_bytes(),
        &[
            "/type",
            "/data/object/id",
            "/items/1/id",
            "/data/object/n",
            "/data/object/neg",
            "/data/object/f",
        ],
    );
    assert_eq!(
        found,
        ["a.b", "ch_1", "second", "42", "-3", "1.5"].map(|s| Some(s.to_string()))
    );
}

#[test]
fn pointer_escapes_and_escaped_keys_match_the_same_field() {
    // RFC 6901: ~1 is '/', ~0 is '~'; the JSON key may itself be escaped.
    let body = r#"{"a/b":"slash","m~n":"tilde","\u0074ype":"escaped key"}"#;
    assert_eq!(one(body, "/a~1b").as_deref(), Some("slash"));
    assert_eq!(one(body, "/m~0n").as_deref(), Some("tilde"));
    assert_eq!(one(body, "/type").as_deref(), Some("escaped key"));
}

#[test]
fn what_is_not_a_string_or_number_is_none() {
    let body = r#"{"o":{},"a":[],"t":true,"n":null}"#;
    for pointer in ["/o", "/a", "/t", "/n", "/missing", "/o/deeper", "/a/0"] {
        assert_eq!(one(body, pointer), None, "{pointer}");
    }
    // An index is digits without a leading zero.
    assert_eq!(one(r#"{"a":["x","y"]}"#, "/a/01"), None);
    assert_eq!(one(r#"{"a":["x","y"]}"#, "/a/1").as_deref(), Some("y"));
}

#[test]
fn the_first_of_duplicated_keys_wins() {
    assert_eq!(
        one(r#"{"id":"first","id":"second"}"#, "/id").as_deref(),
        Some("first")
    );
}

/// A truncated or trailing-garbage body never yields a plausible id.
#[test]
fn invalid_json_gives_nothing() {
    for body in [
        r#"{"id":"evt_1","type":"x""#,
        r#"{"id":"evt_1"} trailing"#,
        r#"{"id":"evt_1",}"#,
        "id=evt_1&type=x",
        "",
        "\u{feff}{\"id\":\"evt_1\"}",
    ] {
        assert_eq!(
            read(body.as_bytes(), &["/id", "/type"]),
            [None, None],
            "{body}"
        );
    }
    assert_eq!(read(&[0xff, 0xfe, b'{'], &["/id"]), [None]);
}

#[test]
fn deep_nesting_and_large_bodies_give_nothing() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(one(&deep, "/0/0"), None);
    let mut big = br#"{"id":"evt_1","pad":""#.to_vec();
    big.resize(MAX_SCANNED_BODY + 1, b'a');
    big.extend_from_slice(b"\"}");
    assert_eq!(read(&big, &["/id"]), [None]);
}

#[test]
fn long_values_are_cut_at_a_character_boundary() {
    let long = "é".repeat(MAX_FACT_LEN);
    let found = one(&format!(r#"{{"id":"{long}"}}"#), "/id").unwrap();
    assert!(found.len() <= MAX_FACT_LEN && found.len() > MAX_FACT_LEN - 2);
    assert!(long.starts_with(&found));
}

#[test]
fn a_prefix_pointer_and_its_child_are_both_answered() {
    let found = read(
        br#"{"data":{"id":"d1"},"id":"e1"}"#,
        &["/data", "/data/id", "/id"],
    );
    assert_eq!(found, [None, Some("d1".into()), Some("e1".into())]);
}
