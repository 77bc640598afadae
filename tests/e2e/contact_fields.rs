//! Custom contact fields: seen only by staff of their projects, masked values never leave the
//! server for staff without the permission, unique values held by one contact at a time.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, spawn_app, unique_email, urlencode};

pub struct Setup {
    pub admin: String,
    pub agent: String,
    pub project: String,
}

/// A project "Call centre" with a unique `Loyalty ID` and a masked `Salary`, a "Support"
/// project with `Ticket`, and a sales agent in the call centre.
pub async fn setup(app: &TestApp) -> Setup {
    let (admin, _) = app.admin_token().await;
    let project = |name: &'static str| {
        let admin = admin.clone();
        async move {
            let created = app.post("/admin/projects", json!({"name": name}), Some(&admin)).await;
            assert_eq!(created.status, StatusCode::CREATED);
            created.body["id"].as_str().expect("id").to_owned()
        }
    };
    let (calls, support) = (project("Call centre").await, project("Support").await);
    for (name, field_type, projects, unique, masked) in [
        ("Loyalty ID", json!({"type": "text"}), vec![&calls], true, false),
        ("Salary", json!({"type": "number"}), vec![&calls], false, true),
        ("Ticket", json!({"type": "text"}), vec![&support], false, false),
    ] {
        let body = json!({"name": name, "field_type": field_type, "projects": projects, "unique": unique, "masked": masked});
        let created = app.post("/admin/contact-fields", body, Some(&admin)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    }
    let email = unique_email("agent");
    let body = json!({"email": email, "name": "Agent", "password": PASSWORD, "roles": ["sales_manager"], "projects": [calls]});
    assert_eq!(app.post("/admin/users", body, Some(&admin)).await.status, StatusCode::CREATED);
    let agent = app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("token").to_owned();
    Setup { admin, agent, project: calls }
}

#[tokio::test]
async fn masked_and_foreign_fields_never_reach_an_agent() {
    let app = spawn_app().await;
    let Setup { admin, agent, .. } = setup(&app).await;
    let fields = json!({"first_name": "Ann", "Loyalty ID": "L-1", "Salary": 5000.25, "Ticket": "T-9"});
    let created = app.post("/records/contacts", json!({"fields": fields}), Some(&admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let path = format!("/records/contacts/{}", created.body["id"].as_str().expect("id"));

    let read = app.get(&path, Some(&agent)).await;
    assert_eq!(read.body["fields"]["Loyalty ID"], "L-1");
    assert_eq!(read.body["fields"]["Salary"], Value::Null);
    assert_eq!(read.body["masked"], json!(["Salary"]));
    assert!(read.body["fields"].get("Ticket").is_none(), "another project's field is not there at all");
    // A decimal point: no id or timestamp in the body can spell it by chance.
    assert!(!read.body.to_string().contains("5000.25"));

    let listed = app.get("/records/contacts", Some(&agent)).await;
    assert_eq!(listed.body["items"][0]["masked"], json!(["Salary"]));
    assert!(!listed.body.to_string().contains("5000.25") && !listed.body.to_string().contains("T-9"));

    let by_masked = app
        .get(
            &format!("/records/contacts?where={}", urlencode(r#"{"field":"Salary","op":"gt","value":1000}"#)),
            Some(&agent),
        )
        .await;
    assert_eq!(
        (by_masked.status, by_masked.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("masked_field")),
        "{:?}",
        by_masked.body
    );
    let by_foreign = app
        .get(
            &format!(
                "/records/contacts?where={}",
                urlencode(r#"{"field":"Ticket","op":"eq","value":"T-9"}"#)
            ),
            Some(&agent),
        )
        .await;
    assert_eq!(by_foreign.status, StatusCode::BAD_REQUEST, "another project's field is unknown to the agent");
    let write_foreign =
        app.post("/records/contacts", json!({"fields": {"Ticket": "T-1"}}), Some(&agent)).await;
    assert_eq!(write_foreign.body["errors"][0]["field"], "fields.Ticket");

    let full = app.get(&path, Some(&admin)).await;
    assert_eq!(
        (full.body["fields"]["Salary"].as_f64(), full.body["fields"]["Ticket"].as_str()),
        (Some(5000.25), Some("T-9"))
    );
    assert!(full.body.get("masked").is_none());

    let taken = app.post("/records/contacts", json!({"fields": {"Loyalty ID": "L-1"}}), Some(&agent)).await;
    assert_eq!((taken.status, taken.body["code"].as_str()), (StatusCode::CONFLICT, Some("value_taken")));
    assert!(!taken.body.to_string().contains("L-1"), "an error never echoes the value");
}

#[tokio::test]
async fn twenty_contacts_racing_for_one_unique_value_one_wins() {
    let app = spawn_app().await;
    let Setup { admin, .. } = setup(&app).await;
    let attempts =
        join_all((0..20).map(|_| {
            app.post("/records/contacts", json!({"fields": {"Loyalty ID": "L-RACE"}}), Some(&admin))
        }))
        .await;
    let created = attempts.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{:?}", attempts.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(
        attempts.iter().filter(|r| r.status != StatusCode::CREATED).all(|r| r.status == StatusCode::CONFLICT)
    );
    assert_eq!(
        app.get("/records/contacts", Some(&admin)).await.body["items"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn changing_or_deleting_a_contact_frees_its_unique_value() {
    let app = spawn_app().await;
    let Setup { admin, .. } = setup(&app).await;
    let first = app.post("/records/contacts", json!({"fields": {"Loyalty ID": "L-1"}}), Some(&admin)).await;
    let path = format!("/records/contacts/{}", first.body["id"].as_str().expect("id"));
    let moved = app
        .request(
            Method::PATCH,
            &path,
            Some(json!({"fields": {"Loyalty ID": "L-2"}, "version": 1})),
            Some(&admin),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(
        app.post("/records/contacts", json!({"fields": {"Loyalty ID": "L-1"}}), Some(&admin)).await.status,
        StatusCode::CREATED,
        "L-1 was released"
    );
    let clash = app.post("/records/contacts", json!({"fields": {"Loyalty ID": "L-2"}}), Some(&admin)).await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "L-2 is held");
    let stolen = app
        .request(
            Method::PATCH,
            &path,
            Some(json!({"fields": {"Loyalty ID": "L-1"}, "version": 2})),
            Some(&admin),
        )
        .await;
    assert_eq!((stolen.status, stolen.body["code"].as_str()), (StatusCode::CONFLICT, Some("value_taken")));
    assert_eq!(
        app.get(&path, Some(&admin)).await.body["fields"]["Loyalty ID"],
        "L-2",
        "a refused change changes nothing"
    );

    assert_eq!(app.request(Method::DELETE, &path, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.post("/records/contacts", json!({"fields": {"Loyalty ID": "L-2"}}), Some(&admin)).await.status,
        StatusCode::CREATED,
        "deleting frees L-2"
    );
}

#[tokio::test]
async fn contact_field_definitions_are_validated() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    for (body, field) in [
        (json!({"name": "email", "field_type": {"type": "text"}, "projects": []}), "name"),
        (json!({"name": "a.b", "field_type": {"type": "text"}, "projects": []}), "name"),
        (json!({"name": "Tags", "field_type": {"type": "list"}, "projects": [], "unique": true}), "unique"),
        (
            json!({"name": "X", "field_type": {"type": "text"}, "projects": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]}),
            "projects[0]",
        ),
        (json!({"name": "X", "field_type": {"type": "colour"}, "projects": []}), "field_type"),
    ] {
        let response = app.post("/admin/contact-fields", body.clone(), Some(&admin)).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            response.body["errors"][0]["field"].as_str().is_some_and(|f| f.starts_with(field)),
            "{body}: {:?}",
            response.body
        );
    }
    let ok = json!({"name": "Shoe size", "field_type": {"type": "number"}, "projects": []});
    assert_eq!(app.post("/admin/contact-fields", ok.clone(), Some(&admin)).await.status, StatusCode::CREATED);
    let twice = app.post("/admin/contact-fields", ok, Some(&admin)).await;
    assert_eq!((twice.status, twice.body["code"].as_str()), (StatusCode::CONFLICT, Some("field_exists")));
}

#[tokio::test]
async fn masking_a_field_or_moving_it_takes_effect_at_once() {
    let app = spawn_app().await;
    let Setup { admin, agent, project } = setup(&app).await;
    let created =
        app.post("/records/contacts", json!({"fields": {"Loyalty ID": "L-77"}}), Some(&admin)).await;
    let path = format!("/records/contacts/{}", created.body["id"].as_str().expect("id"));
    assert_eq!(app.get(&path, Some(&agent)).await.body["fields"]["Loyalty ID"], "L-77");

    let projects = app.get("/admin/projects", Some(&admin)).await.body;
    let support = projects
        .as_array()
        .expect("projects")
        .iter()
        .find(|p| p["name"] == "Support")
        .expect("support")["id"]
        .clone();
    let field = "/admin/contact-fields/Loyalty%20ID";
    // Two admins change different things at once; neither undoes the other.
    let (masked, moved) = tokio::join!(
        app.request(Method::PATCH, field, Some(json!({"masked": true})), Some(&admin)),
        app.request(Method::PATCH, field, Some(json!({"projects": [project, support]})), Some(&admin)),
    );
    assert_eq!((masked.status, moved.status), (StatusCode::OK, StatusCode::OK));
    let listed = app.get("/admin/contact-fields", Some(&admin)).await.body;
    let stored =
        listed.as_array().expect("fields").iter().find(|f| f["name"] == "Loyalty ID").expect("field").clone();
    assert_eq!(
        (stored["masked"].clone(), stored["projects"].as_array().map(Vec::len)),
        (json!(true), Some(2))
    );
    assert_eq!(stored["unique"], json!(true), "uniqueness is fixed");

    let read = app.get(&path, Some(&agent)).await.body;
    // Every masked field is listed, set (Loyalty ID) or not (Salary).
    assert_eq!(
        (read["fields"]["Loyalty ID"].clone(), read["masked"].clone()),
        (Value::Null, json!(["Loyalty ID", "Salary"]))
    );
    let filter = app.get("/records/contacts?Loyalty%20ID=L-77", Some(&agent)).await;
    assert_eq!(filter.body["code"], "masked_field");

    let away = app.request(Method::PATCH, field, Some(json!({"projects": [support]})), Some(&admin)).await;
    assert_eq!(away.status, StatusCode::OK);
    assert!(
        app.get(&path, Some(&agent)).await.body["fields"].get("Loyalty ID").is_none(),
        "another project's now"
    );

    for (path, body, status) in [
        ("/admin/contact-fields/Nope", json!({"masked": true}), StatusCode::NOT_FOUND),
        (field, json!({"projects": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]}), StatusCode::BAD_REQUEST),
        (field, json!({"unique": false}), StatusCode::BAD_REQUEST),
        ("/admin/projects/01ARZ3NDEKTSV4RRFFQ69G5FAV", json!({"name": "X"}), StatusCode::NOT_FOUND),
        (&format!("/admin/projects/{project}"), json!({"name": " "}), StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(app.request(Method::PATCH, path, Some(body), Some(&admin)).await.status, status, "{path}");
    }
    // A change of nothing (as a merge patch may be) answers the field as it is.
    let before = app.get("/admin/contact-fields", Some(&admin)).await.body;
    for nothing in [json!({}), json!({"projects": null, "masked": null})] {
        let unchanged = app.request(Method::PATCH, field, Some(nothing), Some(&admin)).await;
        assert_eq!(unchanged.status, StatusCode::OK);
        assert!(before.as_array().expect("fields").contains(&unchanged.body), "{}", unchanged.body);
    }
    let gone = app.request(Method::PATCH, "/admin/contact-fields/Nope", Some(json!({})), Some(&admin)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // Unmasking shows the values: only someone who may see them now can do it.
    let role = json!({"id": "configurator", "name": "Configurator", "permissions": ["settings.manage"]});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let email = unique_email("configurator");
    let body = json!({"email": email, "name": "C", "password": PASSWORD, "roles": ["configurator"]});
    assert_eq!(app.post("/admin/users", body, Some(&admin)).await.status, StatusCode::CREATED);
    let configurator =
        app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("token").to_owned();
    let salary = "/admin/contact-fields/Salary";
    let unmask =
        app.request(Method::PATCH, salary, Some(json!({"masked": false})), Some(&configurator)).await;
    assert_eq!(
        (unmask.status, unmask.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("beyond_own_rights"))
    );
    let mask = app.request(Method::PATCH, field, Some(json!({"masked": true})), Some(&configurator)).await;
    assert_eq!(mask.status, StatusCode::OK, "masking hides, so anyone managing settings may");
    let unmasked = app.request(Method::PATCH, salary, Some(json!({"masked": false})), Some(&admin)).await;
    assert_eq!(unmasked.body["masked"], json!(false));

    let renamed = app
        .request(
            Method::PATCH,
            &format!("/admin/projects/{project}"),
            Some(json!({"name": "Calls"})),
            Some(&admin),
        )
        .await;
    assert_eq!(renamed.body["name"], "Calls");
    assert_eq!(
        app.request(Method::PATCH, field, Some(json!({"masked": true})), Some(&agent)).await.status,
        StatusCode::FORBIDDEN
    );
}
