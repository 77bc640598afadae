//! The CPU work on every request or every sign-in, outside DynamoDB: verifying an access token,
//! argon2id at the configured cost (OWASP's minimum), and JSON for the largest request (an import
//! of 10 000 rows) and a full list page.
//!
//! Run: `cargo bench -p portico --bench hot_paths` (figures in BENCHMARKS.md).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use ulid::Ulid;

use portico::auth::password::Passwords;
use portico::auth::{Grants, Keys};
use portico::config::PasswordCost;
use portico::criteria::Value;
use portico::domain::modules::{Actor, CrmRecord, Origin, module};
use portico::domain::{AccountKind, ModuleAccess, Permission};
use portico::records::{Caller, View};

/// An administrator's token: every permission and every module, the largest claims there are.
fn jwt(c: &mut Criterion) {
    let keys = Keys::derive(&[7; 32], "https://portico.example", "portico");
    let grants = Grants {
        permissions: Permission::ALL.to_vec(),
        modules: portico::domain::modules::modules()
            .iter()
            .map(|m| (m.name.to_owned(), ModuleAccess::FULL))
            .collect(),
        projects: (0..5).map(|_| Ulid::generate()).collect(),
    };
    let (token, _) = keys
        .jwt
        .issue_access(Ulid::generate(), AccountKind::Staff, grants, Ulid::generate(), Utc::now())
        .expect("token");
    c.bench_function("jwt/verify_access (administrator token)", |b| {
        b.iter(|| black_box(keys.jwt.verify_access(black_box(&token)).expect("valid")))
    });
}

fn argon2(c: &mut Criterion) {
    let passwords = Passwords::new(PasswordCost::OWASP_MINIMUM);
    let stored = passwords.hash("correct horse battery staple").expect("hash");
    let mut group = c.benchmark_group("argon2id m=19456KiB t=2 p=1");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("hash", |b| b.iter(|| black_box(passwords.hash(black_box("a new password 123")))));
    group.bench_function("verify", |b| {
        b.iter(|| black_box(passwords.verify(black_box("correct horse battery staple"), Some(&stored))))
    });
    group.finish();
}

/// The shape of `POST /imports/contacts` (functions/records), read the same way: serde_json
/// through serde_path_to_error, unknown fields refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "only parsing is measured")]
struct ImportShaped {
    project_id: String,
    mapping: BTreeMap<String, String>,
    rows: Vec<Map<String, Json>>,
    match_on: Option<String>,
}

fn json_bodies(c: &mut Criterion) {
    let rows: Vec<Json> = (0..10_000)
        .map(|i| {
            json!({"First": format!("Ayşe {i}"), "Last": "Yılmaz", "Mail": format!("ayse.{i}@example.com"),
                   "Phone": "+905321234567", "City": "İstanbul", "Customer no": format!("C-{i:06}")})
        })
        .collect();
    let body = serde_json::to_vec(&json!({
        "project_id": Ulid::generate().to_string(),
        "mapping": {"first_name": "{{First}}", "last_name": "{{Last}}", "email": "{{Mail}}", "phone": "{{Phone}}",
                    "billing_city": "{{City}}", "Customer no": "{{Customer no}}"},
        "rows": rows,
    }))
    .expect("body");
    let mut group = c.benchmark_group("json");
    group.throughput(Throughput::Bytes(body.len() as u64)).sample_size(20);
    group.bench_function(format!("parse import of 10 000 rows ({} KiB)", body.len() / 1024), |b| {
        b.iter(|| black_box(portico::http::json::parse_json::<ImportShaped>(black_box(&body)).is_ok()))
    });
    group.finish();

    // A full page (100 records) of contacts as an administrator sees them.
    let caller = Caller::system(Origin::Api);
    let contacts = module("contacts").expect("contacts");
    let view = View::new(&caller, contacts, &[]);
    let now = Utc::now();
    let page: Vec<CrmRecord> = (0..100)
        .map(|i| CrmRecord {
            id: Ulid::generate(),
            module: contacts,
            owner_id: Ulid::generate(),
            version: 3,
            fields: [
                ("first_name", Value::String(format!("Ayşe {i}"))),
                ("last_name", Value::String("Yılmaz".into())),
                ("email", Value::String(format!("ayse.{i}@example.com"))),
                ("phone", Value::String("+905321234567".into())),
                ("billing_city", Value::String("İstanbul".into())),
                ("lifecycle", Value::String("Customer".into())),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
            created_at: now,
            updated_at: now,
            updated_by: Actor::System,
            origin: Origin::Api,
        })
        .collect();
    c.bench_function("json/render and serialize a page of 100 contacts", |b| {
        b.iter(|| {
            let views: Vec<_> = page.iter().map(|record| view.render(record)).collect();
            black_box(serde_json::to_vec(&views).expect("json"))
        })
    });
}

/// The stream consumer's CPU work on a batch of 100 changed deals against 50 workflow rules,
/// without I/O: decoding each stream image and judging every rule of the module (issue 16
/// item 9). Five rules fire on these records; the others' criteria fail.
fn workflow_batch(c: &mut Criterion) {
    use portico::domain::contact_fields::ModuleSchema;
    use portico::domain::workflow::{EventKind, RecordEvent, WorkflowRuleDefinition};
    use portico::store::records::{decode_record, record_item};
    let deals = module("deals").expect("deals");
    let schema = ModuleSchema::builtin(deals);
    let items: Vec<_> = (0..100)
        .map(|i| {
            let record = CrmRecord {
                id: Ulid::generate(),
                module: deals,
                owner_id: Ulid::generate(),
                version: 2,
                fields: BTreeMap::from([
                    ("name".to_owned(), Value::String(format!("Deal {i}"))),
                    ("amount".to_owned(), Value::Number((1000 * i).to_string().parse().expect("number"))),
                    ("probability".to_owned(), Value::Number((i % 100).to_string().parse().expect("number"))),
                    ("stage".to_owned(), Value::String("Negotiation".into())),
                ]),
                created_at: Utc::now(),
                updated_at: Utc::now(),
                updated_by: Actor::System,
                origin: Origin::Api,
            };
            record_item(&record, &schema).expect("item")
        })
        .collect();
    let rules: Vec<_> = (0..50)
        .map(|i| {
            let threshold = if i < 5 { 50_000 } else { 10_000_000 + i };
            let definition: WorkflowRuleDefinition = serde_json::from_value(json!({
                "name": format!("Rule {i}"), "module": "deals", "trigger": {"event": "created_or_edited"},
                "criteria": {"all": [{"field": "amount", "op": "gt", "value": threshold},
                                     {"field": "probability", "op": "gte", "value": 80},
                                     {"field": "stage", "op": "in", "value": ["Negotiation", "Qualification"]}]},
                "actions": [{"type": "field_update", "fields": {"probability": 100}}]
            }))
            .expect("rule");
            (Ulid::generate(), definition.validate(&[], portico::domain::workflow::ActionTargets::default()).expect("valid"))
        })
        .collect();
    let now = Utc::now();
    let mut group = c.benchmark_group("workflows");
    group.throughput(Throughput::Elements(100));
    group.bench_function("decode 100 stream images and judge 50 rules each", |b| {
        b.iter(|| {
            let mut fired = 0;
            for item in &items {
                let record = decode_record(item.clone(), &schema).expect("record");
                let event = RecordEvent {
                    kind: EventKind::Created,
                    new: Some(&record.fields),
                    old: None,
                    origin: &record.origin,
                    at: now,
                };
                fired += rules.iter().filter(|(id, rule)| rule.fires_quickly(*id, &event)).count();
            }
            black_box(fired)
        });
    });
    group.finish();
}

criterion_group!(benches, jwt, argon2, json_bodies, workflow_batch);
criterion_main!(benches);
