//! The records core's rules on every path an attacker would try: record-level scope (field
//! agents and their own work), assignment, masked unique fields closed on writes and matches,
//! unique guards that hold for any name and length, deletes racing changes, import limits, and
//! the round trips of each write.

use portico::domain::BuiltinRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ulid::Ulid;

use crate::contact_fields::{Setup, setup};
use crate::support::{TestApp, spawn_app, urlencode};

async fn create(app: &TestApp, token: &str, module: &str, body: Value) -> Value {
    let response = app.post(&format!("/records/{module}"), body, Some(token)).await;
    assert_eq!(response.status, StatusCode::CREATED, "{module}: {:?}", response.body);
    response.body
}

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> crate::support::Response {
    app.request(Method::PATCH, path, Some(body), Some(token)).await
}

fn ids(body: &Value) -> Vec<&str> {
    body["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_field_agent_reaches_only_their_own_deliveries_on_every_path() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let (ayse, ayse_id) = app.staff_member(BuiltinRole::FieldAgent).await;
    let (_, jan_id) = app.staff_member(BuiltinRole::FieldAgent).await;
    let delivery = |reference: &str, owner: &str| json!({"fields": {"reference": reference, "status": "Scheduled", "address": "Hauptstraße 1"}, "owner_id": owner});
    let hers = create(&app, &admin, "deliveries", delivery("D-1", &ayse_id)).await;
    let his = create(&app, &admin, "deliveries", delivery("D-2", &jan_id)).await;
    let (hers_path, his_path) = (
        format!("/records/deliveries/{}", hers["id"].as_str().expect("id")),
        format!("/records/deliveries/{}", his["id"].as_str().expect("id")),
    );

    // Read: another agent's delivery does not exist for her.
    assert_eq!(app.get(&hers_path, Some(&ayse)).await.status, StatusCode::OK);
    let read = app.get(&his_path, Some(&ayse)).await;
    assert_eq!((read.status, read.body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    // List: only hers, also when asking for all, by another order, or by a field his matches.
    let hers_id = hers["id"].as_str().expect("id");
    for path in [
        "/records/deliveries",
        "/records/deliveries?owner_id=me",
        "/records/deliveries?sort=-updated_at",
        "/records/deliveries?sort=scheduled_for",
        "/records/deliveries?reference=D-2",
    ] {
        let listed = app.get(path, Some(&ayse)).await;
        assert_eq!(listed.status, StatusCode::OK, "{path}: {:?}", listed.body);
        let expected: Vec<&str> = if path.ends_with("D-2") { vec![] } else { vec![hers_id] };
        assert_eq!(ids(&listed.body), expected, "{path}");
    }
    let theirs = app.get(&format!("/records/deliveries?owner_id={jan_id}"), Some(&ayse)).await;
    assert_eq!((theirs.status, theirs.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));

    // Export: the CSV has her row only.
    let csv = app
        .http
        .get(format!("{}/records/deliveries", app.base))
        .bearer_auth(&ayse)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("export");
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.expect("csv");
    assert!(text.contains("D-1") && !text.contains("D-2"), "{text}");

    // Change: 404, and nothing changed.
    let changed =
        patch(&app, &ayse, &his_path, json!({"fields": {"status": "Delivered"}, "version": 1})).await;
    assert_eq!(changed.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&his_path, Some(&admin)).await.body["fields"]["status"], "Scheduled");
    let own_change =
        patch(&app, &ayse, &hers_path, json!({"fields": {"status": "Out for delivery"}, "version": 1})).await;
    assert_eq!(own_change.status, StatusCode::OK, "{:?}", own_change.body);
    assert_eq!(
        (own_change.body["updated_by"].as_str(), own_change.body["origin"].as_str()),
        (Some(ayse_id.as_str()), Some("api"))
    );

    // Admins see both; an admin's list of Jan's still works (all-scope readers pick any owner).
    let all = app.get("/records/deliveries", Some(&admin)).await;
    assert_eq!(ids(&all.body).len(), 2);
    assert_eq!(
        ids(&app.get(&format!("/records/deliveries?owner_id={jan_id}"), Some(&admin)).await.body),
        [his["id"].as_str().expect("id")]
    );
}

#[tokio::test]
async fn assigning_records_needs_the_permission_and_an_active_staff_owner() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let (agent, agent_id) = app.staff_member(BuiltinRole::FieldAgent).await;
    let (_, other_agent) = app.staff_member(BuiltinRole::FieldAgent).await;
    let before = app.item_count().await;

    // A field agent can't give work to someone else, on create or change.
    let given = app
        .post("/records/tasks", json!({"fields": {"subject": "x"}, "owner_id": other_agent}), Some(&agent))
        .await;
    assert_eq!((given.status, given.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let own = create(&app, &agent, "tasks", json!({"fields": {"subject": "Mine"}})).await;
    assert_eq!(own["owner_id"], agent_id.as_str());
    let path = format!("/records/tasks/{}", own["id"].as_str().expect("id"));
    let moved = patch(&app, &agent, &path, json!({"owner_id": other_agent, "version": 1})).await;
    assert_eq!(moved.status, StatusCode::FORBIDDEN);
    assert_eq!(app.item_count().await, before + 1, "only her own task was written");

    // An owner must be an active staff member: not a random id, not a customer.
    let customer = app.active_customer(&admin, false).await;
    let customer_id = app.account_id(&customer).await;
    for owner in [Ulid::generate().to_string(), customer_id] {
        let refused =
            app.post("/records/tasks", json!({"fields": {}, "owner_id": owner}), Some(&admin)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{owner}");
        assert_eq!(refused.body["errors"][0]["field"], "owner_id");
    }
    let malformed =
        app.post("/records/tasks", json!({"fields": {}, "owner_id": "nobody"}), Some(&admin)).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    // Administrators (records.assign) hand work over; it then belongs to the new owner.
    let handed = patch(&app, &admin, &path, json!({"owner_id": other_agent, "version": 1})).await;
    assert_eq!(
        (handed.status, handed.body["owner_id"].as_str()),
        (StatusCode::OK, Some(other_agent.as_str()))
    );
    assert_eq!(app.get(&path, Some(&agent)).await.status, StatusCode::NOT_FOUND, "no longer hers");
    let listed =
        app.get(&format!("/records/tasks?owner_id={other_agent}&sort=-updated_at"), Some(&admin)).await;
    assert_eq!(ids(&listed.body), [own["id"].as_str().expect("id")], "the owner indexes follow");
}

/// A masked, unique field, and a sales manager of its project who may not see masked values.
async fn masked_unique(app: &TestApp) -> (Setup, String) {
    let setup = setup(app).await;
    let body = json!({"name": "Customer no", "field_type": {"type": "text"}, "projects": [setup.project], "unique": true, "masked": true});
    let created = app.post("/admin/contact-fields", body, Some(&setup.admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let holder = create(
        app,
        &setup.admin,
        "contacts",
        json!({"fields": {"last_name": "Yılmaz", "Customer no": "C-1001"}}),
    )
    .await;
    (setup, holder["id"].as_str().expect("id").to_owned())
}

#[tokio::test]
async fn a_hidden_unique_value_can_not_be_probed_by_writing_or_matching_it() {
    let app = spawn_app().await;
    let (Setup { admin, agent, project }, holder) = masked_unique(&app).await;
    let before = app.item_count().await;

    // The probe of the issue: a guessed value on create used to answer 409 value_taken.
    for guess in ["C-1001", "C-9999"] {
        let probe = app
            .post(
                "/records/contacts",
                json!({"fields": {"last_name": "X", "Customer no": guess}}),
                Some(&agent),
            )
            .await;
        assert_eq!(
            (probe.status, probe.body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("masked_field")),
            "{guess}"
        );
    }
    let mine = create(&app, &agent, "contacts", json!({"fields": {"last_name": "Novák"}})).await;
    let path = format!("/records/contacts/{}", mine["id"].as_str().expect("id"));
    let probe = patch(&app, &agent, &path, json!({"fields": {"Customer no": "C-1001"}, "version": 1})).await;
    assert_eq!(probe.body["code"], "masked_field");

    // Import: neither matching on it nor filling it.
    let rows = json!([{"No": "C-1001", "City": "Brno"}]);
    let matched = app.post("/imports/contacts", json!({"project_id": project, "mapping": {"Customer no": "{{No}}", "billing_city": "{{City}}"}, "rows": rows, "match_on": "Customer no"}), Some(&agent)).await;
    assert_eq!(
        (matched.status, matched.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("masked_field"))
    );
    let filled = app
        .post(
            "/imports/contacts",
            json!({"project_id": project, "mapping": {"Customer no": "{{No}}"}, "rows": rows}),
            Some(&agent),
        )
        .await;
    assert_eq!(filled.body["code"], "masked_field");
    assert_eq!(app.item_count().await, before + 1, "only the agent's own contact was written");
    let holder_path = format!("/records/contacts/{holder}");
    assert_eq!(app.get(&holder_path, Some(&admin)).await.body["fields"]["billing_city"], Value::Null);

    // Masked non-unique fields may still be written blind; reads list every masked field.
    let blind = patch(&app, &agent, &path, json!({"fields": {"Salary": 4200}, "version": 1})).await;
    assert_eq!(blind.status, StatusCode::OK, "{:?}", blind.body);
    assert_eq!(blind.body["masked"], json!(["Customer no", "Salary"]));
    assert_eq!(app.get(&path, Some(&admin)).await.body["fields"]["Salary"], 4200);
    let unset = app.get(&holder_path, Some(&agent)).await.body;
    assert_eq!(
        (unset["fields"]["Salary"].clone(), unset["masked"].clone()),
        (Value::Null, json!(["Customer no", "Salary"]))
    );
}

#[tokio::test]
async fn unique_guards_hold_for_any_field_name_and_value_length() {
    let app = spawn_app().await;
    let Setup { admin, project, .. } = setup(&app).await;
    // `a#b` = `c` and `a` = `b#c` spelled the same guard key before.
    for name in ["a#b", "a"] {
        let body = json!({"name": name, "field_type": {"type": "text"}, "projects": [project], "unique": true, "masked": false});
        assert_eq!(app.post("/admin/contact-fields", body, Some(&admin)).await.status, StatusCode::CREATED);
    }
    create(&app, &admin, "contacts", json!({"fields": {"a#b": "c"}})).await;
    create(&app, &admin, "contacts", json!({"fields": {"a": "b#c"}})).await;

    // A 2 000-character value (past DynamoDB's key limit as a raw key) round-trips and guards.
    let long: String = "ğ".repeat(1000) + &"x".repeat(1000);
    let stored = create(&app, &admin, "contacts", json!({"fields": {"a": long}})).await;
    assert_eq!(stored["fields"]["a"], long.as_str());
    let found = app.get(&format!("/records/contacts?a={}", urlencode(&long)), Some(&admin)).await;
    assert_eq!(ids(&found.body), [stored["id"].as_str().expect("id")]);
    let again = app.post("/records/contacts", json!({"fields": {"a": long}}), Some(&admin)).await;
    assert_eq!(again.body["code"], "value_taken");

    // Values are compared trimmed and in Unicode NFC: "é" composed and decomposed are one.
    create(&app, &admin, "contacts", json!({"fields": {"a": " caf\u{e9} "}})).await;
    let decomposed =
        app.post("/records/contacts", json!({"fields": {"a": "cafe\u{301}"}}), Some(&admin)).await;
    assert_eq!(decomposed.body["code"], "value_taken");
    let lookup = app.get(&format!("/records/contacts?a={}", urlencode("cafe\u{301}")), Some(&admin)).await;
    assert_eq!(lookup.body["items"][0]["fields"]["a"], "caf\u{e9}");
}

#[tokio::test]
async fn a_delete_racing_a_change_leaves_no_orphan_guard() {
    let app = spawn_app().await;
    let Setup { admin, .. } = setup(&app).await;
    for round in 0..8 {
        let contact = create(&app, &admin, "contacts", json!({"fields": {"last_name": "Race"}})).await;
        let path = format!("/records/contacts/{}", contact["id"].as_str().expect("id"));
        let value = format!("L-race-{round}");
        let (deleted, changed) = tokio::join!(
            app.request(Method::DELETE, &path, None, Some(&admin)),
            patch(&app, &admin, &path, json!({"fields": {"Loyalty ID": value}, "version": 1})),
        );
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "round {round}: {:?}", deleted.body);
        assert!(
            matches!(changed.status, StatusCode::OK | StatusCode::NOT_FOUND),
            "round {round}: {:?}",
            changed.body
        );
        // Whichever came first, the value is free again: no guard outlived its record.
        let reuse =
            app.post("/records/contacts", json!({"fields": {"Loyalty ID": value}}), Some(&admin)).await;
        assert_eq!(reuse.status, StatusCode::CREATED, "round {round}: {:?}", reuse.body);
    }
}

#[tokio::test]
async fn an_import_over_the_row_cap_is_refused_before_the_rest_is_read() {
    let app = spawn_app().await;
    let Setup { agent, project, .. } = setup(&app).await;
    let rows = vec![r#"{"Name":"x"}"#; portico_records_max_rows() + 1].join(",");
    // Malformed after the cap: parsing it all would answer malformed_json instead.
    let body = format!(
        r#"{{"project_id":"{project}","mapping":{{"last_name":"{{{{Name}}}}"}},"rows":[{rows},!!!]}}"#
    );
    let refused = app
        .http
        .post(format!("{}/imports/contacts", app.base))
        .bearer_auth(&agent)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("import");
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(problem["errors"][0]["field"], "rows", "{problem}");
    assert!(problem["errors"][0]["message"].as_str().is_some_and(|m| m.contains("10000")), "{problem}");

    let mut csv = String::from("Name\n");
    csv.push_str(&"x\n".repeat(portico_records_max_rows() + 1));
    csv.push_str("a,b,c\n");
    let path = format!(
        "/imports/contacts?project_id={project}&mapping={}",
        urlencode(r#"{"last_name":"{{Name}}"}"#)
    );
    let refused = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(&agent)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("import");
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(problem["errors"][0]["field"], "rows", "the cap, not the malformed line after it: {problem}");
    assert_eq!(app.get("/records/contacts", Some(&agent)).await.body["items"], json!([]));
}

fn portico_records_max_rows() -> usize {
    portico_records::MAX_IMPORT_ROWS
}

/// A feature's item that never holds: a check on an item that does not exist.
fn condition_on_missing_item(table: &str) -> aws_sdk_dynamodb::types::TransactWriteItem {
    use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};
    let check = ConditionCheck::builder()
        .table_name(table)
        .key("PK", AttributeValue::S(format!("SPENT#{}", Ulid::generate())))
        .key("SK", AttributeValue::S("SPENT".into()))
        .condition_expression("attribute_exists(PK)")
        .build()
        .expect("check");
    TransactWriteItem::builder().condition_check(check).build()
}

/// A feature's item that holds once: creating `key` if it is absent.
fn put_new(table: &str, key: &str) -> aws_sdk_dynamodb::types::TransactWriteItem {
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
    let put = Put::builder()
        .table_name(table)
        .item("PK", AttributeValue::S(key.to_owned()))
        .item("SK", AttributeValue::S("CHALLENGE".into()))
        .item("entity", AttributeValue::S("test_challenge".into()))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .expect("put");
    TransactWriteItem::builder().put(put).build()
}

#[tokio::test]
async fn record_writes_take_their_counted_round_trips() {
    let app = spawn_app().await;
    let Setup { admin, .. } = setup(&app).await;
    let (app, requests) = app.counting_requests().await;
    requests.take();
    // Every request starts with the session check (revocation). Tasks have no custom fields:
    // one request per write, and one for the OTP rules of every create and change (read fresh, so a rule guards at once; no rule here sets the field, so
    // no read of the record).
    let task = create(&app, &admin, "tasks", json!({"fields": {"subject": "Count"}})).await;
    assert_eq!(requests.take(), 3, "create a task");
    let path = format!("/records/tasks/{}", task["id"].as_str().expect("id"));
    assert_eq!(
        patch(&app, &admin, &path, json!({"fields": {"status": "Done"}, "version": 1})).await.status,
        StatusCode::OK
    );
    assert_eq!(requests.take(), 3, "change a task");
    assert_eq!(app.request(Method::DELETE, &path, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(requests.take(), 2, "delete a task");
    // Contacts read their field definitions; unique values move in one transaction.
    let contact = create(&app, &admin, "contacts", json!({"fields": {"Loyalty ID": "L-count"}})).await;
    assert_eq!(requests.take(), 4, "create a contact with a unique value");
    let path = format!("/records/contacts/{}", contact["id"].as_str().expect("id"));
    assert_eq!(
        patch(&app, &admin, &path, json!({"fields": {"Loyalty ID": "L-count-2"}, "version": 1})).await.status,
        StatusCode::OK
    );
    assert_eq!(requests.take(), 5, "change a unique value: fields, rules, record, transaction");
    assert_eq!(
        patch(&app, &admin, &path, json!({"fields": {"first_name": "Ann"}, "version": 2})).await.status,
        StatusCode::OK
    );
    assert_eq!(requests.take(), 4, "change a plain field of a contact");
    assert_eq!(app.request(Method::DELETE, &path, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(requests.take(), 4, "delete a contact: fields, record, transaction");
}

#[tokio::test]
async fn a_feature_s_own_item_joins_a_record_write_and_is_named_when_it_fails() {
    use portico::domain::modules::Origin;
    use portico::records::{Caller, RecordError, View};
    use portico::store::WriteSet;

    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let task = create(&app, &admin, "tasks", json!({"fields": {"subject": "Deliver"}})).await;
    let id = Ulid::from_string(task["id"].as_str().expect("id")).expect("ulid");
    let claims = app.state.keys.jwt.verify_access(&admin).expect("claims");
    let caller = Caller::staff(&claims, Origin::Otp(Ulid::generate()));
    let tasks = portico::domain::modules::module("tasks").expect("tasks");
    let view = View::new(&caller, tasks, &[]);
    let store = &app.state.store;
    let values = [("status".to_owned(), portico::criteria::Value::String("Done".into()))].into();

    // A foreign item whose condition fails (a "challenge" already spent: it does not exist).
    let spent = condition_on_missing_item(store.table());
    let failed = view.change(store, id, 1, &values, None, WriteSet::new().with("challenge", spent)).await;
    match failed {
        Err(RecordError::ItemsFailed(cancellation)) => assert_eq!(cancellation.failed, ["challenge"]),
        other => panic!("expected the challenge to be named: {other:?}"),
    }
    let unchanged = app.get(&format!("/records/tasks/{id}"), Some(&admin)).await.body;
    assert_eq!(
        (unchanged["version"].as_u64(), unchanged["fields"]["status"].clone()),
        (Some(1), Value::Null)
    );

    // The same write with an item that holds lands together with it.
    let key = format!("CHALLENGE#{}", Ulid::generate());
    let fresh = put_new(store.table(), &key);
    let changed = view
        .change(store, id, 1, &values, None, WriteSet::new().with("challenge", fresh))
        .await
        .expect("changed");
    assert_eq!((changed.version, changed.origin.to_string().starts_with("otp:")), (2, true));
    let stored = app.get(&format!("/records/tasks/{id}"), Some(&admin)).await.body;
    assert_eq!(
        (stored["fields"]["status"].as_str(), stored["origin"].as_str().map(|o| o.starts_with("otp:"))),
        (Some("Done"), Some(true))
    );
    let later = put_new(store.table(), &key);
    let twice = view.change(store, id, 2, &values, None, WriteSet::new().with("challenge", later)).await;
    assert!(matches!(twice, Err(RecordError::ItemsFailed(ref c)) if c.failed == ["challenge"]), "{twice:?}");
}

#[tokio::test]
async fn a_stream_image_decodes_into_the_record_the_api_shows() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let deal = create(
        &app,
        &admin,
        "deals",
        json!({"fields": {"name": "Big", "amount": 52000.5, "close_date": "2026-12-24"}}),
    )
    .await;
    let id = deal["id"].as_str().expect("id");
    // The item as DynamoDB Streams would carry it: DynamoDB JSON, through serde_dynamo.
    let item = app
        .dynamodb
        .get_item()
        .table_name(app.state.store.table())
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("RECORD#deals#{id}")))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("RECORD".into()))
        .send()
        .await
        .expect("read")
        .item
        .expect("item");
    assert_eq!(item["entity"].as_s().ok().map(String::as_str), Some("record"));
    let image: serde_dynamo::Item = item.into();
    let wire = serde_json::to_string(&image).expect("stream JSON");
    let from_stream: serde_dynamo::Item = serde_json::from_str(&wire).expect("stream image");
    let deals = portico::domain::modules::module("deals").expect("deals");
    let record = portico::store::records::decode_record(from_stream.into(), &deals.fields).expect("decoded");
    assert_eq!(record.id.to_string(), id);
    assert_eq!(record.updated_by.to_string(), deal["updated_by"].as_str().expect("updated_by"));
    assert_eq!(record.origin, portico::domain::modules::Origin::Api);
    assert_eq!(record.fields.len(), 3);
    let stamp = deal["created_at"].as_str().expect("created_at");
    assert_eq!(portico::time::parse(stamp), Some(record.created_at));
}

#[tokio::test]
async fn writing_never_reaches_further_than_reading() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    // Reads only one's own tasks, but "writes all": together, writes only one's own.
    let role = json!({"id": "own_reader_writer", "name": "Own reader, writer", "permissions": [], "modules": {"tasks": "r:own,w"}});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let email = crate::support::unique_email("mixed");
    let user = json!({"email": email, "name": "Mixed", "password": crate::support::PASSWORD, "roles": ["own_reader_writer"], "projects": []});
    assert_eq!(app.post("/admin/users", user, Some(&admin)).await.status, StatusCode::CREATED);
    let token = app.sign_in(&email, crate::support::PASSWORD).await.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();

    let others = create(&app, &admin, "tasks", json!({"fields": {"subject": "Not yours"}})).await;
    let path = format!("/records/tasks/{}", others["id"].as_str().expect("id"));
    // Neither the version (a 412 would tell it) nor the record is reachable.
    for version in [1, 7] {
        let changed =
            patch(&app, &token, &path, json!({"fields": {"subject": "Mine now"}, "version": version})).await;
        assert_eq!(changed.status, StatusCode::NOT_FOUND, "version {version}: {:?}", changed.body);
    }
    assert_eq!(app.get(&path, Some(&admin)).await.body["fields"]["subject"], "Not yours");
    let own = create(&app, &token, "tasks", json!({"fields": {"subject": "Mine"}})).await;
    let own_path = format!("/records/tasks/{}", own["id"].as_str().expect("id"));
    assert_eq!(
        patch(&app, &token, &own_path, json!({"fields": {"subject": "Still mine"}, "version": 1}))
            .await
            .status,
        StatusCode::OK
    );
    // Sending back the owner one read is no assignment.
    let same_owner = patch(&app, &token, &own_path, json!({"owner_id": own["owner_id"], "version": 2})).await;
    assert_eq!(same_owner.status, StatusCode::OK, "{:?}", same_owner.body);
}
