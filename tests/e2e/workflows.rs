//! Workflow rules over the table's stream (issue 16): seed 003's big deal alert end to end
//! through the API and the local poller; a field-update chain that stops; a batch delivered
//! twice; a poison record; rules validated on save and tried without running.

use std::time::Duration;

use portico::domain::BuiltinRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    Response, TestApp, create_workflow_rule, error_fields, eventually, spawn_app, spawn_app_with_workflows,
    unique_email,
};

/// Seed 003's example: a deal over 50 000 with a probability of at least 80 alerts the sales
/// managers and gives its owner a follow-up task.
fn big_deal_alert() -> Value {
    json!({
        "name": "Big deal alert", "module": "deals",
        "trigger": {"event": "created_or_edited"},
        "criteria": {"all": [{"field": "amount", "op": "gt", "value": 50000},
                             {"field": "probability", "op": "gte", "value": 80}]},
        "actions": [
            {"type": "email_alert", "to": {"roles": ["sales_manager"]},
             "subject": "Big deal: {{name}}", "body": "{{name}} is worth {{amount}} at {{probability}} %."},
            {"type": "create_task", "assignee": "owner", "subject": "Call about {{name}}", "due_in_days": 2}
        ]
    })
}

async fn create_deal(app: &TestApp, token: &str, fields: Value) -> String {
    let created = app.post("/records/deals", json!({"fields": fields}), Some(token)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

/// A new active sales manager's address.
async fn sales_manager(app: &TestApp) -> String {
    let email = unique_email("manager");
    let created = portico_local::create_staff(
        &app.state,
        &email,
        "Manager",
        crate::support::PASSWORD,
        &[BuiltinRole::SalesManager],
    );
    assert!(created.await.expect("staff"));
    email
}

async fn runs(app: &TestApp, admin: &str, rule: &str) -> Vec<Value> {
    let page = app.get(&format!("/admin/workflow-rules/{rule}/runs"), Some(admin)).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    page.body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_big_deal_alert_mails_every_sales_manager_and_gives_the_owner_a_task() {
    let (app, _) = spawn_app_with_workflows().await;
    let (admin, _) = app.admin_token().await;
    let rule = create_workflow_rule(&app, &admin, big_deal_alert()).await;
    let managers = [sales_manager(&app).await, sales_manager(&app).await];
    let small = create_deal(&app, &admin, json!({"name": "Small", "amount": 1000, "probability": 90})).await;
    let big =
        create_deal(&app, &admin, json!({"name": "Racks for Brno", "amount": 52000.5, "probability": 85}))
            .await;

    for email in &managers {
        let mail = eventually("the alert mail", async || {
            app.mails_to(email)
                .await
                .into_iter()
                .find(|mail| mail.subject.as_deref() == Some("Big deal: Racks for Brno"))
        })
        .await;
        assert!(mail.body.contains("Racks for Brno is worth 52000.5 at 85 %."), "{}", mail.body);
        assert!(mail.body.contains(&big), "the reference names the record");
    }
    let tasks = eventually("the follow-up task", async || {
        let listed = app.get("/records/tasks", Some(&admin)).await;
        let items = listed.body["items"].as_array().cloned().unwrap_or_default();
        (!items.is_empty()).then_some(items)
    })
    .await;
    assert_eq!(tasks.len(), 1, "only the big deal fired: {tasks:?}");
    assert_eq!(tasks[0]["fields"]["subject"], "Call about Racks for Brno");
    assert_eq!(
        tasks[0]["origin"].as_str().map(|origin| origin.starts_with(&format!("workflow:{rule}"))),
        Some(true)
    );

    let history =
        eventually("the run", async || Some(runs(&app, &admin, &rule).await).filter(|runs| !runs.is_empty()))
            .await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["record_id"], big.as_str());
    let statuses: Vec<&str> =
        history[0]["actions"].as_array().into_iter().flatten().filter_map(|a| a["status"].as_str()).collect();
    assert_eq!(statuses, ["done", "done"]);
    assert!(!history.iter().any(|run| run["record_id"] == small.as_str()));
}

#[tokio::test]
async fn a_chain_of_field_updates_stops_and_a_rule_never_retriggers_itself() {
    let (app, _) = spawn_app_with_workflows().await;
    let (admin, _) = app.admin_token().await;
    let update = |name: &str, event: &str, fields: Vec<&str>, set: Value| {
        json!({"name": name, "module": "deals", "trigger": {"event": event, "fields": fields},
               "actions": [{"type": "field_update", "fields": set}]})
    };
    // A fires on creation; B on the stage A sets, C on the amount B sets, B again on C's stage:
    // only the depth limit ends it. D fires on every edit, its own included: it must not loop.
    create_workflow_rule(&app, &admin, update("A", "created", vec![], json!({"stage": "Qualification"})))
        .await;
    let b =
        create_workflow_rule(&app, &admin, update("B", "edited", vec!["stage"], json!({"amount": 1}))).await;
    create_workflow_rule(
        &app,
        &admin,
        update("C", "edited", vec!["amount"], json!({"stage": "Negotiation"})),
    )
    .await;
    let d = create_workflow_rule(
        &app,
        &admin,
        update("D", "edited", vec!["probability"], json!({"probability": 1})),
    )
    .await;
    let deal = create_deal(&app, &admin, json!({"name": "Loop", "amount": 5})).await;
    // A (depth 1) sets the stage, B (depth 2) the amount, C (depth 3) the stage again; B does
    // not answer C's change: the chain is 3 deep.
    let settled = eventually("the chain to end", async || {
        let record = app.get(&format!("/records/deals/{deal}"), Some(&admin)).await;
        (record.body["fields"]["stage"] == "Negotiation").then_some(record.body)
    })
    .await;
    assert_eq!(settled["fields"]["amount"], 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = app.get(&format!("/records/deals/{deal}"), Some(&admin)).await;
    assert_eq!(later.body["version"], settled["version"], "nothing more happened: {:?}", later.body);
    assert_eq!(later.body["version"], 4, "created, then A, B and C once each");
    assert_eq!(runs(&app, &admin, &b).await.len(), 1);
    // D on a change of its own field: it applies once and its own update fires nothing.
    let version = later.body["version"].clone();
    let patched = app
        .request(
            Method::PATCH,
            &format!("/records/deals/{deal}"),
            Some(json!({"version": version, "fields": {"probability": 40}})),
            Some(&admin),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    eventually("D's update", async || {
        let record = app.get(&format!("/records/deals/{deal}"), Some(&admin)).await;
        (record.body["fields"]["probability"] == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(app.get(&format!("/records/deals/{deal}"), Some(&admin)).await.body["version"], 6);
    assert_eq!(runs(&app, &admin, &d).await.len(), 1);
}

/// The INSERT stream record of the item at (`pk`, `sk`) as Lambda would deliver it.
async fn insert_record(app: &TestApp, (pk, sk): (String, &str), event_id: &str, sequence: &str) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue;
    let read = app.dynamodb.get_item().table_name(app.state.store.table()).key("PK", AttributeValue::S(pk));
    let item =
        read.key("SK", AttributeValue::S(sk.to_owned())).send().await.expect("read").item.expect("the item");
    let image = serde_json::to_value(serde_dynamo::Item::from(item)).expect("image");
    json!({"eventID": event_id, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
           "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
           "dynamodb": {"ApproximateCreationDateTime": 1_795_000_000.0, "Keys": {}, "NewImage": image,
                        "SequenceNumber": sequence, "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"}})
}

/// The stream record of `module` record `id` as Lambda would deliver it (built from the item).
pub(crate) async fn stream_record(
    app: &TestApp,
    module: &str,
    id: &str,
    event_id: &str,
    sequence: &str,
) -> Value {
    insert_record(app, (format!("RECORD#{module}#{id}"), "RECORD"), event_id, sequence).await
}

pub(crate) fn batch(records: Vec<Value>) -> aws_lambda_events::event::dynamodb::Event {
    serde_json::from_value(json!({"Records": records})).expect("event")
}

#[tokio::test]
async fn a_batch_delivered_twice_has_its_effects_once() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let manager = sales_manager(&app).await;
    let rule = create_workflow_rule(&app, &admin, big_deal_alert()).await;
    let deal = create_deal(&app, &admin, json!({"name": "Twice", "amount": 90000, "probability": 95})).await;
    let record = stream_record(&app, "deals", &deal, "event-1", "100").await;
    for _ in 0..2 {
        let response = portico_workflows::handle_batch(&app.state, batch(vec![record.clone()])).await;
        assert!(response.batch_item_failures.is_empty());
    }
    let mails: Vec<_> = app
        .mails_to(&manager)
        .await
        .into_iter()
        .filter(|mail| mail.subject.as_deref() == Some("Big deal: Twice"))
        .collect();
    assert_eq!(mails.len(), 1, "the mail's marker holds it back");
    let tasks = app.get("/records/tasks", Some(&admin)).await;
    assert_eq!(tasks.body["items"].as_array().map(Vec::len), Some(1), "the task's marker holds it back");
    assert_eq!(runs(&app, &admin, &rule).await.len(), 1);
}

#[tokio::test]
async fn a_poison_record_is_reported_alone_and_the_poller_moves_past_it() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    create_workflow_rule(&app, &admin, big_deal_alert()).await;
    let good = create_deal(&app, &admin, json!({"name": "Fine", "amount": 1})).await;
    let first = stream_record(&app, "deals", &good, "event-1", "100").await;
    let mut poison = first.clone();
    poison["eventID"] = json!("event-2");
    poison["dynamodb"]["SequenceNumber"] = json!("200");
    poison["dynamodb"]["NewImage"]["module"] = json!({"S": "unicorns"});
    let mut after = first.clone();
    after["eventID"] = json!("event-3");
    after["dynamodb"]["SequenceNumber"] = json!("300");
    let response = portico_workflows::handle_batch(&app.state, batch(vec![first, poison, after])).await;
    let failed: Vec<Option<String>> =
        response.batch_item_failures.iter().map(|failure| failure.item_identifier.clone()).collect();
    assert_eq!(failed, [Some("200".to_owned())], "the checkpoint is the poison record");

    // Through the stream: the poison goes to the dead letters, the next record still runs.
    let (app, dead_letters) = spawn_app_with_workflows().await;
    let (admin, _) = app.admin_token().await;
    create_workflow_rule(&app, &admin, big_deal_alert()).await;
    let manager = sales_manager(&app).await;
    app.dynamodb
        .put_item()
        .table_name(app.state.store.table())
        .set_item(Some(
            serde_dynamo::to_item(
                json!({"PK": "RECORD#unicorns#1", "SK": "RECORD", "entity": "record", "module": "unicorns"}),
            )
            .expect("item"),
        ))
        .send()
        .await
        .expect("put");
    create_deal(&app, &admin, json!({"name": "After the poison", "amount": 60000, "probability": 80})).await;
    eventually("the alert after the poison", async || {
        app.mails_to(&manager)
            .await
            .into_iter()
            .find(|mail| mail.subject.as_deref() == Some("Big deal: After the poison"))
    })
    .await;
    let dead = dead_letters.records().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["dynamodb"]["NewImage"]["module"]["S"], "unicorns");
}

#[tokio::test]
async fn rules_are_validated_on_save_and_tried_without_running() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let mut no_actions = big_deal_alert();
    no_actions["actions"] = json!([]);
    let refused = app.post("/admin/workflow-rules", no_actions, Some(&admin)).await;
    assert_eq!(
        (refused.status, refused.body["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("actions"))
    );
    let mut wrong = big_deal_alert();
    wrong["criteria"]["all"][0]["value"] = json!("lots");
    wrong["actions"][0]["to"]["addresses"] = json!(["not-an-address"]);
    wrong["actions"][0]["body"] = json!("{{colour}}");
    wrong["actions"][1]["assignee"] = json!("nobody");
    let refused = app.post("/admin/workflow-rules", wrong, Some(&admin)).await;
    let fields: Vec<&str> = error_fields(&refused.body);
    assert_eq!(
        fields,
        ["criteria.all[0].value", "actions[0].body", "actions[0].to.addresses[0]", "actions[1].assignee"]
    );
    // A masked field never leaves Portico in a mail.
    let field = json!({"name": "Salary", "field_type": {"type": "number"}, "projects": [], "masked": true});
    assert_eq!(app.post("/admin/contact-fields", field, Some(&admin)).await.status, StatusCode::CREATED);
    let leak = json!({"name": "Leak", "module": "contacts", "trigger": {"event": "created"},
        "actions": [{"type": "email_alert", "to": {"owner": true}, "subject": "New contact", "body": "Earns {{Salary}}"}]});
    let refused = app.post("/admin/workflow-rules", leak, Some(&admin)).await;
    assert_eq!(
        (refused.status, refused.body["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("actions[0].body"))
    );

    let rule = create_workflow_rule(&app, &admin, big_deal_alert()).await;
    let test = |record: Value, old: Option<Value>| {
        let mut body = json!({"record": record});
        if let Some(old) = old {
            body["old_record"] = old;
        }
        let app = &app;
        let admin = &admin;
        let rule = &rule;
        async move { app.post(&format!("/admin/workflow-rules/{rule}/test"), body, Some(admin)).await }
    };
    let fires: Response = test(json!({"amount": 60000, "probability": 80}), None).await;
    assert_eq!(
        (fires.body["fires"].as_bool(), fires.body["actions"].clone()),
        (Some(true), json!(["email_alert", "create_task"]))
    );
    let not: Response = test(json!({"amount": 60000, "probability": 20}), Some(json!({"amount": 10}))).await;
    assert_eq!(not.body["fires"], false);
    assert_eq!(not.body["explanation"]["children"][1]["held"], false);
    let bad: Response = test(json!({"amount": "lots"}), None).await;
    assert_eq!(
        (bad.status, bad.body["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("record.amount"))
    );
    assert!(app.mails_to("nobody").await.is_empty());
    let tasks = app.get("/records/tasks", Some(&admin)).await;
    assert_eq!(tasks.body["items"].as_array().map(Vec::len), Some(0), "a test runs nothing");

    // Replaced with If-Match; a stale version is refused.
    let mut changed = big_deal_alert();
    changed["active"] = json!(false);
    let path = format!("/admin/workflow-rules/{rule}");
    let send = |version: &str| {
        let request = app
            .http
            .put(format!("{}{path}", app.base))
            .bearer_auth(&admin)
            .header("if-match", version)
            .json(&changed);
        async move { request.send().await.expect("sent").status() }
    };
    assert_eq!(send("1").await, StatusCode::OK);
    assert_eq!(send("1").await, StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.request(Method::DELETE, &path, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);
    let agent = app.staff_token(BuiltinRole::FieldAgent).await;
    assert_eq!(app.get("/admin/workflow-rules", Some(&agent)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_audit_trail_shows_each_change_through_the_caller_s_view() {
    let (app, _) = spawn_app_with_workflows().await;
    let (admin, _) = app.admin_token().await;
    // A rule that reacts to the stage, so the trail holds a change by Portico too.
    create_workflow_rule(
        &app,
        &admin,
        json!({"name": "Won", "module": "deals", "trigger": {"event": "edited", "fields": ["stage"]},
        "criteria": {"field": "stage", "op": "changed_to", "value": "Closed Won"},
        "actions": [{"type": "field_update", "fields": {"probability": 100}}]}),
    )
    .await;
    let deal =
        create_deal(&app, &admin, json!({"name": "Audited", "amount": 10, "stage": "Negotiation"})).await;
    let path = format!("/records/deals/{deal}");
    let patched = app
        .request(
            Method::PATCH,
            &path,
            Some(json!({"version": 1, "fields": {"stage": "Closed Won", "amount": 12}})),
            Some(&admin),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    let trail = eventually("three entries", async || {
        let trail = app.get(&format!("{path}/audit"), Some(&admin)).await;
        let items = trail.body["items"].as_array().cloned().unwrap_or_default();
        (items.len() == 3).then_some(items)
    })
    .await;
    // Newest first: the rule's update, the PATCH, the creation.
    let origins: Vec<&str> = trail.iter().filter_map(|entry| entry["origin"].as_str()).collect();
    assert!(origins[0].starts_with("workflow:") && origins[1] == "api" && origins[2] == "api", "{origins:?}");
    assert_eq!(trail[0]["by"], "system");
    assert_eq!(trail[0]["changes"], json!([{"field": "probability", "old": null, "new": 100}]));
    assert_eq!(
        trail[1]["changes"],
        json!([{"field": "amount", "old": 10, "new": 12}, {"field": "stage", "old": "Negotiation", "new": "Closed Won"}])
    );
    assert_eq!(trail[2]["event"], "created");
    let versions: Vec<u64> = trail.iter().filter_map(|entry| entry["version"].as_u64()).collect();
    assert_eq!(versions, [3, 2, 1]);

    // A masked field's change shows without its values to those who may not see it; a field of
    // a project the caller is not in does not show at all.
    let project =
        app.post("/admin/projects", json!({"name": "Calls"}), Some(&admin)).await.body["id"].clone();
    for (name, masked, projects) in [("Salary", true, json!([project])), ("Secret", false, json!([]))] {
        let field =
            json!({"name": name, "field_type": {"type": "number"}, "projects": projects, "masked": masked});
        assert_eq!(app.post("/admin/contact-fields", field, Some(&admin)).await.status, StatusCode::CREATED);
    }
    let contact = app
        .post(
            "/records/contacts",
            json!({"fields": {"last_name": "Paid", "Salary": 5000, "Secret": 7}}),
            Some(&admin),
        )
        .await;
    let contact = contact.body["id"].as_str().expect("id").to_owned();
    let manager = sales_manager(&app).await;
    let email = portico::domain::Email::parse(&manager).expect("email");
    let manager_id = app.state.store.account_id_by_email(&email).await.expect("read").expect("account");
    let assigned = app
        .request(
            Method::PATCH,
            &format!("/admin/users/{manager_id}"),
            Some(json!({"projects": [project]})),
            Some(&admin),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{:?}", assigned.body);
    let token = app.sign_in(&manager, crate::support::PASSWORD).await.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let changes = eventually("the contact's entry", async || {
        let trail = app.get(&format!("/records/contacts/{contact}/audit"), Some(&token)).await;
        trail.body["items"][0]["changes"].as_array().cloned()
    })
    .await;
    let salary =
        changes.iter().find(|change| change["field"] == "Salary").expect("the masked field's change");
    assert_eq!(salary, &json!({"field": "Salary", "masked": true}));
    assert!(!changes.iter().any(|change| change["field"] == "Secret"), "{changes:?}");
    let admin_view = app.get(&format!("/records/contacts/{contact}/audit"), Some(&admin)).await;
    assert!(admin_view.body.to_string().contains("5000"));
    // The record's access holds for its history: a field agent can't read others' deals.
    let agent = app.staff_token(BuiltinRole::FieldAgent).await;
    assert_eq!(app.get(&format!("{path}/audit"), Some(&agent)).await.status, StatusCode::NOT_FOUND);
}

/// A webhook receiver on loopback: every request's headers and body.
async fn receiver() -> (String, std::sync::Arc<tokio::sync::Mutex<Vec<(reqwest::header::HeaderMap, Vec<u8>)>>>)
{
    use axum::routing::post;
    let received = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                let mut copied = reqwest::header::HeaderMap::new();
                for (name, value) in &headers {
                    if let (Ok(name), Ok(value)) = (
                        reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
                        reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
                    ) {
                        copied.insert(name, value);
                    }
                }
                store.lock().await.push((copied, body.to_vec()));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test]
async fn a_webhook_is_signed_and_carries_no_masked_field() {
    use hmac::{Hmac, KeyInit, Mac};
    let (app, _) = spawn_app_with_workflows().await;
    let (admin, _) = app.admin_token().await;
    let field = json!({"name": "Salary", "field_type": {"type": "number"}, "projects": [], "masked": true});
    assert_eq!(app.post("/admin/contact-fields", field, Some(&admin)).await.status, StatusCode::CREATED);
    let (url, received) = receiver().await;
    let created = app
        .post(
            "/admin/workflow-rules",
            json!({"name": "Tell the ERP", "module": "contacts", "trigger": {"event": "created"},
            "actions": [{"type": "webhook", "url": url}]}),
            Some(&admin),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let secret = created.body["webhook_secret"].as_str().expect("the secret, once").to_owned();
    let rule = created.body["id"].as_str().expect("id").to_owned();
    let again = app.get(&format!("/admin/workflow-rules/{rule}"), Some(&admin)).await;
    assert!(again.body.get("webhook_secret").is_none(), "shown on creation only");

    let contact = app
        .post("/records/contacts", json!({"fields": {"last_name": "Hooked", "Salary": 91000}}), Some(&admin))
        .await;
    let contact = contact.body["id"].as_str().expect("id").to_owned();
    let (headers, body) = eventually("the webhook", async || received.lock().await.first().cloned()).await;
    // The receiver checks the signature over "<timestamp>.<body>" with the secret it was shown.
    let signature = headers.get("webhook-signature").and_then(|value| value.to_str().ok()).expect("signed");
    let (timestamp, tag) = signature.split_once(",v1=").expect("t=…,v1=…");
    let timestamp = timestamp.strip_prefix("t=").expect("t=");
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&body);
    let expected: String = mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(tag, expected);
    let sent_at: i64 = timestamp.parse().expect("seconds");
    assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 120);
    let payload: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        (payload["event"].as_str(), payload["record"]["id"].as_str()),
        (Some("created"), Some(contact.as_str()))
    );
    assert_eq!(payload["record"]["fields"]["last_name"], "Hooked");
    assert!(
        !String::from_utf8_lossy(&body).contains("Salary")
            && !String::from_utf8_lossy(&body).contains("91000")
    );
    assert_eq!(headers.get("idempotency-key").and_then(|value| value.to_str().ok()), payload["id"].as_str());
    let history =
        eventually("the run", async || Some(runs(&app, &admin, &rule).await).filter(|runs| !runs.is_empty()))
            .await;
    assert_eq!(history[0]["actions"][0]["status"], "done");

    // In AWS a rule may not point a webhook at plain http or a private address.
    let config = portico::Config {
        webhooks_allow_local: false,
        ..crate::support::test_config(app.state.store.table())
    };
    let strict = portico::domain::workflow::WorkflowRuleDefinition::validate(
        serde_json::from_value(json!({"name": "x", "module": "deals", "trigger": {"event": "created"},
            "actions": [{"type": "webhook", "url": url}]}))
        .expect("form"),
        &[],
        config.action_targets(),
    );
    assert_eq!(strict.expect_err("refused")[0].field, "actions[0].url");
}

/// `make bench`: a batch of 100 new deals against 50 rules, 5 of which fire on 20 of the deals
/// (an alert to one sales manager and a task each) — DynamoDB and SES requests per record, and
/// the batch's time against moto. The handler's CPU time without I/O is in `hot_paths`.
#[tokio::test]
#[ignore = "benchmark: run with `make bench`"]
async fn workflows_benchmark() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    sales_manager(&app).await;
    for i in 0..50 {
        let mut rule = big_deal_alert();
        rule["name"] = json!(format!("Rule {i}"));
        if i >= 5 {
            rule["criteria"]["all"][0]["value"] = json!(10_000_000 + i);
        }
        create_workflow_rule(&app, &admin, rule).await;
    }
    let mut records = Vec::new();
    for i in 0..100 {
        let big = i % 5 == 0;
        let fields =
            json!({"name": format!("Deal {i}"), "amount": if big { 60000 } else { 100 }, "probability": 90});
        let deal = create_deal(&app, &admin, fields).await;
        records
            .push(stream_record(&app, "deals", &deal, &format!("event-{i}"), &format!("{}", 1000 + i)).await);
    }
    let (app, counters) = app.counting().await;
    counters.dynamodb.take();
    counters.ses.take();
    let started = std::time::Instant::now();
    let response = portico_workflows::handle_batch(&app.state, batch(records)).await;
    let elapsed = started.elapsed();
    assert!(response.batch_item_failures.is_empty());
    let (dynamodb, ses) = (counters.dynamodb.take(), counters.ses.take());
    println!(
        "| 100 new deals, 50 rules, 5 firing on 20 deals (2 actions each) | {dynamodb} | {:.2} | {ses} | {:.2} | {:.0} ms |",
        dynamodb as f64 / 100.0,
        ses as f64 / 100.0,
        elapsed.as_secs_f64() * 1000.0
    );
}

/// A staff member who may approve registrations, mailed in `locale`.
async fn approver(app: &TestApp, admin: &str, locale: &str) -> String {
    let email = unique_email("approver");
    let body = json!({"email": email, "name": "Approver", "password": crate::support::PASSWORD,
        "roles": ["administrator"], "locale": locale});
    let created = app.post("/admin/users", body, Some(admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    email
}

fn approval_mails(mails: &[portico_local::moto::OutboxMessage]) -> usize {
    let subjects = ["A registration waits for approval", "Eine Registrierung wartet auf Freigabe"];
    mails
        .iter()
        .filter(|mail| mail.subject.as_deref().is_some_and(|subject| subjects.contains(&subject)))
        .count()
}

#[tokio::test]
async fn approvers_are_mailed_from_the_stream_in_their_language() {
    let (app, _) = spawn_app_with_workflows().await;
    let (admin, _) = app.admin_token().await;
    let german = approver(&app, &admin, "de").await;
    app.set_policy(
        &admin,
        json!({"notify_on_registration": false, "admin_approval": "companies",
        "device_confirmation": false, "email_verification": "none"}),
    )
    .await;
    // A person needs no approval under `companies`: nobody is asked.
    let person = unique_email("person");
    assert_eq!(app.register(&person, "person").await.status, StatusCode::ACCEPTED);
    let company = unique_email("company");
    assert_eq!(app.register(&company, "company").await.status, StatusCode::ACCEPTED);
    let mail = eventually("the approver's mail", async || {
        app.mails_to(&german).await.into_iter().find(|mail| mail.body.contains(&company))
    })
    .await;
    assert_eq!(mail.subject.as_deref(), Some("Eine Registrierung wartet auf Freigabe"));
    // Staff choose their own language too: the administrator switches to Czech.
    let changed =
        app.request(reqwest::Method::PATCH, "/me", Some(json!({"locale": "cs"})), Some(&admin)).await;
    assert_eq!((changed.status, changed.body["locale"].as_str()), (StatusCode::OK, Some("cs")));
    let refused =
        app.request(reqwest::Method::PATCH, "/me", Some(json!({"locale": "xx"})), Some(&admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    // And an administrator sets another staff member's.
    let email = portico::domain::Email::parse(&german).expect("email");
    let id = app.state.store.account_id_by_email(&email).await.expect("read").expect("account");
    let path = format!("/admin/users/{id}");
    let changed =
        app.request(reqwest::Method::PATCH, &path, Some(json!({"locale": "tr"})), Some(&admin)).await;
    assert_eq!(
        (changed.status, changed.body["locale"].as_str()),
        (StatusCode::OK, Some("tr")),
        "{:?}",
        changed.body
    );
    let stored = app.state.store.account(id).await.expect("read").expect("account");
    assert_eq!(stored.locale, portico::domain::Locale::Tr);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mails = app.mails_to(&german).await;
    assert!(!mails.iter().any(|mail| mail.body.contains(&person)), "a person is not waiting");
    assert_eq!(approval_mails(&mails), 1);
}

#[tokio::test]
async fn an_approver_mail_goes_out_once_under_a_replayed_batch() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let english = approver(&app, &admin, "en").await;
    app.set_policy(
        &admin,
        json!({"notify_on_registration": false, "admin_approval": "all",
        "device_confirmation": false, "email_verification": "none"}),
    )
    .await;
    let waiting = unique_email("waiting");
    assert_eq!(app.register(&waiting, "person").await.status, StatusCode::ACCEPTED);
    assert_eq!(approval_mails(&app.mails_to(&english).await), 0, "not from the request");
    let id = app.account_id(&waiting).await;
    let record = insert_record(&app, (format!("ACCOUNT#{id}"), "ACCOUNT"), "account-1", "100").await;
    for _ in 0..2 {
        let response = portico_workflows::handle_batch(&app.state, batch(vec![record.clone()])).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(approval_mails(&app.mails_to(&english).await), 1);
}

#[tokio::test]
async fn a_registration_costs_the_same_with_one_approver_and_with_fifty() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    app.set_policy(
        &admin,
        json!({"notify_on_registration": false, "admin_approval": "all",
        "device_confirmation": false, "email_verification": "none"}),
    )
    .await;
    let (app, counters) = app.counting().await;
    let mut measured = Vec::new();
    for approvers in [1, 50] {
        // The administrator who set the policy approves too.
        let have = app.state.store.staff().await.expect("staff").len();
        for _ in have..approvers {
            portico_local::create_staff(
                &app.state,
                &unique_email("approver"),
                "Approver",
                crate::support::PASSWORD,
                &[BuiltinRole::Administrator],
            )
            .await
            .expect("staff");
        }
        counters.dynamodb.take();
        counters.ses.take();
        assert_eq!(app.register(&unique_email("waiting"), "person").await.status, StatusCode::ACCEPTED);
        measured.push((counters.dynamodb.take(), counters.ses.take()));
    }
    assert_eq!(measured[0], measured[1], "requests with 1 and with 50 approvers");
    assert_eq!(measured[0].1, 0, "no mail from the request");
}
