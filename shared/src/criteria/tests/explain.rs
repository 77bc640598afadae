//! Explanations for the portal preview.

use serde_json::json;

use super::{compiled, now, record};
use crate::criteria::{EvalContext, Explanation, Value, explain};

#[test]
fn explains_every_node_with_actual_and_expected_values() {
    let criteria = compiled(json!({"all": [
        {"field": "stage", "op": "eq", "value": "Approved"},
        {"any": [
            {"field": "region", "op": "eq", "field_ref": "$user.billing_country"},
            {"not": {"field": "created_at", "op": "gt", "value": "now-1d"}}
        ]}
    ]}));
    let rec = record(&[("stage", Value::from("Draft")), ("region", Value::from("DE"))]);
    let user = record(&[("billing_country", Value::from("DE"))]);
    let ctx = EvalContext::new(&rec, now()).with_user(&user);

    let explanation = explain(&criteria, &ctx);
    assert!(!explanation.held());
    assert_eq!(explanation.held(), criteria.evaluate(&ctx));
    let expected = json!({
        "node": "all",
        "held": false,
        "children": [
            {
                "node": "leaf", "held": false, "path": "all[0]", "field": "stage", "op": "eq",
                "value": "Approved", "actual": "Draft"
            },
            {
                "node": "any",
                "held": true,
                "children": [
                    {
                        "node": "leaf", "held": true, "path": "all[1].any[0]", "field": "region", "op": "eq",
                        "field_ref": "$user.billing_country", "expected": "DE", "actual": "DE"
                    },
                    {
                        "node": "not",
                        "held": true,
                        "child": {
                            "node": "leaf", "held": false, "path": "all[1].any[1].not", "field": "created_at",
                            "op": "gt", "value": "now-1d", "expected": "2024-01-10T12:00:00Z", "actual": null
                        }
                    }
                ]
            }
        ]
    });
    assert_eq!(serde_json::to_value(&explanation).expect("serialise"), expected);
}

#[test]
fn explains_trigger_leaves_with_the_old_value() {
    let criteria =
        compiled(json!({"field": "amount", "op": "changed_to", "value": 10, "case_insensitive": false}));
    let new = record(&[("amount", Value::from(10))]);
    let old = record(&[("amount", Value::from(7))]);
    let ctx = EvalContext::new(&new, now()).with_old(&old);
    let Explanation::Leaf(leaf) = criteria.explain(&ctx) else { panic!("a leaf") };
    assert!(leaf.held);
    assert_eq!(leaf.old, Some(Value::from(7)));
    assert_eq!(leaf.actual, Value::from(10));
    let json = serde_json::to_value(&*leaf).expect("serialise");
    assert_eq!(json["old"], json!(7));
    assert!(json.get("case_insensitive").is_none(), "false flags are omitted");
}

#[test]
fn explains_resolved_relative_bounds() {
    let criteria =
        compiled(json!({"field": "close_date", "op": "between", "value": ["now-1w", "2024-12-31"]}));
    let rec = record(&[]);
    let Explanation::Leaf(leaf) = criteria.explain(&EvalContext::new(&rec, now())) else { panic!("a leaf") };
    let json = serde_json::to_value(&*leaf).expect("serialise");
    assert_eq!(json["expected"], json!(["2024-01-04T00:00:00Z", "2024-12-31T00:00:00Z"]));
    assert_eq!(json["value"], json!(["now-1w", "2024-12-31"]));
}
