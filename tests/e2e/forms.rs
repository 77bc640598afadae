//! Agent forms (issue 18, SPEC §6, seed 004): a call script whose answers land in contact
//! fields — per question and through the import's `{{Question}}` mapping — filled by agents of
//! the form's project, all or nothing, through the records core.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::contact_fields::{Setup, setup};
use crate::support::{PASSWORD, TestApp, error_fields, spawn_app, unique_email};

/// A staff member with `roles` in `project`; their token.
async fn staff_in(app: &TestApp, admin: &str, roles: Value, project: &str) -> String {
    let email = unique_email("caller");
    let body = json!({"email": email, "name": "Caller", "password": PASSWORD, "roles": roles, "projects": [project]});
    let created = app.post("/admin/users", body, Some(admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("token").to_owned()
}

/// Seed 004's survey: the caller's name into `first_name` (a template), a constant segment,
/// a choice bound to a field, a loyalty card bound to the unique `Loyalty ID`.
fn welcome_call(project: &str, data: Value) -> Value {
    json!({
        "name": "Welcome call", "project_id": project,
        "questions": [
            {"id": "Name", "text": "Who am I speaking to?", "type": "text", "required": true},
            {"id": "Topic", "text": "What is the call about?", "type": "choice", "options": ["Billing", "Delivery"], "contact_field": "Topic"},
            {"id": "Card", "text": "Loyalty card number?", "type": "text", "contact_field": "Loyalty ID"},
            {"id": "Income", "text": "Yearly income?", "type": "number", "contact_field": "Salary"}
        ],
        "data": data
    })
}

/// A sales manager of the setup's other project ("Support"); their token.
async fn outsider(app: &TestApp, admin: &str) -> String {
    let projects = app.get("/admin/projects", Some(admin)).await.body;
    let support =
        projects.as_array().and_then(|projects| projects.iter().find(|project| project["name"] == "Support"));
    let support = support.and_then(|project| project["id"].as_str()).expect("support project");
    staff_in(app, admin, json!(["sales_manager"]), support).await
}

struct Call {
    setup: Setup,
    form: String,
    contact: String,
}

async fn prepare(app: &TestApp) -> Call {
    let setup = setup(app).await;
    for (name, field_type) in [
        ("Segment", json!({"type": "select", "options": ["Sales", "Support"]})),
        ("Topic", json!({"type": "text"})),
    ] {
        let body = json!({"name": name, "field_type": field_type, "projects": [setup.project]});
        let created = app.post("/admin/contact-fields", body, Some(&setup.admin)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    }
    let form = welcome_call(&setup.project, json!({"Segment": "Sales", "first_name": "{{Name}}"}));
    let created = app.post("/admin/forms", form, Some(&setup.admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let form = created.body["id"].as_str().expect("id").to_owned();
    let contact = app
        .post(
            "/records/contacts",
            json!({"fields": {"last_name": "Novak", "email": "novak@example.com", "Salary": 4321.5}}),
            Some(&setup.admin),
        )
        .await;
    assert_eq!(contact.status, StatusCode::CREATED, "{:?}", contact.body);
    Call { setup, form, contact: contact.body["id"].as_str().expect("id").to_owned() }
}

async fn version(app: &TestApp, admin: &str, contact: &str) -> u64 {
    app.get(&format!("/records/contacts/{contact}"), Some(admin)).await.body["version"]
        .as_u64()
        .expect("version")
}

async fn submissions(app: &TestApp, admin: &str, contact: &str) -> Vec<Value> {
    let page = app.get(&format!("/records/contacts/{contact}/submissions"), Some(admin)).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    page.body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_seed_s_form_fills_the_contact_and_is_listed_beside_it() {
    let app = spawn_app().await;
    let Call { setup, form, contact } = prepare(&app).await;
    // Templates are case-sensitive: `{{name}}` names no question.
    let refused = app
        .post(
            "/admin/forms",
            welcome_call(&setup.project, json!({"first_name": "{{name}}"})),
            Some(&setup.admin),
        )
        .await;
    assert_eq!(
        (refused.status, error_fields(&refused.body)),
        (StatusCode::BAD_REQUEST, vec!["data.first_name"])
    );

    // A field agent of the project: no write access to contacts, but the form is the grant.
    let agent = staff_in(&app, &setup.admin, json!(["field_agent"]), &setup.project).await;
    let listed = app.get(&format!("/forms?project_id={}", setup.project), Some(&agent)).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1), "{:?}", listed.body);
    let opened = app.get(&format!("/forms/{form}?contact_id={contact}"), Some(&agent)).await;
    assert_eq!(opened.status, StatusCode::OK, "{:?}", opened.body);
    assert_eq!(opened.body["form"]["questions"].as_array().map(Vec::len), Some(4));
    let header = &opened.body["contact"];
    assert_eq!(
        (&header["fields"]["last_name"], &header["fields"]["Salary"]),
        (&json!("Novak"), &Value::Null)
    );
    assert_eq!(
        header["masked"],
        json!(["Salary"]),
        "masked values withheld from agents without the permission"
    );
    assert!(!opened.body.to_string().contains("4321.5"));
    assert!(header["fields"].get("Ticket").is_none(), "another project's field is not in the header");
    assert!(
        header["fields"].get("email").is_none() && !opened.body.to_string().contains("novak@"),
        "the form grants no read of the contact's other fields"
    );
    let direct = app
        .request(
            Method::PATCH,
            &format!("/records/contacts/{contact}"),
            Some(json!({"fields": {"first_name": "X"}})),
            Some(&agent),
        )
        .await;
    assert!(
        matches!(direct.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "only through the form: {:?}",
        direct.body
    );

    // The agent can't see Salary but may fill it blind (it is not unique: no clash can tell).
    let answers = json!({"Name": "Ada", "Topic": "Delivery", "Card": "L-77", "Income": 52000});
    let submitted = app
        .post(
            &format!("/forms/{form}/submissions"),
            json!({"contact_id": contact, "answers": answers, "version": 1}),
            Some(&agent),
        )
        .await;
    assert_eq!(submitted.status, StatusCode::CREATED, "{:?}", submitted.body);
    let id = submitted.body["submission"]["id"].as_str().expect("id");
    let read = app.get(&format!("/records/contacts/{contact}"), Some(&setup.admin)).await;
    let fields = &read.body["fields"];
    assert_eq!(
        (&fields["first_name"], &fields["Segment"], &fields["Topic"], &fields["Loyalty ID"]),
        (&json!("Ada"), &json!("Sales"), &json!("Delivery"), &json!("L-77"))
    );
    assert_eq!(
        (read.body["origin"].as_str(), read.body["version"].as_u64()),
        (Some(format!("form:{id}").as_str()), Some(2))
    );
    assert_eq!(fields["Salary"], 52000);
    let listed = submissions(&app, &setup.admin, &contact).await;
    assert_eq!(listed.len(), 1);
    assert_eq!((&listed[0]["answers"], &listed[0]["form_name"]), (&answers, &json!("Welcome call")));
    // Staff of the project without the masked permission: the masked answer withheld.
    let seen = submissions(&app, &setup.agent, &contact).await;
    assert_eq!((&seen[0]["answers"]["Name"], &seen[0]["answers"]["Income"]), (&json!("Ada"), &Value::Null));
    assert!(!serde_json::to_string(&seen).unwrap_or_default().contains("52000"));
    // Masking a field later withholds the answers that filled it from then on.
    let masked = app
        .request(
            Method::PATCH,
            "/admin/contact-fields/Topic",
            Some(json!({"masked": true})),
            Some(&setup.admin),
        )
        .await;
    assert_eq!(masked.status, StatusCode::OK, "{:?}", masked.body);
    let seen = submissions(&app, &setup.agent, &contact).await;
    assert_eq!((&seen[0]["answers"]["Name"], &seen[0]["answers"]["Topic"]), (&json!("Ada"), &Value::Null));
    // Staff of another project do not see the project's submissions at all.
    let outsider = outsider(&app, &setup.admin).await;
    assert!(submissions(&app, &outsider, &contact).await.is_empty());
}

#[tokio::test]
async fn outsiders_bad_answers_and_taken_values_write_nothing() {
    let app = spawn_app().await;
    let Call { setup, form, contact } = prepare(&app).await;
    // Staff of another project (or without forms.fill) do not see the form at all.
    let outsider = outsider(&app, &setup.admin).await;
    let tech = staff_in(&app, &setup.admin, json!(["tech_support"]), &setup.project).await;
    for token in [&outsider, &tech] {
        assert_eq!(
            app.get(&format!("/forms/{form}?contact_id={contact}"), Some(token)).await.status,
            StatusCode::NOT_FOUND
        );
        let submit = app
            .post(
                &format!("/forms/{form}/submissions"),
                json!({"contact_id": contact, "answers": {"Name": "X"}}),
                Some(token),
            )
            .await;
        assert_eq!(submit.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/forms", Some(token)).await.body, json!([]));
    }

    // Every bad answer is named; nothing is written.
    let agent = setup.agent.clone();
    let bad = app
        .post(
            &format!("/forms/{form}/submissions"),
            json!({"contact_id": contact, "answers": {"Topic": "Weather", "Shoe": 42}}),
            Some(&agent),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
    assert_eq!(error_fields(&bad.body), vec!["answers.Shoe", "answers.Name", "answers.Topic"]);

    // A loyalty number another contact holds: 409, and neither the fields nor the submission land.
    let holder = app
        .post(
            "/records/contacts",
            json!({"fields": {"last_name": "Holder", "Loyalty ID": "L-1"}}),
            Some(&setup.admin),
        )
        .await;
    assert_eq!(holder.status, StatusCode::CREATED);
    let clash = app
        .post(
            &format!("/forms/{form}/submissions"),
            json!({"contact_id": contact, "answers": {"Name": "Ann", "Card": "L-1"}}),
            Some(&agent),
        )
        .await;
    assert_eq!(
        (clash.status, clash.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("value_taken")),
        "{:?}",
        clash.body
    );
    // The same value with a trailing space (or another Unicode form) is the same value.
    let spaced = app
        .post(
            &format!("/forms/{form}/submissions"),
            json!({"contact_id": contact, "answers": {"Name": "Ann", "Card": "L-1 "}}),
            Some(&agent),
        )
        .await;
    assert_eq!(spaced.status, StatusCode::CONFLICT, "{:?}", spaced.body);
    assert_eq!(version(&app, &setup.admin, &contact).await, 1);
    assert!(submissions(&app, &setup.admin, &contact).await.is_empty());

    // Staff with the masked permission see the masked header field.
    let admin_in_project = staff_in(&app, &setup.admin, json!(["administrator"]), &setup.project).await;
    let opened = app.get(&format!("/forms/{form}?contact_id={contact}"), Some(&admin_in_project)).await;
    assert_eq!(opened.body["contact"]["fields"]["Salary"], 4321.5);
}

#[tokio::test]
async fn concurrent_submissions_lose_no_update() {
    let app = spawn_app().await;
    let Call { setup, form, contact } = prepare(&app).await;
    let path = format!("/forms/{form}/submissions");
    let submit = |name: &str, version: Option<u64>| {
        let mut body = json!({"contact_id": contact, "answers": {"Name": name}});
        if let Some(version) = version {
            body["version"] = json!(version);
        }
        let (app, path, agent) = (&app, path.clone(), setup.agent.clone());
        async move { app.post(&path, body, Some(&agent)).await.status }
    };
    // Two agents who both saw version 1: one lands, the other is told the contact changed.
    let (first, second) = tokio::join!(submit("Ada", Some(1)), submit("Bea", Some(1)));
    let mut statuses = [first, second];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::PRECONDITION_FAILED]);
    // Without a version, each is applied on the contact as it is: none lost.
    let results = futures::future::join_all(["Cy", "Di", "Ed", "Fi"].map(|name| submit(name, None))).await;
    assert!(results.iter().all(|status| *status == StatusCode::CREATED), "{results:?}");
    assert_eq!(version(&app, &setup.admin, &contact).await, 6);
    assert_eq!(submissions(&app, &setup.admin, &contact).await.len(), 5);
}
