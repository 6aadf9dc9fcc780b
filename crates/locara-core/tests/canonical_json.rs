//! Canonical JSON: RFC 8785 (JCS) examples that fit the integer-only subset, the subset's refusals, and
//! stability of parse → serialise.

use locara_core::canonical_json::{
    CanonicalJsonError, MAX_SAFE_INTEGER, from_canonical_slice, parse_value, to_vec, value_to_vec,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn canonicalize(input: &str) -> Result<String, CanonicalJsonError> {
    let value = parse_value(input.as_bytes())?;
    Ok(String::from_utf8(value_to_vec(&value)?).unwrap())
}

#[test]
fn rfc8785_sorting_example_sorts_by_utf16_code_units() {
    // RFC 8785 §3.2.3. U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16, after it by code point.
    let input = r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"#;
    let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(canonicalize(input).unwrap(), expected);
}

#[test]
fn rfc8785_main_example_without_its_floats_matches() {
    // RFC 8785 §3.2.2 with the "numbers" member (all non-integers) removed.
    let input = r#"{
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
    let expected =
        "{\"literals\":[null,true,false],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(canonicalize(input).unwrap(), expected);
}

#[test]
fn rfc8785_main_example_with_floats_is_refused_naming_the_number() {
    let input = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "x",
  "literals": [null, true, false]
}"#;
    match canonicalize(input) {
        Err(CanonicalJsonError::Number { found }) => {
            assert!(found.starts_with("333333333.333"), "{found}")
        }
        other => panic!("expected a number error, got {other:?}"),
    }
}

#[test]
fn jcs_reference_testdata_in_the_subset_matches() {
    // cyberphone/json-canonicalization testdata (the RFC 8785 reference implementation): input → output.
    let cases = [
        (
            "[\n  56,\n  {\n    \"d\": true,\n    \"10\": null,\n    \"1\": [ ]\n  }\n]",
            "[56,{\"1\":[],\"10\":null,\"d\":true}]",
        ),
        (
            "{\n  \"peach\": \"This sorting order\",\n  \"péché\": \"is wrong according to French\",\n  \"pêche\": \"but canonicalization MUST\",\n  \"sin\":   \"ignore locale\"\n}",
            "{\"peach\":\"This sorting order\",\"péché\":\"is wrong according to French\",\"pêche\":\"but canonicalization MUST\",\"sin\":\"ignore locale\"}",
        ),
        (
            "{\n  \"Unnormalized Unicode\":\"A\\u030a\"\n}",
            "{\"Unnormalized Unicode\":\"A\u{30a}\"}",
        ),
        (
            r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\u000a": "Newline",
  "1": "One",
  "\u0080": "Control\u007f",
  "\ud83d\ude02": "Smiley",
  "\u00f6": "Latin Small Letter O With Diaeresis",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "</script>": "Browser Challenge"
}"#,
            "{\"\\n\":\"Newline\",\"\\r\":\"Carriage Return\",\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\u{80}\":\"Control\u{7f}\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f602}\":\"Smiley\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(canonicalize(input).unwrap(), expected, "input {input}");
    }
}

#[test]
fn reference_testdata_with_a_float_spelling_is_refused() {
    // JCS would print 56.0 as 56; the subset refuses any fraction rather than normalise it.
    let structures = r#"{"1": {"f": {"f": "hi","F": 5} ,"\n": 56.0}, "10": { }, "": "empty"}"#;
    assert!(
        matches!(canonicalize(structures), Err(CanonicalJsonError::Number { found }) if found == "56")
    );
}

#[test]
fn integers_are_limited_to_plus_minus_two_to_the_53_minus_one() {
    assert_eq!(MAX_SAFE_INTEGER, 9_007_199_254_740_991);
    assert_eq!(
        canonicalize("9007199254740991").unwrap(),
        "9007199254740991"
    );
    assert_eq!(
        canonicalize("-9007199254740991").unwrap(),
        "-9007199254740991"
    );
    assert_eq!(canonicalize("[0,1,-1,10]").unwrap(), "[0,1,-1,10]");
    for refused in [
        "9007199254740992",
        "-9007199254740992",
        "18446744073709551616",
        "1e2",
        "1.0",
        "-0",
        "0.5",
    ] {
        assert!(
            matches!(
                canonicalize(refused),
                Err(CanonicalJsonError::Number { .. })
            ),
            "{refused} must be refused"
        );
    }
    assert!(matches!(
        to_vec(&json!({"x": 0.5})),
        Err(CanonicalJsonError::Number { .. })
    ));
    assert!(matches!(
        to_vec(&json!(u64::MAX)),
        Err(CanonicalJsonError::Number { .. })
    ));
}

#[test]
fn duplicate_member_names_are_refused_at_any_depth() {
    for input in [
        r#"{"a": 1, "a": 1}"#,
        r#"{"outer": {"b": true, "b": false}}"#,
        r#"[{"c": null}, {"c": 1, "c": 2}]"#,
    ] {
        assert!(
            matches!(
                canonicalize(input),
                Err(CanonicalJsonError::DuplicateKey { .. })
            ),
            "{input} must be refused"
        );
    }
    match canonicalize(r#"{"name": 1, "name": 2}"#) {
        Err(CanonicalJsonError::DuplicateKey { key }) => assert_eq!(key, "name"),
        other => panic!("expected a duplicate-key error, got {other:?}"),
    }
}

#[test]
fn control_characters_are_escaped_as_jcs_does() {
    let value = json!("\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} \u{7f}\u{2028}\"\\/");
    let expected = "\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \u{7f}\u{2028}\\\"\\\\/\"";
    assert_eq!(
        String::from_utf8(value_to_vec(&value).unwrap()).unwrap(),
        expected
    );
}

#[test]
fn invalid_json_is_a_syntax_error() {
    for input in [
        "",
        "{",
        "{\"a\" 1}",
        "[1,]",
        "nul",
        "\"\\ud800\"",
        "{} {}",
        "\u{feff}{}",
    ] {
        assert!(
            matches!(canonicalize(input), Err(CanonicalJsonError::Syntax { .. })),
            "{input:?} must be a syntax error"
        );
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    assert!(matches!(
        canonicalize(&deep),
        Err(CanonicalJsonError::Syntax { .. })
    ));
}

#[test]
fn from_canonical_slice_refuses_any_other_spelling_and_names_the_offset() {
    assert_eq!(
        from_canonical_slice::<Value>(br#"{"a":1,"b":[true]}"#).unwrap(),
        json!({"a": 1, "b": [true]})
    );
    for (input, offset) in [
        (&br#"{"b":1,"a":2}"#[..], 2),
        (br#"{"a": 1}"#, 5),
        (br#"{"a":"\u0041"}"#, 6),
        (br#"{"a":"\/"}"#, 6),
        (b"{\"a\":1}\n", 7),
    ] {
        match from_canonical_slice::<Value>(input) {
            Err(CanonicalJsonError::NotCanonical {
                offset: found,
                length,
            }) => {
                assert_eq!(
                    (found, length),
                    (offset, input.len()),
                    "{}",
                    String::from_utf8_lossy(input)
                );
            }
            other => panic!(
                "{} must be refused, got {other:?}",
                String::from_utf8_lossy(input)
            ),
        }
    }
}

#[test]
fn from_canonical_slice_reports_schema_errors_for_the_wrong_shape() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Expected {
        name: String,
    }
    assert!(matches!(
        from_canonical_slice::<Expected>(br#"{"name":1}"#),
        Err(CanonicalJsonError::Schema { .. })
    ));
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(MAX_SAFE_INTEGER as i64)..=(MAX_SAFE_INTEGER as i64)).prop_map(|n| json!(n)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn parse_then_serialise_is_stable(value in arbitrary_json()) {
        let canonical = value_to_vec(&value).unwrap();
        let reparsed = parse_value(&canonical).unwrap();
        prop_assert_eq!(&reparsed, &value);
        prop_assert_eq!(value_to_vec(&reparsed).unwrap(), canonical.clone());
        prop_assert_eq!(from_canonical_slice::<Value>(&canonical).unwrap(), value.clone());
        // An independent JSON parser reads the same value back.
        prop_assert_eq!(serde_json::from_slice::<Value>(&canonical).unwrap(), value);
    }

    #[test]
    fn pretty_printing_does_not_change_the_canonical_form(value in arbitrary_json()) {
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        prop_assert_eq!(
            value_to_vec(&parse_value(&pretty).unwrap()).unwrap(),
            value_to_vec(&value).unwrap()
        );
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_value(&bytes);
        let _ = from_canonical_slice::<Value>(&bytes);
    }
}
