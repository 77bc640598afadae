//! Evaluation performs no heap allocation, checked with a per-thread counting allocator
//! (`allocation-counter` installs it for this test binary; other threads do not count).

use serde_json::json;

use super::{compiled, now, record};
use crate::criteria::{EvalContext, Value};

#[test]
fn evaluation_does_not_allocate() {
    let leaves = [
        json!({"field": "stage", "op": "eq", "value": "Approved"}),
        json!({"field": "stage", "op": "eq", "value": "approved", "case_insensitive": true}),
        json!({"field": "stage", "op": "in", "value": ["Draft", "Approved"]}),
        json!({"field": "name", "op": "ne", "value": "ACME", "case_insensitive": true}),
        json!({"field": "name", "op": "contains", "value": "Cm", "case_insensitive": true}),
        json!({"field": "name", "op": "contains", "value": "GmbH"}),
        json!({"field": "name", "op": "starts_with", "value": "AC", "case_insensitive": true}),
        json!({"field": "name", "op": "in", "value": ["x", "acme gmbh de"], "case_insensitive": true}),
        json!({"field": "name", "op": "between", "value": ["A", "Z"]}),
        json!({"field": "phone", "op": "eq", "value": null}),
        json!({"field": "amount", "op": "gt", "value": 50000}),
        json!({"field": "amount", "op": "between", "value": [1, 1e9]}),
        json!({"field": "amount", "op": "not_in", "value": [1, 2, 3]}),
        json!({"field": "amount", "op": "gt", "field_ref": "$old.amount"}),
        json!({"field": "probability", "op": "lte", "field_ref": "amount"}),
        json!({"field": "active", "op": "eq", "value": true}),
        json!({"field": "close_date", "op": "gte", "value": "now-30d"}),
        json!({"field": "created_at", "op": "lt", "value": "now+2h"}),
        json!({"field": "created_at", "op": "between", "value": ["2024-01-01", "now"]}),
        json!({"field": "tags", "op": "contains", "value": "VIP", "case_insensitive": true}),
        json!({"field": "tags", "op": "in", "value": ["a", "vip"]}),
        json!({"field": "tags", "op": "eq", "value": ["vip", "b2b"]}),
        json!({"field": "tags", "op": "is_not_empty"}),
        json!({"field": "region", "op": "eq", "field_ref": "$user.billing_country", "case_insensitive": true}),
        json!({"field": "region", "op": "in", "field_ref": "$user.regions"}),
        json!({"field": "name", "op": "contains", "field_ref": "$user.billing_country", "case_insensitive": true}),
        json!({"field": "stage", "op": "changed"}),
        json!({"field": "stage", "op": "changed_to", "value": "Approved"}),
        json!({"field": "email", "op": "is_empty"}),
    ];
    let criteria = [
        compiled(json!({"all": leaves})),
        compiled(json!({"any": leaves})),
        compiled(json!({"not": {"any": leaves}})),
    ];
    let rec = record(&[
        ("stage", Value::from("Approved")),
        ("name", Value::from("ACME GmbH DE")),
        ("amount", Value::from(60000)),
        ("probability", Value::from(80)),
        ("active", Value::from(true)),
        ("close_date", Value::DateTime(now())),
        ("created_at", Value::DateTime(now())),
        ("tags", Value::from(vec!["vip", "b2b"])),
        ("region", Value::from("de")),
    ]);
    let old = record(&[("stage", Value::from("Draft")), ("amount", Value::from(10))]);
    let user = record(&[("billing_country", Value::from("DE")), ("regions", Value::from(vec!["at", "de"]))]);
    let ctx = EvalContext::new(&rec, now()).with_old(&old).with_user(&user);

    // The counter is live in this binary (otherwise a zero below would prove nothing).
    let probe = allocation_counter::measure(|| drop(std::hint::black_box(String::from("x"))));
    assert_eq!(probe.count_total, 1);

    let mut outcomes = Vec::with_capacity(criteria.len());
    let info = allocation_counter::measure(|| {
        for criteria in &criteria {
            outcomes.push(criteria.evaluate(&ctx));
        }
    });
    assert_eq!(info.count_total, 0, "evaluation allocated {} times", info.count_total);
    // The measured code did real work: every leaf holds for this record.
    assert_eq!(outcomes, [true, true, false]);
}
