//! Validation: every error kind, with the path of its node, all collected at once.

use serde_json::{Value as Json, json};

use super::{criteria, try_compile};
use crate::criteria::testing::sample_schema;
use crate::criteria::{CriteriaError, MAX_LEAVES, ValidationContext, validate};

/// `(path, message)` pairs of the errors of `json` (which must be invalid).
fn errors(json: Json) -> Vec<(String, String)> {
    to_pairs(try_compile(json.clone()).err().unwrap_or_else(|| panic!("{json} should be invalid")))
}

fn to_pairs(errors: Vec<CriteriaError>) -> Vec<(String, String)> {
    errors.into_iter().map(|error| (error.path.clone(), error.kind.to_string())).collect()
}

/// Asserts that `json` fails with exactly one error at `path` whose message contains `needle`.
fn fails(json: Json, path: &str, needle: &str) {
    let found = errors(json.clone());
    assert_eq!(found.len(), 1, "{json}: expected one error, got {found:?}");
    assert_eq!(found[0].0, path, "{json}: {found:?}");
    assert!(found[0].1.contains(needle), "{json}: message {:?} lacks {needle:?}", found[0].1);
}

fn leaf_in_all(leaf: Json) -> Json {
    json!({"all": [{"field": "name", "op": "is_empty"}, {"field": "name", "op": "is_empty"}, leaf]})
}

#[test]
fn unknown_field_and_case_sensitivity() {
    fails(
        leaf_in_all(json!({"field": "Stage", "op": "eq", "value": "Approved"})),
        "all[2].field",
        "unknown field `Stage`",
    );
    fails(
        json!({"any": [{"not": {"field": "nope", "op": "is_empty"}}]}),
        "any[0].not.field",
        "unknown field `nope`",
    );
}

#[test]
fn operator_not_valid_for_type() {
    let cases = [
        (
            json!({"field": "amount", "op": "contains", "value": "1"}),
            "`contains` cannot be used on number field `amount`",
        ),
        (json!({"field": "active", "op": "lt", "value": true}), "`lt` cannot be used on bool field"),
        (json!({"field": "stage", "op": "gt", "value": "Draft"}), "`gt` cannot be used on select field"),
        (
            json!({"field": "close_date", "op": "in", "value": ["2024-01-01"]}),
            "`in` cannot be used on date field",
        ),
        (
            json!({"field": "tags", "op": "starts_with", "value": "a"}),
            "`starts_with` cannot be used on list field",
        ),
        (
            json!({"field": "email", "op": "between", "value": ["a", "b"]}),
            "`between` cannot be used on email field",
        ),
    ];
    for (leaf, message) in cases {
        fails(leaf_in_all(leaf), "all[2].op", message);
    }
}

#[test]
fn value_of_wrong_type() {
    fails(
        leaf_in_all(json!({"field": "amount", "op": "eq", "value": "12"})),
        "all[2].value",
        "expected a number, found a text",
    );
    fails(
        json!({"field": "active", "op": "eq", "value": 1}),
        "value",
        "expected true or false, found a number",
    );
    fails(
        json!({"field": "name", "op": "eq", "value": {"a": 1}}),
        "value",
        "expected a text, found an object",
    );
    fails(
        json!({"field": "tags", "op": "eq", "value": "a"}),
        "value",
        "expected a list of texts, found a text",
    );
    fails(
        json!({"field": "amount", "op": "in", "value": 3}),
        "value",
        "expected a list of values, found a number",
    );
    fails(json!({"field": "amount", "op": "in", "value": [1, "2", 3]}), "value[1]", "expected a number");
    fails(
        json!({"field": "close_date", "op": "eq", "value": "01/02/2024"}),
        "value",
        "is not a date (YYYY-MM-DD)",
    );
    fails(
        json!({"field": "close_date", "op": "eq", "value": "2024-01-02T10:00:00Z"}),
        "value",
        "is not a date",
    );
    fails(
        json!({"field": "created_at", "op": "lt", "value": "yesterday"}),
        "value",
        "is not a date-time (RFC 3339)",
    );
    fails(json!({"field": "created_at", "op": "lt", "value": "now-3y"}), "value", "is not a relative date");
    fails(
        json!({"field": "close_date", "op": "gt", "value": "now-2h"}),
        "value",
        "date fields have no time of day",
    );
    fails(
        json!({"field": "amount", "op": "lt", "value": 1e200}),
        "value",
        "invalid number: magnitude outside",
    );
}

#[test]
fn select_value_must_be_an_option() {
    fails(
        json!({"field": "stage", "op": "eq", "value": "approved"}),
        "value",
        "`approved` is not an option of this field (options: Draft, Approved, Negotiation, Closed)",
    );
    assert!(
        try_compile(json!({"field": "stage", "op": "eq", "value": "approved", "case_insensitive": true}))
            .is_ok()
    );
    fails(
        json!({"field": "stage", "op": "in", "value": ["Draft", "Lost"]}),
        "value[1]",
        "`Lost` is not an option",
    );
}

#[test]
fn missing_and_extra_values() {
    fails(json!({"field": "name", "op": "eq"}), "value", "`eq` needs a `value` or a `field_ref`");
    fails(json!({"field": "name", "op": "is_empty", "value": ""}), "value", "`is_empty` takes no `value`");
    fails(
        json!({"field": "name", "op": "changed", "field_ref": "region"}),
        "field_ref",
        "`changed` takes no",
    );
    fails(
        json!({"field": "region", "op": "eq", "value": "x", "field_ref": "$user.billing_country"}),
        "field_ref",
        "either `value` or `field_ref`, not both",
    );
    fails(
        json!({"field": "amount", "op": "gt", "value": null}),
        "value",
        "`null` can only be used with eq, ne",
    );
    fails(
        json!({"field": "name", "op": "contains", "value": ""}),
        "value",
        "`contains` needs a non-empty text",
    );
    fails(json!({"field": "name", "op": "starts_with", "value": ""}), "value", "needs a non-empty text");
}

#[test]
fn between_needs_two_ascending_bounds() {
    fails(
        json!({"field": "amount", "op": "between", "value": [1]}),
        "value",
        "exactly 2 values [low, high], found 1",
    );
    fails(json!({"field": "amount", "op": "between", "value": [1, 2, 3]}), "value", "found 3");
    fails(json!({"field": "amount", "op": "between", "value": 1}), "value", "expected a list [low, high]");
    fails(json!({"field": "amount", "op": "between", "value": [10, 1]}), "value", "ascending order");
    fails(json!({"field": "name", "op": "between", "value": ["b", "a"]}), "value", "ascending order");
    fails(json!({"field": "created_at", "op": "between", "value": ["now", "now-1d"]}), "value", "ascending");
    fails(
        json!({"field": "close_date", "op": "between", "value": ["2024-02-01", "2024-01-01"]}),
        "value",
        "ascending",
    );
    fails(json!({"field": "amount", "op": "between", "value": [1, "x"]}), "value[1]", "expected a number");
    fails(
        json!({"field": "amount", "op": "between", "field_ref": "probability"}),
        "field_ref",
        "cannot compare with a `field_ref`",
    );
    // A fixed and a relative bound can only be compared at evaluation.
    assert!(
        try_compile(json!({"field": "created_at", "op": "between", "value": ["2030-01-01", "now"]})).is_ok()
    );
}

#[test]
fn in_lists_are_bounded() {
    fails(json!({"field": "name", "op": "in", "value": []}), "value", "`in` needs at least one value");
    fails(
        json!({"field": "name", "op": "not_in", "value": []}),
        "value",
        "`not_in` needs at least one value",
    );
    let many: Vec<i64> = (0..101).collect();
    fails(json!({"field": "amount", "op": "in", "value": many}), "value", "at most 100 values");
    fails(json!({"field": "name", "op": "in", "value": ["a", null]}), "value[1]", "`null` can only be used");
}

#[test]
fn trigger_operators_need_a_trigger_context() {
    let schema = sample_schema();
    let changed =
        criteria(json!({"any": [{"field": "name", "op": "is_empty"}, {"field": "stage", "op": "changed"}]}));
    let result = validate(&changed, &schema, &ValidationContext::plain());
    let found = to_pairs(result.expect_err("invalid"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "any[1].op");
    assert!(found[0].1.contains("only allowed in trigger conditions"), "{found:?}");
    assert!(validate(&changed, &schema, &ValidationContext::trigger()).is_ok());

    let old_ref = criteria(json!({"field": "amount", "op": "gt", "field_ref": "$old.amount"}));
    let found = to_pairs(validate(&old_ref, &schema, &ValidationContext::plain()).expect_err("invalid"));
    assert_eq!(
        found,
        vec![(
            "field_ref".to_owned(),
            "`$old.amount`: `$old.` references are only allowed in trigger conditions".to_owned()
        )]
    );
}

#[test]
fn field_refs_are_checked() {
    let schema = sample_schema();
    let user_ref = criteria(json!({"field": "region", "op": "eq", "field_ref": "$user.billing_country"}));
    let found =
        to_pairs(validate(&user_ref, &schema, &ValidationContext::plain()).expect_err("no user here"));
    assert_eq!(found[0].0, "field_ref");
    assert!(found[0].1.contains("only available in portal criteria"), "{found:?}");

    fails(
        json!({"field": "region", "op": "eq", "field_ref": "$user.country"}),
        "field_ref",
        "`$user.country` refers to an unknown field",
    );
    fails(
        json!({"field": "region", "op": "eq", "field_ref": "Name"}),
        "field_ref",
        "`Name` refers to an unknown field",
    );
    fails(
        json!({"field": "region", "op": "eq", "field_ref": "$usr.x"}),
        "field_ref",
        "is not a field reference",
    );
    fails(
        json!({"field": "region", "op": "eq", "field_ref": "$user."}),
        "field_ref",
        "is not a field reference",
    );
    fails(
        json!({"field": "region", "op": "eq", "field_ref": "$user.credit"}),
        "field_ref",
        "`$user.credit` is a number field and cannot be compared with text field `region` using `eq`",
    );
    fails(
        json!({"field": "region", "op": "in", "field_ref": "$user.billing_country"}),
        "field_ref",
        "cannot be compared",
    );
    fails(json!({"field": "amount", "op": "lt", "field_ref": "created_at"}), "field_ref", "date-time field");
    fails(
        json!({"field": "stage", "op": "changed_to", "field_ref": "name"}),
        "field_ref",
        "`changed_to` cannot compare",
    );
    // Compatible kinds across types: a select compares with a text.
    assert!(try_compile(json!({"field": "stage", "op": "eq", "field_ref": "$user.billing_country"})).is_ok());
    assert!(try_compile(json!({"field": "close_date", "op": "lt", "field_ref": "$user.last_seen"})).is_ok());
    assert!(try_compile(json!({"field": "tags", "op": "in", "field_ref": "$user.regions"})).is_ok());
}

#[test]
fn case_insensitive_only_where_it_means_something() {
    fails(
        json!({"field": "amount", "op": "eq", "value": 1, "case_insensitive": true}),
        "case_insensitive",
        "applies only to",
    );
    fails(
        json!({"field": "name", "op": "lt", "value": "a", "case_insensitive": true}),
        "case_insensitive",
        "applies only to",
    );
    fails(
        json!({"field": "name", "op": "is_empty", "case_insensitive": true}),
        "case_insensitive",
        "applies only to",
    );
}

#[test]
fn structure_limits() {
    fails(json!({"all": []}), "all", "`all` needs at least one condition");
    fails(json!({"not": {"any": []}}), "not.any", "`any` needs at least one condition");

    let mut deep = json!({"field": "name", "op": "is_empty"});
    for _ in 0..8 {
        deep = json!({"not": deep});
    }
    fails(deep.clone(), "not.not.not.not.not.not.not.not", "nested deeper than 8 levels");
    assert!(try_compile(deep["not"].clone()).is_ok(), "8 levels are allowed");

    let leaves: Vec<Json> = (0..=MAX_LEAVES).map(|_| json!({"field": "name", "op": "is_empty"})).collect();
    fails(json!({"any": leaves}), "", "criteria have 101 conditions; at most 100 are allowed");
}

#[test]
fn collects_every_error() {
    let found = errors(json!({"all": [
        {"field": "amount", "op": "eq", "value": "12"},
        {"any": [
            {"field": "nope", "op": "eq", "value": 1},
            {"not": {"field": "stage", "op": "eq", "value": "Lost"}}
        ]},
        {"field": "amount", "op": "between", "value": [3, 1, 2]},
        {"field": "name", "op": "in", "value": [1, 2]}
    ]}));
    let paths: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "all[0].value",
            "all[1].any[0].field",
            "all[1].any[1].not.value",
            "all[2].value",
            "all[3].value[0]",
            "all[3].value[1]"
        ]
    );
}

#[test]
fn errors_display_and_serialise_with_their_path() {
    let error =
        try_compile(json!({"all": [{"field": "Stage", "op": "is_empty"}]})).expect_err("invalid").remove(0);
    assert_eq!(error.to_string(), "all[0].field: unknown field `Stage` (field names are case-sensitive)");
    let json = serde_json::to_value(&error).expect("serialise");
    assert_eq!(
        json,
        json!({"path": "all[0].field", "message": "unknown field `Stage` (field names are case-sensitive)"})
    );
}

#[test]
fn validated_criteria_keep_their_source() {
    let source = criteria(json!({"field": "stage", "op": "eq", "value": "Approved"}));
    let validated = validate(&source, &sample_schema(), &ValidationContext::plain()).expect("valid");
    assert_eq!(validated.source(), &source);
    assert_eq!(validated.compiled().leaf_count(), 1);
    let fields: Vec<&str> = validated.compiled().record_fields().into_iter().collect();
    assert_eq!(fields, ["stage"]);
}
