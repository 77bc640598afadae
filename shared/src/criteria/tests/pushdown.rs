//! Pushdown: example splits, rendering, and a model of DynamoDB's filter semantics that the
//! property tests use to check `full ⇔ filter ∧ residual`.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::json;

use super::{compiled, instant, now, record};
use crate::criteria::pushdown::{Comparator, Expr};
use crate::criteria::testing::{TestRecord, sample_schema};
use crate::criteria::{
    AttributeValue, DateEncoding, EvalContext, FieldSchema, MAX_LIST_VALUES, Number, PushdownOptions, Value,
    pushdown, pushdown_with,
};

fn identity(field: &str) -> Option<String> {
    Some(field.to_owned())
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(text: &str) -> AttributeValue {
    AttributeValue::N(text.to_owned())
}

fn names(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn values(pairs: &[(&str, AttributeValue)]) -> BTreeMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

#[test]
fn pushes_exact_conditions_completely() {
    let criteria = compiled(json!({"all": [
        {"field": "amount", "op": "gt", "value": 50000},
        {"field": "probability", "op": "gte", "value": 80},
        {"field": "stage", "op": "in", "value": ["Draft", "Approved"]}
    ]}));
    let result = pushdown(&criteria, identity);
    assert!(result.residual.is_none());
    let filter = result.filter.expect("a filter");
    assert_eq!(filter.expression, "(#n0 > :v0) AND (#n1 >= :v1) AND (#n2 IN (:v2, :v3))");
    assert_eq!(filter.names, names(&[("#n0", "amount"), ("#n1", "probability"), ("#n2", "stage")]));
    assert_eq!(
        filter.values,
        values(&[(":v0", n("50000")), (":v1", n("80")), (":v2", s("Approved")), (":v3", s("Draft"))])
    );
}

#[test]
fn negations_become_not_of_the_positive_form() {
    let criteria = compiled(json!({"any": [
        {"field": "stage", "op": "ne", "value": "Negotiation"},
        {"field": "amount", "op": "not_in", "value": [1, 2]},
        {"not": {"field": "name", "op": "starts_with", "value": "Test"}},
        {"field": "active", "op": "eq", "value": true},
        {"field": "tags", "op": "contains", "value": "vip"},
        {"field": "name", "op": "between", "value": ["a", "m"]}
    ]}));
    let result = pushdown(&criteria, identity);
    assert!(result.residual.is_none());
    let filter = result.filter.expect("a filter");
    assert_eq!(
        filter.expression,
        "(NOT (#n0 = :v0)) OR (NOT (#n1 IN (:v1, :v2))) OR (NOT (begins_with(#n2, :v3))) OR (#n3 = :v4) \
         OR (contains(#n4, :v5)) OR (#n2 BETWEEN :v6 AND :v7)"
    );
    assert_eq!(filter.values[":v4"], AttributeValue::Bool(true));
    assert_eq!(filter.names["#n2"], "name", "a repeated attribute reuses its placeholder");
}

#[test]
fn keeps_the_inexact_in_rust_with_a_necessary_condition() {
    let criteria = compiled(json!({"all": [
        {"field": "stage", "op": "eq", "value": "Approved"},
        {"field": "name", "op": "eq", "value": "acme", "case_insensitive": true},
        {"field": "region", "op": "is_empty"},
        {"field": "email", "op": "is_not_empty"}
    ]}));
    let result = pushdown(&criteria, identity);
    let filter = result.filter.expect("a filter");
    assert_eq!(filter.expression, "(#n0 = :v0) AND (attribute_exists(#n1)) AND (attribute_exists(#n2))");
    assert_eq!(filter.names, names(&[("#n0", "stage"), ("#n1", "name"), ("#n2", "email")]));
    let residual = result.residual.expect("a residual");
    assert_eq!(residual.leaf_count(), 3);
    let fields: Vec<&str> = residual.record_fields().into_iter().collect();
    assert_eq!(fields, ["email", "name", "region"]);
}

#[test]
fn any_is_pushed_only_when_every_child_is_exact() {
    let partial = compiled(json!({"any": [
        {"field": "stage", "op": "eq", "value": "Approved"},
        {"field": "name", "op": "contains", "value": "x", "case_insensitive": true}
    ]}));
    let result = pushdown(&partial, identity);
    assert_eq!(result.filter.expect("a filter").expression, "(#n0 = :v0) OR (attribute_exists(#n1))");
    assert_eq!(result.residual.expect("the whole any").leaf_count(), 2);

    let hopeless = compiled(json!({"any": [
        {"field": "stage", "op": "eq", "value": "Approved"},
        {"field": "name", "op": "is_empty"}
    ]}));
    let result = pushdown(&hopeless, identity);
    assert!(result.filter.is_none());
    assert_eq!(result.residual.expect("everything").leaf_count(), 2);

    let not_partial =
        compiled(json!({"not": {"field": "name", "op": "eq", "value": "x", "case_insensitive": true}}));
    let result = pushdown(&not_partial, identity);
    assert!(result.filter.is_none(), "a necessary condition cannot be negated");
}

#[test]
fn fields_without_an_attribute_path_stay_in_rust() {
    let criteria = compiled(json!({"all": [
        {"field": "stage", "op": "eq", "value": "Approved"},
        {"field": "amount", "op": "gt", "value": 1}
    ]}));
    let result = pushdown(&criteria, |field| (field == "stage").then(|| "data.stage".to_owned()));
    let filter = result.filter.expect("a filter");
    assert_eq!(filter.expression, "#n0.#n1 = :v0");
    assert_eq!(filter.names, names(&[("#n0", "data"), ("#n1", "stage")]));
    assert_eq!(result.residual.expect("amount").record_fields().into_iter().collect::<Vec<_>>(), ["amount"]);
    let indexed = pushdown(&criteria, |field| Some(format!("{field}[0]")));
    assert!(indexed.filter.is_none(), "list indexes are not supported");
}

#[test]
fn user_references_resolve_only_with_the_user() {
    let criteria = compiled(json!({"field": "region", "op": "eq", "field_ref": "$user.billing_country"}));
    let without = pushdown(&criteria, identity);
    assert_eq!(without.filter.expect("a filter").expression, "attribute_exists(#n0)");
    assert!(without.residual.is_some());

    let user = record(&[("billing_country", Value::from("DE"))]);
    let options = PushdownOptions { user: Some(&user), ..PushdownOptions::default() };
    let with = pushdown_with(&criteria, &options, identity);
    let filter = with.filter.expect("a filter");
    assert_eq!(filter.expression, "#n0 = :v0");
    assert_eq!(filter.values[":v0"], s("DE"));
    assert!(with.residual.is_none());

    // A user without the field: evaluation never matches, so keep it in Rust.
    let empty = record(&[]);
    let options = PushdownOptions { user: Some(&empty), ..PushdownOptions::default() };
    assert!(pushdown_with(&criteria, &options, identity).residual.is_some());
    // A value of another type than the field's: also kept.
    let numeric = record(&[("billing_country", Value::from(49))]);
    let options = PushdownOptions { user: Some(&numeric), ..PushdownOptions::default() };
    assert!(pushdown_with(&criteria, &options, identity).residual.is_some());
}

#[test]
fn dates_need_an_encoding_and_relative_dates_need_now() {
    let criteria = compiled(json!({"all": [
        {"field": "created_at", "op": "gte", "value": "now-1d"},
        {"field": "close_date", "op": "lt", "value": "2024-02-01"}
    ]}));
    let result = pushdown(&criteria, identity);
    assert_eq!(
        result.filter.expect("a filter").expression,
        "(attribute_exists(#n0)) AND (attribute_exists(#n1))"
    );

    let options = PushdownOptions { dates: Some(DateEncoding::Iso8601), ..PushdownOptions::default() };
    let result = pushdown_with(&criteria, &options, identity);
    let filter = result.filter.expect("a filter");
    assert_eq!(filter.expression, "(attribute_exists(#n0)) AND (#n1 < :v0)");
    assert_eq!(filter.values[":v0"], s("2024-02-01"));

    let options = PushdownOptions {
        now: Some(now()),
        dates: Some(DateEncoding::Iso8601),
        ..PushdownOptions::default()
    };
    let result = pushdown_with(&criteria, &options, identity);
    assert!(result.residual.is_none());
    let filter = result.filter.expect("a filter");
    assert_eq!(filter.values[":v0"], s("2024-01-10T12:00:00.000Z"));

    let options = PushdownOptions {
        now: Some(now()),
        dates: Some(DateEncoding::EpochMillis),
        ..PushdownOptions::default()
    };
    let filter = pushdown_with(&criteria, &options, identity).filter.expect("a filter");
    assert_eq!(filter.values[":v0"], n("1704888000000"));
    assert_eq!(filter.values[":v1"], n("1706745600000"));
}

#[test]
fn sub_millisecond_bounds_round_towards_exactness() {
    let fractional = instant("2024-01-11T12:00:00.000500Z");
    let options = PushdownOptions {
        now: Some(fractional),
        dates: Some(DateEncoding::EpochMillis),
        ..PushdownOptions::default()
    };
    let bound = |op: &str| {
        let criteria = compiled(json!({"field": "created_at", "op": op, "value": "now"}));
        let result = pushdown_with(&criteria, &options, identity);
        result.filter.filter(|_| result.residual.is_none()).map(|filter| filter.values[":v0"].clone())
    };
    let floor = n("1704974400000");
    let ceil = n("1704974400001");
    assert_eq!(bound("lt"), Some(ceil.clone()));
    assert_eq!(bound("lte"), Some(floor.clone()));
    assert_eq!(bound("gt"), Some(floor));
    assert_eq!(bound("gte"), Some(ceil));
    assert_eq!(bound("eq"), None, "no stored instant equals a sub-millisecond bound; kept in Rust");
    // [now, now] has no whole millisecond inside; DynamoDB would refuse the bounds.
    let empty_range = compiled(json!({"field": "created_at", "op": "between", "value": ["now", "now"]}));
    assert!(pushdown_with(&empty_range, &options, identity).residual.is_some());
}

#[test]
fn oversized_filters_fall_back_to_rust() {
    let many: Vec<String> = (0..MAX_LIST_VALUES).map(|at| format!("value-{at}")).collect();
    let leaves: Vec<_> = (0..40).map(|_| json!({"field": "name", "op": "in", "value": many})).collect();
    let criteria = compiled(json!({"all": leaves}));
    let result = pushdown(&criteria, identity);
    assert!(result.filter.is_none());
    assert_eq!(result.residual.expect("everything").leaf_count(), 40);
}

#[test]
fn expressions_hold_only_placeholders() {
    let criteria = compiled(json!({"any": [
        {"field": "name", "op": "eq", "value": "x) OR (attribute_exists(#secret"},
        {"field": "stage", "op": "in", "value": ["Draft"]}
    ]}));
    let odd = pushdown(&criteria, |field| Some(format!("{field} = :x OR a"))).filter.expect("a filter");
    assert_only_placeholders(&odd.expression);
    assert_eq!(
        odd.names["#n0"], "name = :x OR a",
        "odd attribute names go to the names map, never into the text"
    );
    let filter = pushdown(&criteria, identity).filter.expect("a filter");
    assert_only_placeholders(&filter.expression);
    assert!(!filter.expression.contains("secret"));
}

/// Every word of the expression is a keyword, a function or a placeholder.
pub(super) fn assert_only_placeholders(expression: &str) {
    const WORDS: &[&str] =
        &["AND", "OR", "NOT", "BETWEEN", "IN", "begins_with", "contains", "attribute_exists"];
    for word in expression.split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '#' | ':'))) {
        let placeholder = (word.starts_with("#n") || word.starts_with(":v"))
            && word[2..].bytes().all(|b| b.is_ascii_digit());
        assert!(
            word.is_empty() || WORDS.contains(&word) || placeholder,
            "unexpected word {word:?} in {expression}"
        );
    }
}

#[test]
fn attribute_values_serialise_as_dynamodb_json() {
    let value = AttributeValue::L(vec![s("a"), n("1.5"), AttributeValue::Bool(true), AttributeValue::Null]);
    let json = serde_json::to_value(&value).expect("serialise");
    assert_eq!(json, json!({"L": [{"S": "a"}, {"N": "1.5"}, {"BOOL": true}, {"NULL": true}]}));
}

#[test]
fn records_convert_to_items() {
    let date_time = Value::DateTime(instant("2024-01-11T12:00:00.250Z"));
    let date = Value::DateTime(instant("2024-01-11T00:00:00Z"));
    let iso = DateEncoding::Iso8601;
    let schema = sample_schema();
    let field_type = |name: &str| schema.field_type(name).expect("field").clone();
    assert_eq!(
        AttributeValue::from_value(&date_time, &field_type("created_at"), iso),
        Some(s("2024-01-11T12:00:00.250Z"))
    );
    assert_eq!(AttributeValue::from_value(&date, &field_type("close_date"), iso), Some(s("2024-01-11")));
    assert_eq!(AttributeValue::from_value(&date_time, &field_type("close_date"), iso), None);
    let millis = AttributeValue::from_value(&date_time, &field_type("created_at"), DateEncoding::EpochMillis);
    assert_eq!(millis, Some(n("1704974400250")));
    let sub_ms = Value::DateTime(instant("2024-01-11T12:00:00.000001Z"));
    assert_eq!(AttributeValue::from_value(&sub_ms, &field_type("created_at"), iso), None);
}

// ---- A model of DynamoDB's filter evaluation, for the property tests ----

/// The item DynamoDB would hold for `record` (top-level attributes named like the fields).
pub(super) fn item(record: &TestRecord, dates: DateEncoding) -> BTreeMap<String, AttributeValue> {
    let schema = sample_schema();
    record
        .iter()
        .map(|(name, value)| {
            let field_type = schema.field_type(name).expect("sample field");
            let attribute = AttributeValue::from_value(value, field_type, dates).expect("storable value");
            (name.clone(), attribute)
        })
        .collect()
}

/// Evaluates a filter as DynamoDB documents it: a missing attribute or a value of another
/// type makes a comparison or function false; `NOT`, `AND`, `OR` are boolean.
pub(super) fn simulate(expr: &Expr, item: &BTreeMap<String, AttributeValue>) -> bool {
    let get = |path: &[String]| match path {
        [name] => item.get(name),
        _ => None,
    };
    match expr {
        Expr::And(children) => children.iter().all(|child| simulate(child, item)),
        Expr::Or(children) => children.iter().any(|child| simulate(child, item)),
        Expr::Not(child) => !simulate(child, item),
        Expr::Compare { path, cmp, value } => get(path).is_some_and(|attribute| match cmp {
            Comparator::Eq => equal(attribute, value),
            Comparator::Lt => order(attribute, value).is_some_and(Ordering::is_lt),
            Comparator::Lte => order(attribute, value).is_some_and(Ordering::is_le),
            Comparator::Gt => order(attribute, value).is_some_and(Ordering::is_gt),
            Comparator::Gte => order(attribute, value).is_some_and(Ordering::is_ge),
        }),
        Expr::Between { path, low, high } => get(path).is_some_and(|attribute| {
            order(attribute, low).is_some_and(Ordering::is_ge)
                && order(attribute, high).is_some_and(Ordering::is_le)
        }),
        Expr::In { path, values } => {
            get(path).is_some_and(|attribute| values.iter().any(|v| equal(attribute, v)))
        }
        Expr::BeginsWith { path, value } => match (get(path), value) {
            (Some(AttributeValue::S(text)), AttributeValue::S(prefix)) => text.starts_with(prefix.as_str()),
            _ => false,
        },
        Expr::Contains { path, value } => match (get(path), value) {
            (Some(AttributeValue::S(text)), AttributeValue::S(needle)) => text.contains(needle.as_str()),
            (Some(AttributeValue::L(items)), needle) => items.iter().any(|item| equal(item, needle)),
            _ => false,
        },
        Expr::Exists(path) => get(path).is_some(),
    }
}

fn number(text: &str) -> Number {
    text.parse().expect("DynamoDB number")
}

fn equal(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::S(a), AttributeValue::S(b)) => a == b,
        (AttributeValue::N(a), AttributeValue::N(b)) => number(a) == number(b),
        (AttributeValue::Bool(a), AttributeValue::Bool(b)) => a == b,
        (AttributeValue::Null, AttributeValue::Null) => true,
        (AttributeValue::L(a), AttributeValue::L(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| equal(a, b))
        }
        _ => false,
    }
}

fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (AttributeValue::N(a), AttributeValue::N(b)) => Some(number(a).cmp(&number(b))),
        _ => None,
    }
}

#[test]
fn the_model_agrees_with_evaluation_on_examples() {
    let rec = record(&[("stage", Value::from("Approved")), ("amount", Value::from(7))]);
    let criteria = compiled(json!({"all": [
        {"field": "stage", "op": "ne", "value": "Draft"},
        {"field": "name", "op": "ne", "value": "x"},
        {"field": "amount", "op": "lt", "value": 10}
    ]}));
    let split = crate::criteria::pushdown::plan(&criteria, &PushdownOptions::default(), &identity);
    let filter = split.filter.expect("a filter");
    assert!(simulate(&filter, &item(&rec, DateEncoding::Iso8601)));
    assert!(split.residual.is_none());
    assert!(criteria.evaluate(&EvalContext::new(&rec, now())));
}

#[test]
fn required_equalities_are_found_only_where_the_whole_criteria_need_them() {
    use crate::criteria::testing::sample_user_schema;
    use crate::criteria::{Criteria, EqualityOperand, ValidationContext, compile};
    let user = sample_user_schema();
    let portal = |criteria: serde_json::Value| {
        let criteria: Criteria = serde_json::from_value(criteria).expect("criteria form");
        compile(&criteria, &sample_schema(), &ValidationContext::portal(&user)).expect("valid")
    };
    let by_user = json!({"field": "region", "op": "eq", "field_ref": "$user.billing_country"});
    assert_eq!(
        portal(by_user.clone()).required_equality("region"),
        Some(EqualityOperand::User("billing_country"))
    );
    let within_all =
        portal(json!({"all": [{"field": "active", "op": "eq", "value": true}, by_user.clone()]}));
    assert_eq!(within_all.required_equality("region"), Some(EqualityOperand::User("billing_country")));
    let folded = portal(json!({"field": "region", "op": "eq", "value": "CZ", "case_insensitive": true}));
    assert_eq!(folded.required_equality("region"), Some(EqualityOperand::Text("cz")));
    // An alternative, a negation or another operator does not narrow every match to one value.
    for loose in [
        json!({"any": [by_user.clone(), {"field": "active", "op": "eq", "value": true}]}),
        json!({"not": by_user}),
        json!({"field": "region", "op": "ne", "value": "CZ"}),
        json!({"field": "region", "op": "in", "value": ["CZ"]}),
        json!({"field": "name", "op": "eq", "value": "CZ"}),
    ] {
        assert_eq!(portal(loose.clone()).required_equality("region"), None, "{loose}");
    }
}
