use super::*;

fn set(body: &str, flag: &str) -> Result<String, String> {
    let parsed = parse(flag)?;
    apply(body.as_bytes(), &[parsed]).map(|b| String::from_utf8(b).unwrap())
}

fn keys(path: &[&str]) -> Vec<String> {
    path.iter().map(|k| k.to_string()).collect()
}

#[test]
fn a_path_is_dotted_keys_with_backslash_escapes() {
    assert_eq!(
        parse("data.object.amount=4200").unwrap().path,
        keys(&["data", "object", "amount"])
    );
    assert_eq!(
        parse("items.0.qty=2").unwrap().path,
        keys(&["items", "0", "qty"])
    );
    assert_eq!(parse(r"meta.a\.b=1").unwrap().path, keys(&["meta", "a.b"]));
    assert_eq!(parse(r"a\=b\\c=1").unwrap().path, keys(&[r"a=b\c"]));
    // The value is everything after the first unescaped '='.
    assert_eq!(parse("a=b=c").unwrap().value, r#""b=c""#);
    assert_eq!(
        display_path(&keys(&["meta", "a.b", "x=y"])),
        r"meta.a\.b.x\=y"
    );
}

#[test]
fn empty_paths_and_keys_missing_equals_and_stray_backslashes_are_refused() {
    assert!(
        parse("=1")
            .unwrap_err()
            .contains("the path before '=' is empty")
    );
    assert!(
        parse("a..b=1")
            .unwrap_err()
            .contains("key 2 of the path is empty")
    );
    assert!(
        parse(".a=1")
            .unwrap_err()
            .contains("key 1 of the path is empty")
    );
    assert!(
        parse("a.=1")
            .unwrap_err()
            .contains("key 2 of the path is empty")
    );
    assert!(
        parse("data.amount")
            .unwrap_err()
            .contains("expected PATH=VALUE")
    );
    assert!(
        parse(r"a\x=1")
            .unwrap_err()
            .contains("escapes '.', '=' or '\\' only")
    );
    assert!(parse("a\\").unwrap_err().contains("escapes"));
}

#[test]
fn a_path_deeper_than_the_limit_is_refused_before_the_body_is_read() {
    let deep = format!("{}=1", vec!["a"; 10_000].join("."));
    let err = parse(&deep).unwrap_err();
    assert_eq!(err, "a path of 10000 keys is deeper than the 64 allowed");
    let limit = format!("{}=1", vec!["a"; MAX_PATH_KEYS].join("."));
    assert_eq!(parse(&limit).unwrap().path.len(), MAX_PATH_KEYS);
    // The same limit for a path built elsewhere (a preset's pointer).
    let long = vec!["a".to_string(); 10_000];
    assert_eq!(
        set_path(b"{}", &long, "1", BODY_MAX),
        Err(Refusal::TooDeep(10_000))
    );
}

#[test]
fn values_are_json_when_they_parse_and_strings_otherwise() {
    let value = |text: &str| parse(&format!("a={text}")).unwrap().value;
    assert_eq!(value("4200"), "4200");
    assert_eq!(value("-1.5e3"), "-1.5e3");
    assert_eq!(value("true"), "true");
    assert_eq!(value("null"), "null");
    assert_eq!(value(r#""42""#), r#""42""#);
    assert_eq!(value(r#"{"b": [1, 2]}"#), r#"{"b": [1, 2]}"#);
    assert_eq!(value(" 7 "), "7");
    assert_eq!(value("paid"), r#""paid""#);
    assert_eq!(value(""), r#""""#);
    // Almost JSON is a string, escaped as JSON needs.
    assert_eq!(value(r#"{"b":1"#), r#""{\"b\":1""#);
    assert_eq!(value("line\nbreak\u{7}"), r#""line\nbreak\u0007""#);
}

#[test]
fn a_set_changes_one_value_and_keeps_the_rest_of_the_body_as_it_was() {
    let body = r#"{"id":"evt_1","data":{"object":{"amount":2000,"currency":"usd"},"z":{"b":1, "a":2}},"created":1}"#;
    assert_eq!(
        set(body, "data.object.amount=4200").unwrap(),
        r#"{"id":"evt_1","data":{"object":{"amount":4200,"currency":"usd"},"z":{"b":1, "a":2}},"created":1}"#
    );
    // A new key goes last; missing objects on the way are created.
    assert_eq!(
        set(r#"{"b":1,"a":2}"#, "c.d.e=x").unwrap(),
        r#"{"b":1,"a":2,"c":{"d":{"e":"x"}}}"#
    );
    assert_eq!(set("{}", "a=1").unwrap(), r#"{"a":1}"#);
    // A pretty body: the path's objects compact, the rest and the file's
    // last newline unchanged.
    let pretty = "{\n  \"a\": {\n    \"b\": 1\n  },\n  \"c\": [ 1, 2 ]\n}\n";
    assert_eq!(
        set(pretty, "a.b=2").unwrap(),
        "{\"a\":{\"b\":2},\"c\":[ 1, 2 ]}\n"
    );
    // Of a repeated key, the last (the one parsers keep) is changed.
    assert_eq!(set(r#"{"a":1,"a":2}"#, "a=3").unwrap(), r#"{"a":1,"a":3}"#);
    // A key with a dot, and escapes in keys written back escaped.
    assert_eq!(set(r#"{"a.b":1}"#, r"a\.b=2").unwrap(), r#"{"a.b":2}"#);
    assert_eq!(set(r#"{"q\"":1}"#, "q\"=2").unwrap(), r#"{"q\"":2}"#);
}

#[test]
fn an_index_reaches_into_an_array_and_one_past_its_end_is_refused() {
    let body = r#"{"items":[{"qty":1},{"qty":5}]}"#;
    assert_eq!(
        set(body, "items.1.qty=2").unwrap(),
        r#"{"items":[{"qty":1},{"qty":2}]}"#
    );
    assert_eq!(
        set(body, "items.0=7").unwrap(),
        r#"{"items":[7,{"qty":5}]}"#
    );
    assert_eq!(
        set(body, "items.2.qty=1").unwrap_err(),
        r#"--set items.2.qty: items is an array of 2: "2" is not an index in it"#
    );
    assert!(
        set(body, "items.x=1")
            .unwrap_err()
            .contains(r#""x" is not an index"#)
    );
    assert!(
        set(body, "items.01=1")
            .unwrap_err()
            .contains(r#""01" is not an index"#)
    );
}

#[test]
fn a_body_that_is_not_a_json_object_or_a_path_through_a_value_is_refused() {
    assert_eq!(
        set(r#"{"data":{"amount":"20.00"}}"#, "data.amount.cents=1").unwrap_err(),
        "--set data.amount.cents: data.amount is a string, not an object"
    );
    assert_eq!(
        set(r#"{"a":null}"#, "a.b=1").unwrap_err(),
        "--set a.b: a is null, not an object"
    );
    assert_eq!(
        set("[1,2]", "a=1").unwrap_err(),
        "--set a: the body is an array, not a JSON object"
    );
    assert!(
        set("From=%2B1555&Body=hi", "Body=x")
            .unwrap_err()
            .starts_with("--set Body: the body is not JSON (")
    );
    // Truncated JSON is refused, not edited.
    assert!(set(r#"{"a":1"#, "a=2").unwrap_err().contains("not JSON"));
    assert!(
        apply(&[0xff, b'{'], &[parse("a=1").unwrap()])
            .unwrap_err()
            .contains("not JSON")
    );
}

#[test]
fn sets_apply_in_order_and_later_ones_see_earlier_ones() {
    let sets = [parse("a=1").unwrap(), parse("a.b=2").unwrap()];
    assert_eq!(
        apply(b"{}", &sets).unwrap_err(),
        "--set a.b: a is a number, not an object"
    );
    let sets = [parse("a={}").unwrap(), parse("a.b=2").unwrap()];
    assert_eq!(apply(b"{}", &sets).unwrap(), br#"{"a":{"b":2}}"#);
}

#[test]
fn hostile_bodies_and_values_stay_bounded() {
    // A body nested far deeper than any parser's recursion limit: the walk
    // reads one level at a time, so only the path's depth matters.
    let depth = 10_000;
    let deep = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let path = vec!["a".to_string(); MAX_PATH_KEYS];
    let edited = set_path(deep.as_bytes(), &path, "2", BODY_MAX).unwrap();
    let expected = format!(
        "{}2{}",
        r#"{"a":"#.repeat(MAX_PATH_KEYS),
        "}".repeat(MAX_PATH_KEYS)
    );
    assert_eq!(String::from_utf8(edited).unwrap(), expected);
    assert!(set_path(deep.as_bytes(), &keys(&["b"]), "2", BODY_MAX).is_ok());
    // A huge value is fine up to the body limit, and refused past it.
    let big = format!("\"{}\"", "x".repeat(1 << 20));
    assert_eq!(
        set_path(b"{}", &keys(&["a"]), &big, BODY_MAX)
            .unwrap()
            .len(),
        (1 << 20) + 8
    );
    assert_eq!(
        set_path(br#"{"b":1}"#, &keys(&["a"]), &big, 1 << 20),
        Err(Refusal::TooLarge((1 << 20) + 14, 1 << 20))
    );
    // A long path is cut in the message, on a character boundary.
    let long = format!("k.{}=1", "é".repeat(200));
    let err = set(r#"{"k":"s"}"#, &long).unwrap_err();
    assert!(
        err.starts_with(&format!("--set k.{}…: k is a string", "é".repeat(78))),
        "{err}"
    );
}
