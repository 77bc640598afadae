//! The JSON form: shapes accepted and refused, and round trips.

use serde_json::json;

use crate::criteria::{Criteria, Leaf, Op};

fn parse(text: &str) -> Result<Criteria, String> {
    serde_json::from_str(text).map_err(|err| err.to_string())
}

#[test]
fn parses_groups_and_leaves() {
    let criteria = parse(
        r#"{"all": [
            {"field": "stage", "op": "eq", "value": "Approved"},
            {"any": [{"not": {"field": "region", "op": "eq", "field_ref": "$user.billing_country"}}]},
            {"field": "name", "op": "contains", "value": "x", "case_insensitive": true}
        ]}"#,
    )
    .expect("valid shape");
    let expected = Criteria::All(vec![
        Leaf::value("stage", Op::Eq, json!("Approved")).into(),
        Criteria::Any(vec![Criteria::Not(Box::new(
            Leaf::field_ref("region", Op::Eq, "$user.billing_country").into(),
        ))]),
        Leaf::value("name", Op::Contains, json!("x")).ignoring_case().into(),
    ]);
    assert_eq!(criteria, expected);
}

#[test]
fn explicit_null_differs_from_absent_value() {
    let with_null = parse(r#"{"field": "name", "op": "eq", "value": null}"#).expect("shape");
    let Criteria::Leaf(leaf) = with_null else { panic!("leaf expected") };
    assert_eq!(leaf.value, Some(json!(null)));
    let absent = parse(r#"{"field": "name", "op": "is_empty"}"#).expect("shape");
    let Criteria::Leaf(leaf) = absent else { panic!("leaf expected") };
    assert_eq!(leaf.value, None);
}

#[test]
fn round_trips_through_json() {
    let text = r#"{"any":[{"field":"amount","op":"between","value":[1,2]},{"not":{"field":"tags","op":"is_empty"}},{"field":"name","op":"eq","value":null},{"field":"region","op":"in","value":["a"],"case_insensitive":true}]}"#;
    let criteria = parse(text).expect("shape");
    assert_eq!(serde_json::to_string(&criteria).expect("serialise"), text);
}

#[test]
fn refuses_unknown_keys() {
    let err = parse(r#"{"field": "stage", "op": "eq", "value": "x", "vaule": 1}"#).expect_err("unknown key");
    assert!(err.contains("unknown field `vaule`"), "{err}");
    let err = parse(r#"{"all": [], "comment": "x"}"#).expect_err("unknown key");
    assert!(err.contains("unknown field `comment`"), "{err}");
}

#[test]
fn refuses_unknown_operators() {
    let err = parse(r#"{"field": "stage", "op": "like", "value": "x"}"#).expect_err("bad op");
    assert!(err.contains("unknown variant `like`"), "{err}");
}

#[test]
fn refuses_mixed_and_incomplete_nodes() {
    let err = parse(r#"{"all": [], "any": []}"#).expect_err("mixed");
    assert!(err.contains("only one of `all`, `any`, `not`, `field`; found `all` and `any`"), "{err}");
    let err = parse(r#"{"not": {"field": "a", "op": "is_empty"}, "field": "b"}"#).expect_err("mixed");
    assert!(err.contains("found `not` and `field`"), "{err}");
    let err = parse(r#"{"all": [], "op": "eq"}"#).expect_err("leaf key on group");
    assert!(err.contains("`op` is only allowed in a leaf"), "{err}");
    let err = parse(r#"{"field": "stage", "value": "x"}"#).expect_err("no op");
    assert!(err.contains("the condition on `stage` has no `op`"), "{err}");
    let err = parse(r#"{}"#).expect_err("empty");
    assert!(err.contains("needs one of"), "{err}");
    let err = parse(r#"{"all": {"field": "a", "op": "is_empty"}}"#).expect_err("all takes a list");
    assert!(err.contains("invalid type"), "{err}");
}

#[test]
fn op_names_round_trip() {
    for op in Op::ALL {
        let json = serde_json::to_value(op).expect("serialise");
        assert_eq!(json, json!(op.as_str()));
        assert_eq!(serde_json::from_value::<Op>(json).expect("parse"), op);
    }
}
