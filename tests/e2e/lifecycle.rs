//! Lifecycle labels (issue 16 item 6, SPEC §1): three built-in labels, one per customer; a new
//! customer is a Lead under `auto_lifecycle`; rules in the workflow rule list move customers on
//! record events and after time without activity (time injected, never waited for); the stage
//! and the linked contact's `lifecycle` field follow each other.

use chrono::Utc;
use portico::domain::lifecycle::Stage;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ulid::Ulid;

use crate::support::{
    TestApp, create_workflow_rule, error_fields, eventually, spawn_app, spawn_app_with_workflows,
    unique_email,
};

async fn labels(app: &TestApp, admin: &str) -> Vec<Value> {
    let page = app.get("/admin/labels", Some(admin)).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    page.body["items"].as_array().cloned().unwrap_or_default()
}

fn named<'a>(labels: &'a [Value], name: &str) -> &'a Value {
    labels.iter().find(|label| label["name"] == name).unwrap_or_else(|| panic!("no label {name}: {labels:?}"))
}

async fn stage_of(app: &TestApp, customer: &str) -> Option<Stage> {
    let id = Ulid::from_string(customer).expect("id");
    app.state.store.account(id).await.expect("read").expect("account").lifecycle
}

/// An approved customer (linked to a new contact at approval): its id and contact's id.
async fn approved_customer(app: &TestApp, admin: &str, auto_lifecycle: bool) -> (String, String, String) {
    app.set_policy(
        admin,
        json!({"notify_on_registration": false, "admin_approval": "all", "device_confirmation": false,
               "email_verification": "none", "notify_admins": false, "auto_lifecycle": auto_lifecycle}),
    )
    .await;
    let email = unique_email("lifecycle");
    assert_eq!(app.register(&email, "person").await.status, StatusCode::ACCEPTED);
    let id = app.account_id(&email).await;
    let approved = app.post(&format!("/admin/registrations/{id}/approve"), json!({}), Some(admin)).await;
    assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.body);
    let contact = approved.body["contact_id"].as_str().expect("linked at approval").to_owned();
    (id, contact, email)
}

async fn contact_stage(app: &TestApp, admin: &str, contact: &str) -> Value {
    let read = app.get(&format!("/records/contacts/{contact}"), Some(admin)).await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    read.body["fields"]["lifecycle"].clone()
}

#[tokio::test]
async fn the_built_in_labels_exist_stay_and_are_one_per_customer() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    // A label of a stage's name made before the built-ins becomes the built-in one.
    let made =
        app.post("/admin/labels", json!({"name": "prospect", "colour": "#123456"}), Some(&admin)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let listed = labels(&app, &admin).await;
    assert_eq!(named(&listed, "prospect")["id"], made.body["id"], "adopted, not duplicated");
    for (name, stage) in [("Lead", "Lead"), ("prospect", "Prospect"), ("Customer", "Customer")] {
        assert_eq!(named(&listed, name)["lifecycle_stage"], stage, "{listed:?}");
    }
    let lead = named(&listed, "Lead")["id"].as_str().expect("id").to_owned();
    let customer_label = named(&listed, "Customer")["id"].as_str().expect("id").to_owned();

    let deleted = app.request(Method::DELETE, &format!("/admin/labels/{lead}"), None, Some(&admin)).await;
    assert_eq!(
        (deleted.status, deleted.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("label_builtin"))
    );
    let renamed = app
        .request(Method::PATCH, &format!("/admin/labels/{lead}"), Some(json!({"name": "Cold"})), Some(&admin))
        .await;
    assert_eq!(renamed.status, StatusCode::BAD_REQUEST, "{:?}", renamed.body);
    assert_eq!(renamed.body["errors"][0]["field"], "name");
    let recoloured = app
        .request(
            Method::PATCH,
            &format!("/admin/labels/{lead}"),
            Some(json!({"colour": "#ABCDEF"})),
            Some(&admin),
        )
        .await;
    assert_eq!((recoloured.status, &recoloured.body["colour"]), (StatusCode::OK, &json!("#abcdef")));

    // Staff attach stages like labels: each attach replaces the stage, counts follow.
    let email = app.active_customer(&admin, false).await;
    let customer = app.account_id(&email).await;
    for label in [&lead, &customer_label] {
        let attached = app
            .request(Method::PUT, &format!("/admin/customers/{customer}/labels/{label}"), None, Some(&admin))
            .await;
        assert_eq!(attached.status, StatusCode::NO_CONTENT, "{:?}", attached.body);
    }
    assert_eq!(stage_of(&app, &customer).await, Some(Stage::Customer));
    let account = app.state.store.account(Ulid::from_string(&customer).expect("id")).await.expect("read");
    let carried: Vec<String> = account.expect("account").labels.iter().map(Ulid::to_string).collect();
    assert_eq!(carried, vec![customer_label.clone()], "exactly one lifecycle label");
    let listed = labels(&app, &admin).await;
    assert_eq!(
        (named(&listed, "Lead")["usage"].as_u64(), named(&listed, "Customer")["usage"].as_u64()),
        (Some(0), Some(1))
    );

    // Detaching a label the customer does not carry changes nothing; detaching theirs clears it.
    let path = |label: &str| format!("/admin/customers/{customer}/labels/{label}");
    assert_eq!(
        app.request(Method::DELETE, &path(&lead), None, Some(&admin)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(stage_of(&app, &customer).await, Some(Stage::Customer));
    assert_eq!(
        app.request(Method::DELETE, &path(&customer_label), None, Some(&admin)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(stage_of(&app, &customer).await, None);
    assert_eq!(named(&labels(&app, &admin).await, "Customer")["usage"], 0);
    let staff = app.staff_member(portico::domain::BuiltinRole::SalesManager).await.1;
    let not_customer = app
        .request(Method::PUT, &format!("/admin/customers/{staff}/labels/{lead}"), None, Some(&admin))
        .await;
    assert_eq!(not_customer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rules_move_customers_on_record_events_and_the_contact_field_follows() {
    let (app, _) = spawn_app_with_workflows().await;
    let (admin, _) = app.admin_token().await;
    let quote_rule = create_workflow_rule(
        &app,
        &admin,
        json!({"name": "First quote makes a prospect", "module": "quotes", "trigger": {"event": "created"},
               "actions": [{"type": "lifecycle", "stage": "Prospect"}]}),
    )
    .await;
    create_workflow_rule(
        &app,
        &admin,
        json!({"name": "Won deal makes a customer", "module": "deals", "trigger": {"event": "created_or_edited"},
               "criteria": {"field": "stage", "op": "changed_to", "value": "Closed Won"},
               "actions": [{"type": "lifecycle", "stage": "Customer"}]}),
    )
    .await;
    let (customer, contact, _) = approved_customer(&app, &admin, true).await;
    eventually("a new customer becomes a Lead", async || {
        (stage_of(&app, &customer).await == Some(Stage::Lead)).then_some(())
    })
    .await;
    eventually("the contact shows Lead", async || {
        (contact_stage(&app, &admin, &contact).await == "Lead").then_some(())
    })
    .await;

    let quote = app
        .post(
            "/records/quotes",
            json!({"fields": {"subject": "Q1", "stage": "Draft", "contact_id": contact}}),
            Some(&admin),
        )
        .await;
    assert_eq!(quote.status, StatusCode::CREATED, "{:?}", quote.body);
    eventually("the quote makes a Prospect", async || {
        (stage_of(&app, &customer).await == Some(Stage::Prospect)).then_some(())
    })
    .await;
    eventually("the contact shows Prospect", async || {
        (contact_stage(&app, &admin, &contact).await == "Prospect").then_some(())
    })
    .await;

    let deal = app
        .post(
            "/records/deals",
            json!({"fields": {"name": "D1", "stage": "Closed Won", "amount": 10, "contact_id": contact}}),
            Some(&admin),
        )
        .await;
    assert_eq!(deal.status, StatusCode::CREATED, "{:?}", deal.body);
    eventually("the won deal makes a Customer", async || {
        (stage_of(&app, &customer).await == Some(Stage::Customer)).then_some(())
    })
    .await;

    // Forward only: another quote leaves a Customer a Customer, and says why in the run history.
    let again = app
        .post(
            "/records/quotes",
            json!({"fields": {"subject": "Q2", "stage": "Draft", "contact_id": contact}}),
            Some(&admin),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    let runs = eventually("the second quote's run", async || {
        let page = app.get(&format!("/admin/workflow-rules/{quote_rule}/runs"), Some(&admin)).await;
        let items = page.body["items"].as_array().cloned().unwrap_or_default();
        (items.len() == 2).then_some(items)
    })
    .await;
    let statuses: Vec<&str> =
        runs.iter().map(|run| run["actions"][0]["status"].as_str().unwrap_or("")).collect();
    assert!(statuses.contains(&"done") && statuses.contains(&"skipped"), "{runs:?}");
    assert_eq!(stage_of(&app, &customer).await, Some(Stage::Customer));

    // A staff change of the contact's field moves the customer (the label is the truth after).
    let contact_now = app.get(&format!("/records/contacts/{contact}"), Some(&admin)).await;
    let version = contact_now.body["version"].as_u64().expect("version");
    let patched = app
        .request(
            Method::PATCH,
            &format!("/records/contacts/{contact}"),
            Some(json!({"fields": {"lifecycle": "Lead"}, "version": version})),
            Some(&admin),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    eventually("the field's change moves the customer", async || {
        (stage_of(&app, &customer).await == Some(Stage::Lead)).then_some(())
    })
    .await;
    let audit = app.get(&format!("/records/contacts/{contact}/audit"), Some(&admin)).await;
    let origins: Vec<&str> = audit.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|entry| entry["origin"].as_str())
        .collect();
    assert!(
        origins.contains(&format!("lifecycle:{customer}").as_str()),
        "the sync's writes are audited as such: {origins:?}"
    );
}

#[tokio::test]
async fn a_stage_taken_away_stays_away_and_leaves_the_contact_field() {
    let (app, _) = spawn_app_with_workflows().await;
    let (admin, _) = app.admin_token().await;
    let (customer, contact, _) = approved_customer(&app, &admin, true).await;
    eventually("the contact shows Lead", async || {
        (contact_stage(&app, &admin, &contact).await == "Lead").then_some(())
    })
    .await;
    let lead = named(&labels(&app, &admin).await, "Lead")["id"].as_str().expect("id").to_owned();
    let path = format!("/admin/customers/{customer}/labels/{lead}");
    assert_eq!(app.request(Method::DELETE, &path, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);
    eventually("the contact's field cleared", async || {
        contact_stage(&app, &admin, &contact).await.is_null().then_some(())
    })
    .await;
    // The stream has seen the change and the contact's: nothing brought the stage back.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(stage_of(&app, &customer).await, None);
}

#[tokio::test]
async fn time_rules_move_inactive_customers_once_per_period() {
    let (app, _) = spawn_app_with_workflows().await;
    let (admin, _) = app.admin_token().await;
    let (customer, contact, email) = approved_customer(&app, &admin, false).await;
    let listed = labels(&app, &admin).await;
    let prospect = named(&listed, "Prospect")["id"].as_str().expect("id").to_owned();
    let attached = app
        .request(Method::PUT, &format!("/admin/customers/{customer}/labels/{prospect}"), None, Some(&admin))
        .await;
    assert_eq!(attached.status, StatusCode::NO_CONTENT);
    let back_to_lead = create_workflow_rule(
        &app,
        &admin,
        json!({"name": "Quiet prospects become leads", "module": "contacts",
               "trigger": {"event": "inactive", "days": 90, "stages": ["Prospect"]},
               "actions": [{"type": "lifecycle", "stage": "Lead"}]}),
    )
    .await;
    let nudge = create_workflow_rule(
        &app,
        &admin,
        json!({"name": "Nudge quiet prospects", "module": "contacts",
               "trigger": {"event": "inactive", "days": 30, "stages": ["Prospect"]},
               "actions": [{"type": "email_alert", "to": {"addresses": ["desk@example.com"]},
                            "subject": "Quiet: {{last_name}}", "body": "No word for a month."}]}),
    )
    .await;
    let run = async |days: i64| {
        portico_workflows::housekeeping::run_time_rules(
            &app.state,
            Utc::now() + chrono::Duration::days(days),
            None,
        )
        .await
        .expect("a run")
        .fired
    };
    let nudges = async || app.mails_to("desk@example.com").await.len();

    assert_eq!(run(10).await, 0, "active lately");
    assert_eq!(run(31).await, 1, "30 days quiet: the nudge");
    assert_eq!(nudges().await, 1);
    assert_eq!(run(45).await, 0, "the same period fires nothing again");
    assert_eq!(nudges().await, 1);
    assert_eq!(stage_of(&app, &customer).await, Some(Stage::Prospect));

    // A sign-in is activity: the quiet time counts from it (written in the sign-in's transaction).
    let account_id = Ulid::from_string(&customer).expect("id");
    let last_activity =
        async || app.state.store.account(account_id).await.expect("read").expect("account").last_activity_at;
    let before_sign_in = last_activity().await;
    assert_eq!(app.sign_in(&email, crate::support::PASSWORD).await.status, StatusCode::OK);
    assert!(last_activity().await > before_sign_in, "the sign-in is the last activity");

    // 91 days on (from the sign-in): the older rule moves the customer to Lead; the nudge,
    // judged after it, finds no quiet Prospect any more.
    assert_eq!(run(91).await, 1);
    assert_eq!(stage_of(&app, &customer).await, Some(Stage::Lead));
    assert_eq!(run(92).await, 0, "a Lead is no Prospect: nothing left to do");
    eventually("the contact shows Lead", async || {
        (contact_stage(&app, &admin, &contact).await == "Lead").then_some(())
    })
    .await;
    for rule in [&back_to_lead, &nudge] {
        let page = app.get(&format!("/admin/workflow-rules/{rule}/runs"), Some(&admin)).await;
        let items = page.body["items"].as_array().cloned().unwrap_or_default();
        assert!(
            items.iter().all(|run| run["event"] == "inactive" && run["record_id"] == contact.as_str()),
            "{items:?}"
        );
        assert_eq!(items.len(), 1, "{items:?}");
    }
    // Record changes by people are activity too (through the stream).
    let before = last_activity().await;
    let task = app
        .post(
            "/records/tasks",
            json!({"fields": {"subject": "Call back", "status": "Open", "contact_id": contact}}),
            Some(&admin),
        )
        .await;
    assert_eq!(task.status, StatusCode::CREATED, "{:?}", task.body);
    eventually("the task counts as activity", async || (last_activity().await > before).then_some(())).await;
}

#[tokio::test]
async fn time_and_lifecycle_rules_are_validated_on_save() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let refused = app
        .post(
            "/admin/workflow-rules",
            json!({"name": "Bad", "module": "deals",
                   "trigger": {"event": "inactive", "days": 0},
                   "actions": [{"type": "lifecycle", "stage": "Lead", "from": ["Lead"]}]}),
            Some(&admin),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{:?}", refused.body);
    let fields: Vec<&str> = error_fields(&refused.body);
    for field in ["module", "trigger.days", "trigger.stages", "actions[0].from"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let products = app
        .post(
            "/admin/workflow-rules",
            json!({"name": "No contact", "module": "products", "trigger": {"event": "created"},
                   "actions": [{"type": "lifecycle", "stage": "Prospect"}]}),
            Some(&admin),
        )
        .await;
    assert_eq!(products.status, StatusCode::BAD_REQUEST);
    assert_eq!(products.body["errors"][0]["field"], "actions[0].type");
}

#[tokio::test]
async fn a_label_adopted_while_in_use_can_still_be_taken_off() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    let customer = app.account_id(&email).await;
    // "Customer" exists, on a customer, before the built-in labels do.
    let made =
        app.post("/admin/labels", json!({"name": "Customer", "colour": "#123456"}), Some(&admin)).await;
    let label = made.body["id"].as_str().expect("id").to_owned();
    let path = format!("/admin/customers/{customer}/labels/{label}");
    assert_eq!(app.request(Method::PUT, &path, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);
    let adopted = labels(&app, &admin).await;
    assert_eq!(named(&adopted, "Customer")["lifecycle_stage"], "Customer");
    // Attached as the stage too: listed once.
    assert_eq!(app.request(Method::PUT, &path, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);
    let account = app.state.store.account(Ulid::from_string(&customer).expect("id")).await.expect("read");
    assert_eq!(account.expect("account").labels.len(), 1);
    assert_eq!(app.request(Method::DELETE, &path, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);
    let account = app.state.store.account(Ulid::from_string(&customer).expect("id")).await.expect("read");
    let account = account.expect("account");
    assert_eq!((account.labels.len(), account.lifecycle), (0, None), "both links gone");
    assert_eq!(named(&labels(&app, &admin).await, "Customer")["usage"], 0);
}

#[tokio::test]
async fn an_otp_rule_on_the_contact_s_lifecycle_guards_the_stage_too() {
    let (app, _) = spawn_app_with_workflows().await;
    let (admin, _) = app.admin_token().await;
    let guard = json!({"name": "Customer status needs the customer", "module": "contacts",
        "trigger": {"field": "lifecycle", "changed_to": "Customer"}, "otp": {"type": "numeric", "length": 6},
        "channels": ["email"], "recipients": {"email": "email"}});
    assert_eq!(app.post("/admin/otp-rules", guard, Some(&admin)).await.status, StatusCode::CREATED);
    let rule = create_workflow_rule(
        &app,
        &admin,
        json!({"name": "Won deal makes a customer", "module": "deals", "trigger": {"event": "created"},
               "actions": [{"type": "lifecycle", "stage": "Customer"}]}),
    )
    .await;
    let (customer, contact, _) = approved_customer(&app, &admin, false).await;
    let listed = labels(&app, &admin).await;
    let label = |name: &str| named(&listed, name)["id"].as_str().expect("id").to_owned();

    // Staff can't attach the guarded stage; an unguarded one moves as before.
    let path = |label: &str| format!("/admin/customers/{customer}/labels/{label}");
    let refused = app.request(Method::PUT, &path(&label("Customer")), None, Some(&admin)).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (StatusCode::PRECONDITION_REQUIRED, Some("otp_required"))
    );
    assert_eq!(
        app.request(Method::PUT, &path(&label("Prospect")), None, Some(&admin)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(stage_of(&app, &customer).await, Some(Stage::Prospect));

    // A rule skips the guarded move and says why.
    let deal = app
        .post("/records/deals", json!({"fields": {"name": "Won", "contact_id": contact}}), Some(&admin))
        .await;
    assert_eq!(deal.status, StatusCode::CREATED);
    let run = eventually("the rule's run", async || {
        let page = app.get(&format!("/admin/workflow-rules/{rule}/runs"), Some(&admin)).await;
        page.body["items"].as_array().and_then(|items| items.first().cloned())
    })
    .await;
    assert_eq!(run["actions"][0]["status"], "skipped", "{run}");
    assert!(run["actions"][0]["detail"].as_str().is_some_and(|detail| detail.contains("OTP rule")), "{run}");
    assert_eq!(stage_of(&app, &customer).await, Some(Stage::Prospect));
}
