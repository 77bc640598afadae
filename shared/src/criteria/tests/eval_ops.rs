//! Every operator on every field type, table-driven: one leaf, many record values.

use serde_json::{Value as Json, json};

use super::{holds, instant, record};
use crate::criteria::testing::TestRecord;
use crate::criteria::{Number, Value};

fn s(text: &str) -> Option<Value> {
    Some(Value::from(text))
}

fn n(text: &str) -> Option<Value> {
    Some(Value::Number(text.parse::<Number>().expect("test number")))
}

fn b(flag: bool) -> Option<Value> {
    Some(Value::Bool(flag))
}

fn d(text: &str) -> Option<Value> {
    Some(Value::DateTime(instant(text)))
}

fn l(items: &[&str]) -> Option<Value> {
    Some(Value::List(items.iter().map(|item| Value::from(*item)).collect()))
}

const NULL: Option<Value> = Some(Value::Null);
const MISSING: Option<Value> = None;

/// Checks `leaf` against a record holding each `actual` in the leaf's field.
fn table(leaf: Json, rows: &[(Option<Value>, bool)]) {
    let field = leaf["field"].as_str().expect("leaf has a field").to_owned();
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|(actual, expected)| {
            let record: TestRecord = actual.iter().map(|value| (field.clone(), value.clone())).collect();
            let got = holds(leaf.clone(), &record, None, None);
            (got != *expected).then(|| format!("{leaf} on {actual:?}: expected {expected}, got {got}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn text_eq_and_ne() {
    let rows = [(s("abc"), true), (s("ABC"), false), (s("abcd"), false), (MISSING, false), (NULL, false)];
    table(json!({"field": "name", "op": "eq", "value": "abc"}), &rows);
    // Type mismatches never match eq; ne is its exact negation.
    table(json!({"field": "name", "op": "eq", "value": "1"}), &[(n("1"), false), (l(&["1"]), false)]);
    let negated: Vec<_> = rows.iter().map(|(value, held)| (value.clone(), !held)).collect();
    table(json!({"field": "name", "op": "ne", "value": "abc"}), &negated);
    table(json!({"field": "name", "op": "ne", "value": "1"}), &[(n("1"), true), (b(true), true)]);
}

#[test]
fn text_eq_case_insensitive() {
    let leaf = json!({"field": "name", "op": "eq", "value": "ÄBc", "case_insensitive": true});
    table(leaf, &[(s("äbc"), true), (s("ÄBC"), true), (s("abc"), false), (MISSING, false)]);
    // Folding is char-wise lowercase: ß does not become ss.
    let leaf = json!({"field": "name", "op": "eq", "value": "STRASSE", "case_insensitive": true});
    table(leaf, &[(s("strasse"), true), (s("straße"), false)]);
    let leaf = json!({"field": "name", "op": "ne", "value": "ABC", "case_insensitive": true});
    table(leaf, &[(s("abc"), false), (s("abd"), true), (MISSING, true)]);
}

#[test]
fn eq_null() {
    let rows = [(MISSING, true), (NULL, true), (s(""), false), (l(&[]), false), (n("0"), false)];
    table(json!({"field": "name", "op": "eq", "value": null}), &rows);
    let rows = [(MISSING, false), (NULL, false), (s(""), true), (n("0"), true)];
    table(json!({"field": "amount", "op": "ne", "value": null}), &rows);
}

#[test]
fn text_ordering_is_bytewise() {
    let rows =
        [(s("a"), true), (s("B"), true), (s("b"), false), (s("ä"), false), (MISSING, false), (n("1"), false)];
    table(json!({"field": "name", "op": "lt", "value": "b"}), &rows);
    table(
        json!({"field": "name", "op": "lte", "value": "b"}),
        &[(s("b"), true), (s("ba"), false), (NULL, false)],
    );
    table(
        json!({"field": "name", "op": "gt", "value": "b"}),
        &[(s("ba"), true), (s("b"), false), (s("ä"), true)],
    );
    table(
        json!({"field": "name", "op": "gte", "value": "b"}),
        &[(s("b"), true), (s("a"), false), (MISSING, false)],
    );
    let rows =
        [(s("b"), true), (s("c"), true), (s("d"), true), (s("da"), false), (s("a"), false), (MISSING, false)];
    table(json!({"field": "name", "op": "between", "value": ["b", "d"]}), &rows);
}

#[test]
fn text_in_and_not_in() {
    let rows =
        [(s("a"), true), (s("b"), true), (s("A"), false), (s("c"), false), (MISSING, false), (n("1"), false)];
    table(json!({"field": "name", "op": "in", "value": ["b", "a", "a"]}), &rows);
    let negated: Vec<_> = rows.iter().map(|(value, held)| (value.clone(), !held)).collect();
    table(json!({"field": "name", "op": "not_in", "value": ["b", "a"]}), &negated);
    let leaf = json!({"field": "name", "op": "in", "value": ["Ä", "B"], "case_insensitive": true});
    table(leaf, &[(s("ä"), true), (s("b"), true), (s("B"), true), (s("c"), false)]);
    let leaf = json!({"field": "name", "op": "not_in", "value": ["Ä"], "case_insensitive": true});
    table(leaf, &[(s("ä"), false), (s("a"), true), (MISSING, true)]);
}

#[test]
fn text_contains_and_starts_with() {
    let rows = [(s("abcd"), true), (s("ABCD"), false), (s("bc"), true), (MISSING, false), (n("1"), false)];
    table(json!({"field": "name", "op": "contains", "value": "bc"}), &rows);
    let leaf = json!({"field": "name", "op": "contains", "value": "BÄ", "case_insensitive": true});
    table(leaf, &[(s("xbäy"), true), (s("XBÄY"), true), (s("xbay"), false)]);
    let rows = [(s("abc"), true), (s("ab"), true), (s("xab"), false), (s("ABC"), false), (MISSING, false)];
    table(json!({"field": "name", "op": "starts_with", "value": "ab"}), &rows);
    let leaf = json!({"field": "email", "op": "starts_with", "value": "AB", "case_insensitive": true});
    table(leaf, &[(s("abc@x.io"), true), (s("xab"), false), (l(&["ab"]), false)]);
    table(
        json!({"field": "email", "op": "contains", "value": "@example.com"}),
        &[(s("jo@example.com"), true)],
    );
    table(
        json!({"field": "phone", "op": "starts_with", "value": "+49"}),
        &[(s("+4930123"), true), (s("030"), false)],
    );
}

#[test]
fn contains_follows_the_stored_type() {
    // On a text field holding a list (schema drift) contains is membership, as in DynamoDB.
    table(
        json!({"field": "name", "op": "contains", "value": "bc"}),
        &[(l(&["abcd"]), false), (l(&["bc"]), true)],
    );
}

#[test]
fn emptiness() {
    let rows = [
        (MISSING, true),
        (NULL, true),
        (s(""), true),
        (l(&[]), true),
        (s(" "), false),
        (l(&[""]), false),
        (n("0"), false),
        (b(false), false),
    ];
    for field in ["name", "tags", "amount"] {
        table(json!({"field": field, "op": "is_empty"}), &rows);
        let negated: Vec<_> = rows.iter().map(|(value, held)| (value.clone(), !held)).collect();
        table(json!({"field": field, "op": "is_not_empty"}), &negated);
    }
    table(
        json!({"field": "close_date", "op": "is_empty"}),
        &[(d("2024-01-01T00:00:00Z"), false), (MISSING, true)],
    );
}

#[test]
fn number_comparisons_are_exact_decimals() {
    let rows = [(n("1.5"), true), (n("1.50"), true), (n("15e-1"), true), (s("1.5"), false), (MISSING, false)];
    table(json!({"field": "amount", "op": "eq", "value": 1.5}), &rows);
    table(
        json!({"field": "amount", "op": "ne", "value": 1.5}),
        &[(s("1.5"), true), (n("1.5"), false), (NULL, true)],
    );
    let rows = [
        (n("9.99"), true),
        (n("10"), false),
        (n("-1"), true),
        (n("1e20"), false),
        (s("1"), false),
        (NULL, false),
    ];
    table(json!({"field": "amount", "op": "lt", "value": 10}), &rows);
    table(
        json!({"field": "amount", "op": "lte", "value": 10}),
        &[(n("10.0"), true), (n("10.0000001"), false)],
    );
    table(
        json!({"field": "amount", "op": "gt", "value": 50000}),
        &[(n("50000.01"), true), (n("50000"), false)],
    );
    table(
        json!({"field": "probability", "op": "gte", "value": 80}),
        &[(n("80"), true), (n("79.999"), false)],
    );
    let rows =
        [(n("1"), true), (n("10"), true), (n("5.5"), true), (n("10.0001"), false), (n("0.999"), false)];
    table(json!({"field": "amount", "op": "between", "value": [1, 10]}), &rows);
    let rows = [(n("2.50"), true), (n("1"), true), (n("3"), false), (s("1"), false), (MISSING, false)];
    table(json!({"field": "amount", "op": "in", "value": [1, 2.5]}), &rows);
    let negated: Vec<_> = rows.iter().map(|(value, held)| (value.clone(), !held)).collect();
    table(json!({"field": "amount", "op": "not_in", "value": [1, 2.5]}), &negated);
}

#[test]
fn large_numbers_keep_all_digits() {
    // 2^53 + 1 is not representable as f64; a float comparison would call these equal.
    let leaf = json!({"field": "amount", "op": "gt", "value": 9007199254740992_u64});
    table(leaf, &[(n("9007199254740993"), true), (n("9007199254740992"), false)]);
    let big = "12345678901234567890123456789012345678";
    table(json!({"field": "amount", "op": "lt", "value": 1e38}), &[(n(big), true), (n("1e38"), false)]);
}

#[test]
fn bool_fields() {
    let rows = [(b(true), true), (b(false), false), (s("true"), false), (n("1"), false), (MISSING, false)];
    table(json!({"field": "active", "op": "eq", "value": true}), &rows);
    let negated: Vec<_> = rows.iter().map(|(value, held)| (value.clone(), !held)).collect();
    table(json!({"field": "active", "op": "ne", "value": true}), &negated);
}

#[test]
fn date_fields_with_relative_days() {
    // now = 2024-01-11T12:00Z; on a date field now-3d is the day 2024-01-08.
    let rows = [(d("2024-01-09T00:00:00Z"), true), (d("2024-01-08T00:00:00Z"), false), (MISSING, false)];
    table(json!({"field": "close_date", "op": "gt", "value": "now-3d"}), &rows);
    let rows = [(d("2024-01-08T00:00:00Z"), true), (d("2024-01-07T00:00:00Z"), false)];
    table(json!({"field": "close_date", "op": "gte", "value": "now-3d"}), &rows);
    let rows = [(d("2024-01-11T00:00:00Z"), true), (d("2024-01-10T00:00:00Z"), false)];
    table(json!({"field": "close_date", "op": "eq", "value": "now"}), &rows);
    let rows =
        [(d("2024-01-10T00:00:00Z"), true), (d("2024-01-11T00:00:00Z"), false), (s("2024-01-01"), false)];
    table(json!({"field": "close_date", "op": "lt", "value": "now"}), &rows);
    table(
        json!({"field": "close_date", "op": "lte", "value": "2024-01-05"}),
        &[(d("2024-01-05T00:00:00Z"), true)],
    );
    let rows = [
        (d("2024-01-04T00:00:00Z"), true),
        (d("2024-01-11T00:00:00Z"), true),
        (d("2024-01-03T00:00:00Z"), false),
    ];
    table(json!({"field": "close_date", "op": "between", "value": ["now-1w", "now"]}), &rows);
    table(
        json!({"field": "close_date", "op": "ne", "value": "2024-01-05"}),
        &[(MISSING, true), (d("2024-01-05T00:00:00Z"), false)],
    );
}

#[test]
fn date_time_fields() {
    // now-2h = 10:00Z.
    let rows = [(d("2024-01-11T09:59:59Z"), true), (d("2024-01-11T10:00:00Z"), false), (MISSING, false)];
    table(json!({"field": "created_at", "op": "lt", "value": "now-2h"}), &rows);
    table(
        json!({"field": "created_at", "op": "lte", "value": "now-2h"}),
        &[(d("2024-01-11T10:00:00Z"), true)],
    );
    table(
        json!({"field": "created_at", "op": "gte", "value": "now-90m"}),
        &[(d("2024-01-11T10:30:00Z"), true)],
    );
    // Offsets are normalised to UTC; a plain date means midnight UTC.
    let rows = [(d("2024-01-11T08:00:00Z"), true), (d("2024-01-11T10:00:00Z"), false)];
    table(json!({"field": "created_at", "op": "eq", "value": "2024-01-11T10:00:00+02:00"}), &rows);
    table(
        json!({"field": "created_at", "op": "gt", "value": "2024-01-11"}),
        &[(d("2024-01-11T00:00:01Z"), true)],
    );
    let rows = [
        (d("2024-01-05T00:00:00Z"), true),
        (d("2024-01-06T00:00:00Z"), true),
        (d("2024-01-06T00:00:01Z"), false),
    ];
    table(
        json!({"field": "created_at", "op": "between", "value": ["2024-01-05", "2024-01-06T00:00:00Z"]}),
        &rows,
    );
    table(
        json!({"field": "created_at", "op": "gt", "value": "now-1w"}),
        &[(s("2099-01-01T00:00:00Z"), false)],
    );
}

#[test]
fn select_and_lookup_fields() {
    let rows = [(s("Approved"), true), (s("approved"), false), (MISSING, false)];
    table(json!({"field": "stage", "op": "eq", "value": "Approved"}), &rows);
    let leaf = json!({"field": "stage", "op": "eq", "value": "approved", "case_insensitive": true});
    table(leaf, &[(s("Approved"), true), (s("APPROVED"), true)]);
    table(
        json!({"field": "stage", "op": "ne", "value": "Negotiation"}),
        &[(s("Draft"), true), (s("Negotiation"), false)],
    );
    table(
        json!({"field": "stage", "op": "in", "value": ["Draft", "Closed"]}),
        &[(s("Closed"), true), (s("Approved"), false)],
    );
    table(json!({"field": "contact_id", "op": "eq", "value": "c-1"}), &[(s("c-1"), true), (s("C-1"), false)]);
    table(
        json!({"field": "contact_id", "op": "not_in", "value": ["c-1"]}),
        &[(s("c-2"), true), (MISSING, true)],
    );
}

#[test]
fn list_fields() {
    let rows = [
        (l(&["a", "vip"]), true),
        (l(&["VIP"]), false),
        (l(&[]), false),
        (MISSING, false),
        (s("xvipx"), true),
    ];
    table(json!({"field": "tags", "op": "contains", "value": "vip"}), &rows);
    let leaf = json!({"field": "tags", "op": "contains", "value": "VIP", "case_insensitive": true});
    table(leaf, &[(l(&["vip"]), true), (l(&["vips"]), false)]);
    // `in` on a list field: any element in the set; `not_in` is its negation.
    let rows =
        [(l(&["c", "a"]), true), (l(&["c"]), false), (l(&[]), false), (MISSING, false), (s("a"), false)];
    table(json!({"field": "tags", "op": "in", "value": ["a", "b"]}), &rows);
    let negated: Vec<_> = rows.iter().map(|(value, held)| (value.clone(), !held)).collect();
    table(json!({"field": "tags", "op": "not_in", "value": ["a", "b"]}), &negated);
    let leaf = json!({"field": "tags", "op": "in", "value": ["A"], "case_insensitive": true});
    table(leaf, &[(l(&["x", "a"]), true)]);
    // eq compares the whole list, in order.
    let rows = [(l(&["a", "b"]), true), (l(&["b", "a"]), false), (l(&["a"]), false), (s("a"), false)];
    table(json!({"field": "tags", "op": "eq", "value": ["a", "b"]}), &rows);
    table(
        json!({"field": "tags", "op": "ne", "value": []}),
        &[(l(&[]), false), (l(&["a"]), true), (MISSING, true)],
    );
}

#[test]
fn changed_and_changed_to() {
    let leaf = json!({"field": "stage", "op": "changed"});
    let check = |old: Option<&str>, new: Option<&str>| {
        let old_record = record(&old.map(|v| ("stage", Value::from(v))).into_iter().collect::<Vec<_>>());
        let new_record = record(&new.map(|v| ("stage", Value::from(v))).into_iter().collect::<Vec<_>>());
        holds(leaf.clone(), &new_record, Some(&old_record), None)
    };
    assert!(check(Some("Draft"), Some("Approved")));
    assert!(!check(Some("Draft"), Some("Draft")));
    assert!(check(None, Some("Draft")));
    assert!(check(Some("Draft"), None));
    assert!(!check(None, None));

    let to = json!({"field": "stage", "op": "changed_to", "value": "Closed"});
    let old = record(&[("stage", Value::from("Draft"))]);
    let closed = record(&[("stage", Value::from("Closed"))]);
    assert!(holds(to.clone(), &closed, Some(&old), None));
    assert!(!holds(to.clone(), &closed, Some(&closed), None), "no change");
    assert!(!holds(to.clone(), &old, Some(&closed), None), "changed to something else");
    // A created record has no old image: every old value reads as null.
    assert!(holds(to, &closed, None, None));
    // Numbers compare by value: 1.50 -> 1.5 is no change.
    let amount = json!({"field": "amount", "op": "changed"});
    let one_fifty = record(&[("amount", n("1.50").expect("n"))]);
    let one_five = record(&[("amount", n("1.5").expect("n"))]);
    assert!(!holds(amount, &one_five, Some(&one_fifty), None));
    let cleared = json!({"field": "stage", "op": "changed_to", "value": null});
    assert!(holds(cleared, &record(&[]), Some(&old), None));
}

#[test]
fn field_refs() {
    let leaf = json!({"field": "region", "op": "eq", "field_ref": "$user.billing_country"});
    let de = record(&[("region", Value::from("DE"))]);
    let user_de = record(&[("billing_country", Value::from("DE"))]);
    let user_at = record(&[("billing_country", Value::from("AT"))]);
    assert!(holds(leaf.clone(), &de, None, Some(&user_de)));
    assert!(!holds(leaf.clone(), &de, None, Some(&user_at)));
    assert!(!holds(leaf.clone(), &de, None, None), "no user: the reference reads null");
    // Two missing values are not a match (an empty billing country exposes nothing).
    assert!(!holds(leaf.clone(), &record(&[]), None, Some(&record(&[]))));
    let ne = json!({"field": "region", "op": "ne", "field_ref": "$user.billing_country"});
    assert!(holds(ne.clone(), &de, None, Some(&user_at)));
    assert!(holds(ne, &record(&[]), None, Some(&record(&[]))), "ne is the negation of eq");
    let ci = json!({"field": "region", "op": "eq", "field_ref": "$user.billing_country", "case_insensitive": true});
    assert!(holds(ci, &record(&[("region", Value::from("de"))]), None, Some(&user_de)));

    let rises = json!({"field": "amount", "op": "gt", "field_ref": "$old.amount"});
    let new = record(&[("amount", Value::from(20))]);
    let old = record(&[("amount", Value::from(10))]);
    assert!(holds(rises.clone(), &new, Some(&old), None));
    assert!(!holds(rises.clone(), &old, Some(&new), None));
    assert!(!holds(rises, &new, None, None), "no old image");

    let same_record = json!({"field": "probability", "op": "lte", "field_ref": "amount"});
    let rec = record(&[("probability", Value::from(5)), ("amount", Value::from(7))]);
    assert!(holds(same_record, &rec, None, None));

    let within = json!({"field": "region", "op": "in", "field_ref": "$user.regions"});
    let regions = record(&[("regions", Value::from(vec!["AT", "DE"]))]);
    assert!(holds(within.clone(), &de, None, Some(&regions)));
    assert!(!holds(within, &record(&[("region", Value::from("FR"))]), None, Some(&regions)));
    let overlap = json!({"field": "tags", "op": "not_in", "field_ref": "$user.regions"});
    assert!(!holds(
        overlap.clone(),
        &record(&[("tags", Value::from(vec!["x", "DE"]))]),
        None,
        Some(&regions)
    ));
    assert!(holds(overlap, &record(&[("tags", Value::from(vec!["x"]))]), None, Some(&regions)));

    let text = json!({"field": "name", "op": "contains", "field_ref": "$user.billing_country", "case_insensitive": true});
    assert!(holds(text.clone(), &record(&[("name", Value::from("Shop de Paris"))]), None, Some(&user_de)));
    let starts = json!({"field": "name", "op": "starts_with", "field_ref": "$user.billing_country"});
    assert!(holds(starts.clone(), &record(&[("name", Value::from("DE-1"))]), None, Some(&user_de)));
    assert!(!holds(starts, &record(&[("name", Value::from("de-1"))]), None, Some(&user_de)));
    let tags = json!({"field": "tags", "op": "contains", "field_ref": "$user.billing_country"});
    assert!(holds(tags, &record(&[("tags", Value::from(vec!["DE"]))]), None, Some(&user_de)));
}

#[test]
fn groups() {
    let rec = record(&[("amount", Value::from(60000)), ("probability", Value::from(85))]);
    let big_deal = json!({"all": [
        {"field": "amount", "op": "gt", "value": 50000},
        {"field": "probability", "op": "gte", "value": 80}
    ]});
    assert!(holds(big_deal.clone(), &rec, None, None));
    assert!(!holds(json!({"not": big_deal}), &rec, None, None));
    let either = json!({"any": [
        {"field": "amount", "op": "lt", "value": 0},
        {"field": "probability", "op": "eq", "value": 85}
    ]});
    assert!(holds(either, &rec, None, None));
    let neither = json!({"any": [{"field": "amount", "op": "lt", "value": 0}]});
    assert!(!holds(neither, &rec, None, None));
}

#[test]
fn every_record_type_evaluates_alike() {
    use std::collections::{BTreeMap, HashMap};

    use crate::criteria::{CompiledCriteria, EvalContext, FieldMap, Record};

    let criteria = super::compiled(json!({"all": [
        {"field": "stage", "op": "eq", "value": "Approved"},
        {"field": "amount", "op": "gt", "value": 10}
    ]}));
    let entries = [("stage".to_owned(), Value::from("Approved")), ("amount".to_owned(), Value::from(11))];
    let btree: BTreeMap<String, Value> = entries.iter().cloned().collect();
    let std_map: HashMap<String, Value> = entries.iter().cloned().collect();
    let fast: FieldMap = entries.iter().cloned().collect();
    for record in [&btree as &dyn Record, &std_map, &fast, &&fast] {
        assert!(criteria.evaluate(&EvalContext::new(record, super::now())));
    }
    // Compiled criteria can be cached and shared between threads.
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<CompiledCriteria>();
}
