//! Contact import: templates, per-row outcomes, nothing half-written, CSV, match_on.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::contact_fields::{Setup, setup};
use crate::support::{TestApp, spawn_app};

async fn contacts(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/records/contacts?limit=100", Some(token)).await.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn mapping() -> Value {
    json!({"first_name": "{{First}}", "last_name": "{{Last}}", "email": "{{Mail}}", "Loyalty ID": "{{Card}}", "lifecycle": "Lead"})
}

#[tokio::test]
async fn rows_succeed_or_fail_on_their_own() {
    let app = spawn_app().await;
    let Setup { admin, project, .. } = setup(&app).await;
    let rows = json!([
        {"First": "Ann", "Last": "Lee", "Mail": "ann@example.com", "Card": "C-1"},
        {"First": "Bob", "Last": "Roe", "Mail": "not-an-address", "Card": "C-2"},
        {"First": "Cid", "Last": "Doe", "Mail": "cid@example.com", "Card": "C-1"},
        {"First": "Dan", "Last": "", "Mail": "", "Card": "C-4"}
    ]);
    let report = app
        .post(
            "/imports/contacts",
            json!({"project_id": project, "mapping": mapping(), "rows": rows}),
            Some(&admin),
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{:?}", report.body);
    assert_eq!((report.body["created"].as_u64(), report.body["updated"].as_u64()), (Some(2), Some(0)));
    let failed = report.body["failed"].as_array().expect("failed").clone();
    assert_eq!(failed.len(), 2);
    // Rows are written concurrently, but a repeated unique value is caught before: the later row loses.
    assert_eq!(
        (failed[0]["row"].as_u64(), failed[0]["errors"][0]["field"].as_str()),
        (Some(2), Some("fields.email"))
    );
    assert_eq!(
        (failed[1]["row"].as_u64(), failed[1]["errors"][0]["field"].as_str()),
        (Some(3), Some("fields.Loyalty ID"))
    );
    assert!(!failed.iter().any(|f| f.to_string().contains("C-1")), "values are not echoed");

    let stored = contacts(&app, &admin).await;
    let names: Vec<&str> = stored.iter().filter_map(|c| c["fields"]["first_name"].as_str()).collect();
    assert_eq!(stored.len(), 2);
    assert!(!names.contains(&"Bob"), "a failed row writes nothing");
    let dan = stored.iter().find(|c| c["fields"]["first_name"] == "Dan").expect("Dan");
    assert_eq!(
        (dan["fields"]["lifecycle"].as_str(), dan["fields"].get("email")),
        (Some("Lead"), None),
        "constants apply, empty cells stay empty"
    );
}

#[tokio::test]
async fn an_unsound_mapping_writes_nothing() {
    let app = spawn_app().await;
    let Setup { admin, project, agent } = setup(&app).await;
    let rows = json!([{"First": "Ann"}]);
    for (mapping, field) in [
        (json!({"first_name": "{{Frist}}"}), "mapping.first_name"),
        (json!({"first_name": "{{first}}"}), "mapping.first_name"),
        (json!({"Ticket": "{{First}}"}), "mapping.Ticket"),
        (json!({"first_name": "{{First"}), "mapping.first_name"),
    ] {
        let response = app
            .post(
                "/imports/contacts",
                json!({"project_id": project, "mapping": mapping, "rows": rows}),
                Some(&admin),
            )
            .await;
        assert_eq!(
            (response.status, response.body["errors"][0]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{mapping}"
        );
    }
    let bad_match = app.post("/imports/contacts", json!({"project_id": project, "mapping": {"first_name": "{{First}}"}, "rows": rows, "match_on": "first_name"}), Some(&admin)).await;
    assert_eq!(bad_match.body["errors"][0]["field"], "match_on");
    let foreign = app
        .post(
            "/imports/contacts",
            json!({"project_id": ulid::Ulid::generate().to_string(), "mapping": {}, "rows": rows}),
            Some(&agent),
        )
        .await;
    assert_eq!(foreign.body["errors"][0]["field"], "project_id");
    assert!(contacts(&app, &admin).await.is_empty());
}

#[tokio::test]
async fn a_csv_import_with_match_on_updates_existing_contacts() {
    let app = spawn_app().await;
    let Setup { admin, project, .. } = setup(&app).await;
    let first = "First,Last,Mail,Card\nAnn,Lee,ann@example.com,C-1\nDan,Poe,,C-4\n";
    let url = |mapping: &Value| {
        let mut url = reqwest::Url::parse(&format!("{}/imports/contacts", app.base)).expect("url");
        url.query_pairs_mut()
            .append_pair("project_id", &project)
            .append_pair("mapping", &mapping.to_string())
            .append_pair("match_on", "Loyalty ID");
        url
    };
    let post = |body: &'static str| {
        app.http
            .post(url(&mapping()))
            .bearer_auth(&admin)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let report: Value = post(first).await.expect("sent").json().await.expect("json");
    assert_eq!((report["created"].as_u64(), report["updated"].as_u64()), (Some(2), Some(0)), "{report}");

    let second = "First,Last,Mail,Card\nDaniel,Poe,dan@example.com,C-4\nEve,Ray,eve@example.com,C-5\n";
    let report: Value = post(second).await.expect("sent").json().await.expect("json");
    assert_eq!((report["created"].as_u64(), report["updated"].as_u64()), (Some(1), Some(1)), "{report}");
    let stored = contacts(&app, &admin).await;
    assert_eq!(stored.len(), 3);
    let dan = stored.iter().find(|c| c["fields"]["Loyalty ID"] == "C-4").expect("C-4");
    assert_eq!(
        (dan["fields"]["first_name"].as_str(), dan["fields"]["email"].as_str()),
        (Some("Daniel"), Some("dan@example.com"))
    );

    let ragged = app
        .http
        .post(url(&mapping()))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body("First,Last\nAnn\n")
        .send()
        .await
        .expect("sent");
    assert_eq!(ragged.status(), StatusCode::BAD_REQUEST);
}

/// `make bench`: imports 10 000 contacts through the HTTP API into moto and prints rows per
/// second and DynamoDB requests per row. A measurement, not a test: ignored by `make test`.
#[tokio::test]
#[ignore = "benchmark: run with `make bench`"]
async fn import_benchmark() {
    // IMPORT_BENCH_ROWS picks another size (moto slows down as its table grows).
    let rows_wanted = std::env::var("IMPORT_BENCH_ROWS").ok().and_then(|rows| rows.parse().ok());
    let rows_count: usize = rows_wanted.unwrap_or(10_000);
    let app = spawn_app().await;
    let Setup { admin, project, .. } = setup(&app).await;
    let (counted, counter) = app.counting_requests().await;
    let rows: Vec<Value> = (0..rows_count)
        .map(|i| json!({"First": format!("First{i}"), "Last": "Import", "Mail": format!("row{i}@example.com"), "Card": format!("C-{i}")}))
        .collect();
    // IMPORT_BENCH_PLAIN leaves the unique field out: plain writes instead of transactions.
    let plain = std::env::var_os("IMPORT_BENCH_PLAIN").is_some();
    let mut chosen = mapping();
    if plain && let Some(fields) = chosen.as_object_mut() {
        fields.remove("Loyalty ID");
    }
    let body = json!({"project_id": project, "mapping": chosen, "rows": rows});
    counter.take();
    let started = std::time::Instant::now();
    let report = counted.post("/imports/contacts", body, Some(&admin)).await;
    let elapsed = started.elapsed();
    let requests = counter.take();
    assert_eq!(
        report.body["created"].as_u64(),
        Some(rows_count as u64),
        "{:?}",
        report.body["failed"].as_array().map(|f| f.first().cloned())
    );
    println!(
        "import of {rows_count} contacts ({}): {:.1} s, {:.0} rows/s, {requests} DynamoDB requests ({:.2} per row)",
        if plain { "no unique field" } else { "unique Loyalty ID" },
        elapsed.as_secs_f64(),
        rows_count as f64 / elapsed.as_secs_f64(),
        requests as f64 / rows_count as f64
    );
}

/// The README's walk-through, step by step: a project, a unique `Customer no` field, and
/// `tests/data/contacts.csv` imported with `tests/data/contacts-mapping.json`.
#[tokio::test]
async fn the_readme_import_walk_through_works() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let project = app.post("/admin/projects", json!({"name": "Call centre"}), Some(&admin)).await.body["id"]
        .as_str()
        .expect("project")
        .to_owned();
    let field =
        json!({"name": "Customer no", "field_type": {"type": "text"}, "projects": [project], "unique": true});
    assert_eq!(app.post("/admin/contact-fields", field, Some(&admin)).await.status, StatusCode::CREATED);
    let mapping = include_str!("../data/contacts-mapping.json").trim();
    let mut url = reqwest::Url::parse(&format!("{}/imports/contacts", app.base)).expect("url");
    url.query_pairs_mut()
        .append_pair("project_id", &project)
        .append_pair("mapping", mapping)
        .append_pair("match_on", "Customer no");
    let import = || {
        app.http
            .post(url.clone())
            .bearer_auth(&admin)
            .header("content-type", "text/csv")
            .body(include_str!("../data/contacts.csv"))
            .send()
    };
    let report: Value = import().await.expect("sent").json().await.expect("json");
    assert_eq!((report["created"].as_u64(), report["updated"].as_u64()), (Some(5), Some(0)), "{report}");
    let failed: Vec<(u64, &str)> = report["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|row| (row["row"].as_u64().expect("row"), row["errors"][0]["field"].as_str().expect("field")))
        .collect();
    assert_eq!(failed, [(5, "fields.email"), (6, "fields.mobile"), (7, "fields.Customer no")]);
    assert_eq!(report["failed"][2]["errors"][0]["message"], "repeats the value of row 3");

    let stored = contacts(&app, &admin).await;
    let sean = stored.iter().find(|c| c["fields"]["Customer no"] == "C-10004").expect("C-10004");
    assert_eq!(sean["fields"]["billing_city"], "Washington, D.C.", "a quoted cell keeps its comma");
    assert_eq!(sean["fields"]["lifecycle"], "Customer", "a constant");
    let ayse = stored.iter().find(|c| c["fields"]["Customer no"] == "C-10001").expect("C-10001");
    assert_eq!(
        (ayse["fields"]["first_name"].as_str(), ayse["fields"]["billing_city"].as_str()),
        (Some("Ayşe"), Some("İstanbul"))
    );

    // Importing the same file again updates by customer number instead of duplicating.
    let again: Value = import().await.expect("sent").json().await.expect("json");
    assert_eq!((again["created"].as_u64(), again["updated"].as_u64()), (Some(0), Some(5)), "{again}");
    assert_eq!(contacts(&app, &admin).await.len(), 5);
}
