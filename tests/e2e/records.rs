//! CRM records: CRUD with optimistic concurrency, typed validation, criteria filters, paging,
//! and the role matrix of the built-in roles.

use futures::future::join_all;
use portico::domain::{BuiltinRole, Scope};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{PASSWORD, TestApp, error_fields, spawn_app, urlencode};

async fn create(app: &TestApp, token: &str, module: &str, fields: serde_json::Value) -> serde_json::Value {
    let response = app.post(&format!("/records/{module}"), json!({"fields": fields}), Some(token)).await;
    assert_eq!(response.status, StatusCode::CREATED, "{module}: {:?}", response.body);
    response.body
}

async fn patch(
    app: &TestApp,
    token: &str,
    path: &str,
    if_match: Option<&str>,
    body: serde_json::Value,
) -> crate::support::Response {
    let mut request = app.http.patch(format!("{}{path}", app.base)).bearer_auth(token).json(&body);
    if let Some(version) = if_match {
        request = request.header("if-match", version);
    }
    let response = request.send().await.expect("sent");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    crate::support::Response { status, body, headers }
}

#[tokio::test]
async fn a_record_is_created_read_changed_with_its_version_and_deleted() {
    let app = spawn_app().await;
    let token = app.staff_token(BuiltinRole::SalesManager).await;
    let deal = create(&app, &token, "deals", json!({"name": "Big one", "amount": 52000, "probability": 80, "stage": "Negotiation", "close_date": "2026-12-15"})).await;
    assert_eq!(deal["version"], 1);
    assert_eq!(deal["fields"]["close_date"], "2026-12-15");
    let path = format!("/records/deals/{}", deal["id"].as_str().expect("id"));

    let read = app.get(&path, Some(&token)).await;
    assert_eq!((read.status, read.headers["etag"].to_str().ok()), (StatusCode::OK, Some("\"1\"")));
    assert_eq!(read.body["fields"]["amount"], 52000);

    let changed = patch(
        &app,
        &token,
        &path,
        Some("\"1\""),
        json!({"fields": {"stage": "Closed Won", "probability": null}}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(
        (changed.body["version"].as_u64(), changed.body["fields"]["stage"].as_str()),
        (Some(2), Some("Closed Won"))
    );
    assert!(changed.body["fields"].get("probability").is_none(), "null clears a field");

    let stale = patch(&app, &token, &path, Some("1"), json!({"fields": {"name": "Lost update"}})).await;
    assert_eq!(
        (stale.status, stale.body["code"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("version_mismatch"))
    );
    let no_version = patch(&app, &token, &path, None, json!({"fields": {"name": "Blind"}})).await;
    assert_eq!(
        (no_version.status, no_version.body["code"].as_str()),
        (StatusCode::PRECONDITION_REQUIRED, Some("version_required"))
    );
    let by_body =
        patch(&app, &token, &path, None, json!({"fields": {"name": "Renamed"}, "version": 2})).await;
    assert_eq!(by_body.body["version"], 3);
    assert_eq!(
        app.get(&path, Some(&token)).await.body["fields"]["name"],
        "Renamed",
        "refused writes changed nothing"
    );

    assert_eq!(app.request(Method::DELETE, &path, None, Some(&token)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path, Some(&token)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.request(Method::DELETE, &path, None, Some(&token)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_fields_are_refused_by_type_and_write_nothing() {
    let app = spawn_app().await;
    let token = app.staff_token(BuiltinRole::Administrator).await;
    let bad = app.post("/records/deals", json!({"fields": {"amount": "lots", "stage": "Won?", "colour": "red", "close_date": "15.12.2026"}}), Some(&token)).await;
    let fields: Vec<&str> = error_fields(&bad.body);
    assert_eq!(
        (bad.status, fields),
        (
            StatusCode::BAD_REQUEST,
            vec!["fields.amount", "fields.close_date", "fields.colour", "fields.stage"]
        )
    );
    let contact = app
        .post(
            "/records/contacts",
            json!({"fields": {"email": "not an address", "phone": "12"}}),
            Some(&token),
        )
        .await;
    assert_eq!(contact.body["errors"].as_array().map(Vec::len), Some(2));
    assert_eq!(app.get("/records/unicorns", Some(&token)).await.status, StatusCode::NOT_FOUND);
    let listed = app.get("/records/deals", Some(&token)).await;
    assert_eq!(listed.body["items"], json!([]));
}

#[tokio::test]
async fn lists_filter_by_criteria_and_page_with_signed_cursors() {
    let app = spawn_app().await;
    let token = app.staff_token(BuiltinRole::SalesManager).await;
    for amount in [10_000, 49_999, 50_001, 75_000, 120_000] {
        for stage in ["Negotiation", "Qualification"] {
            create(&app, &token, "deals", json!({"amount": amount, "stage": stage})).await;
        }
    }
    let criteria = json!({"all": [{"field": "amount", "op": "gt", "value": 50000}, {"field": "stage", "op": "eq", "value": "Negotiation"}]});
    let mut amounts = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = reqwest::Url::parse(&format!("{}/records/deals", app.base)).expect("url");
        url.query_pairs_mut().append_pair("where", &criteria.to_string()).append_pair("limit", "3");
        if let Some(cursor) = &cursor {
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        let page: serde_json::Value =
            app.http.get(url).bearer_auth(&token).send().await.expect("sent").json().await.expect("json");
        amounts.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|r| r["fields"]["amount"].as_i64().unwrap_or(0)),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    amounts.sort();
    assert_eq!(amounts, vec![50_001, 75_000, 120_000]);

    let unknown = app
        .get(
            &format!("/records/deals?where={}", urlencode(r#"{"field":"colour","op":"eq","value":"red"}"#)),
            Some(&token),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body["errors"][0]["field"].as_str().is_some_and(|f| f.starts_with("where")));
    let garbage = app.get(&format!("/records/deals?where={}", urlencode("{not json")), Some(&token)).await;
    assert_eq!(garbage.body["errors"][0]["field"], "where");
    let tampered = app.get("/records/deals?cursor=eyJQSyI6IngifQ.AAAA", Some(&token)).await;
    assert_eq!(tampered.body["code"], "invalid_cursor");
}

#[tokio::test]
async fn a_thousand_records_page_completely_in_order() {
    let app = spawn_app().await;
    let token = app.staff_token(BuiltinRole::Administrator).await;
    let module = portico::domain::modules::module("tasks").expect("tasks");
    let now = chrono::Utc::now();
    let records: Vec<_> = (0..1000)
        .map(|i| portico::domain::modules::CrmRecord {
            id: ulid::Ulid::generate(),
            module,
            owner_id: ulid::Ulid::generate(),
            version: 1,
            fields: [("subject".to_owned(), portico::criteria::Value::String(format!("task {i}")))].into(),
            created_at: now,
            updated_at: now,
            updated_by: portico::domain::modules::Actor::System,
            origin: portico::domain::modules::Origin::Import,
        })
        .collect();
    let store = &app.state.store;
    for chunk in records.chunks(100) {
        let writes = chunk.iter().map(|record| async move {
            store.commit(store.record_creation(record, &module.fields, &[]).expect("items")).await
        });
        for result in join_all(writes).await {
            result.expect("stored");
        }
    }
    let mut seen = Vec::new();
    let mut path = "/records/tasks?limit=100".to_owned();
    loop {
        let page = app.get(&path, Some(&token)).await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(
            page.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/records/tasks?limit=100&cursor={cursor}"),
            None => break,
        }
    }
    let mut expected: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected, "every record once, in id order");
}

/// What each built-in role may do on each module, over HTTP: 404 for records of a module the
/// role can't read (or, for roles limited to their own records, someone else's record), 403 for
/// its list and for writes or deletes it may not make; every write a role may make succeeds.
#[tokio::test]
async fn the_role_matrix_holds_for_every_built_in_role_module_and_verb() {
    let app = spawn_app().await;
    let admin = app.staff_token(BuiltinRole::Administrator).await;
    let mut targets = Vec::new();
    for module in portico::domain::modules::modules() {
        let record = create(&app, &admin, module.name, json!({})).await;
        targets.push((module.name, record["id"].as_str().expect("id").to_owned()));
    }
    for role in BuiltinRole::ALL {
        let token = app.staff_token(role).await;
        let grants = role.definition().modules;
        for (module, id) in &targets {
            let access = grants.get(*module).copied().unwrap_or_default();
            let record_path = format!("/records/{module}/{id}");
            // The administrator's record, at whatever version earlier roles left it.
            let version = app.get(&record_path, Some(&admin)).await.body["version"].to_string();
            let list = app.get(&format!("/records/{module}"), Some(&token)).await.status;
            let read = app.get(&record_path, Some(&token)).await.status;
            let write = patch(&app, &token, &record_path, Some(&version), json!({"fields": {}})).await.status;
            let created = app.post(&format!("/records/{module}"), json!({"fields": {}}), Some(&token)).await;
            let expect_list = if access.read.any() { StatusCode::OK } else { StatusCode::FORBIDDEN };
            // Someone else's record is out of reach of a role limited to its own.
            let expect_read = if access.read == Scope::All { StatusCode::OK } else { StatusCode::NOT_FOUND };
            let expect_write = match (access.read, access.write) {
                (Scope::None, _) => StatusCode::NOT_FOUND,
                (_, Scope::None) => StatusCode::FORBIDDEN,
                (_, Scope::Own) => StatusCode::NOT_FOUND,
                (_, Scope::All) => StatusCode::OK,
            };
            let expect_create = match (access.read, access.write) {
                (Scope::None, _) => StatusCode::NOT_FOUND,
                (_, Scope::None) => StatusCode::FORBIDDEN,
                _ => StatusCode::CREATED,
            };
            let context = format!("{} on {module}", role.id());
            assert_eq!(list, expect_list, "list: {context}");
            assert_eq!(read, expect_read, "read: {context}");
            assert_eq!(write, expect_write, "write: {context}");
            assert_eq!(created.status, expect_create, "create: {context}");
            if created.status == StatusCode::CREATED {
                // One's own new record: readable and changeable with any scope.
                let own = format!("/records/{module}/{}", created.body["id"].as_str().expect("id"));
                assert_eq!(app.get(&own, Some(&token)).await.status, StatusCode::OK, "own read: {context}");
                let changed = patch(&app, &token, &own, Some("1"), json!({"fields": {}})).await;
                assert_eq!(changed.status, StatusCode::OK, "own write: {context}");
                assert_eq!(changed.body["version"], 2, "own write: {context}");
            }
        }
    }
    // Deletes last, on fresh records.
    for role in BuiltinRole::ALL {
        let token = app.staff_token(role).await;
        let grants = role.definition().modules;
        for module in portico::domain::modules::modules() {
            let record = create(&app, &admin, module.name, json!({})).await;
            let path = format!("/records/{}/{}", module.name, record["id"].as_str().expect("id"));
            let access = grants.get(module.name).copied().unwrap_or_default();
            let expected = match (access.read, access.delete) {
                (Scope::None, _) => StatusCode::NOT_FOUND,
                (_, Scope::None) => StatusCode::FORBIDDEN,
                (_, Scope::Own) => StatusCode::NOT_FOUND,
                (_, Scope::All) => StatusCode::NO_CONTENT,
            };
            let status = app.request(Method::DELETE, &path, None, Some(&token)).await.status;
            assert_eq!(status, expected, "delete: {} on {}", role.id(), module.name);
        }
    }
}

#[tokio::test]
async fn customers_have_no_records_api() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    let token = app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(app.get("/records/deals", Some(&token)).await.status, StatusCode::FORBIDDEN);
}
