//! Evaluations per second of compiled criteria with 1, 10 and 100 leaves against a
//! 30-field record (goal: at least 5 million evaluations/s of a 10-leaf criteria on one
//! core). Every leaf holds, so `all` evaluates all of them: the worst case.
//!
//! Records are measured as `BTreeMap`, std `HashMap` (SipHash) and [`FieldMap`] (a
//! `HashMap` with foldhash): field lookup is most of the cost of a leaf.
//!
//! Run: `cargo bench -p portico --bench criteria`.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value as Json, json};

use portico::criteria::{
    CompiledCriteria, Criteria, EvalContext, FieldMap, FieldType, Fields, Number, Record, ValidationContext,
    Value, compile,
};

/// The evaluation instant.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_974_400, 0).unwrap_or_default()
}

/// A 30-field module: ten field "families" of three fields each (`text_0`, `text_1`, …).
fn schema() -> Fields {
    let families: [(&str, FieldType); 10] = [
        ("stage", FieldType::select(["Draft", "Approved", "Negotiation", "Closed"])),
        ("name", FieldType::Text),
        ("amount", FieldType::Number),
        ("score", FieldType::Number),
        ("country", FieldType::Text),
        ("email", FieldType::Email),
        ("code", FieldType::Phone),
        ("closed_on", FieldType::Date),
        ("tags", FieldType::List),
        ("active", FieldType::Bool),
    ];
    families
        .into_iter()
        .flat_map(|(family, field_type)| (0..3).map(move |at| (format!("{family}_{at}"), field_type.clone())))
        .collect()
}

/// A record with every field set so that every benchmarked leaf holds.
fn record() -> Vec<(String, Value)> {
    let number = |text: &str| Value::Number(text.parse::<Number>().unwrap_or(Number::ZERO));
    (0..3)
        .flat_map(|at| {
            [
                (format!("stage_{at}"), Value::from("Approved")),
                (format!("name_{at}"), Value::from("ACME Trading GmbH")),
                (format!("amount_{at}"), number("60000.50")),
                (format!("score_{at}"), number("85")),
                (format!("country_{at}"), Value::from("DE")),
                (format!("email_{at}"), Value::from("buyer@acme.example")),
                (format!("code_{at}"), Value::from("+49301234567")),
                (format!("closed_on_{at}"), Value::DateTime(now() - TimeDelta::days(3))),
                (format!("tags_{at}"), Value::from(vec!["b2b", "vip", "eu"])),
                (format!("active_{at}"), Value::Bool(true)),
            ]
        })
        .collect()
}

/// Ten leaves, one per field family, on copy `at` of the fields.
fn ten_leaves(at: usize) -> Vec<Json> {
    vec![
        json!({"field": format!("stage_{at}"), "op": "in", "value": ["Approved", "Closed"]}),
        json!({"field": format!("name_{at}"), "op": "contains", "value": "trading", "case_insensitive": true}),
        json!({"field": format!("amount_{at}"), "op": "gt", "value": 50000}),
        json!({"field": format!("score_{at}"), "op": "between", "value": [80, 100]}),
        json!({"field": format!("country_{at}"), "op": "eq", "value": "de", "case_insensitive": true}),
        json!({"field": format!("email_{at}"), "op": "ne", "value": "noreply@acme.example"}),
        json!({"field": format!("code_{at}"), "op": "starts_with", "value": "+49"}),
        json!({"field": format!("closed_on_{at}"), "op": "gte", "value": "now-30d"}),
        json!({"field": format!("tags_{at}"), "op": "contains", "value": "vip"}),
        json!({"field": format!("active_{at}"), "op": "eq", "value": true}),
    ]
}

fn compiled(leaves: Vec<Json>) -> CompiledCriteria {
    let criteria: Criteria =
        serde_json::from_value(json!({"all": leaves})).unwrap_or(Criteria::All(Vec::new()));
    compile(&criteria, &schema(), &ValidationContext::plain())
        .unwrap_or_else(|errors| panic!("invalid: {errors:?}"))
}

fn cases() -> Vec<(usize, CompiledCriteria)> {
    let one = vec![json!({"field": "amount_0", "op": "gt", "value": 50000})];
    let ten = ten_leaves(0);
    // 100 leaves: the ten families over the three copies, and more of the same.
    let hundred: Vec<Json> = (0..10).flat_map(|round| ten_leaves(round % 3)).collect();
    vec![(1, compiled(one)), (10, compiled(ten)), (100, compiled(hundred))]
}

fn bench_record<R: Record>(c: &mut Criterion, group_name: &str, record: &R) {
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(1));
    for (leaves, criteria) in cases() {
        let ctx = EvalContext::new(record, now());
        assert!(criteria.evaluate(&ctx), "every leaf must hold, so that all of them are evaluated");
        group.bench_with_input(BenchmarkId::new("leaves", leaves), &criteria, |b, criteria| {
            b.iter(|| black_box(criteria).evaluate(black_box(&ctx)));
        });
    }
    group.finish();
}

fn evaluation(c: &mut Criterion) {
    let btree: BTreeMap<String, Value> = record().into_iter().collect();
    let sip: HashMap<String, Value> = record().into_iter().collect();
    let fast: FieldMap = record().into_iter().collect();
    bench_record(c, "evaluate/btreemap_30_fields", &btree);
    bench_record(c, "evaluate/hashmap_sip_30_fields", &sip);
    bench_record(c, "evaluate/fieldmap_30_fields", &fast);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = evaluation
}
criterion_main!(benches);
