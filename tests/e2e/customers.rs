//! Customers for staff (issue 19's API): the list by state, a search by the start of a name or
//! address served from indexes, and one customer's page with labels and devices.

use portico::domain::BuiltinRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, spawn_app, unique_email};

/// Registers an active customer named `name` with an address starting `local`; its id.
async fn customer(app: &TestApp, name: &str, local: &str) -> (String, String) {
    let email = unique_email(local);
    let body = json!({"email": email, "password": PASSWORD, "name": name, "account_type": "person"});
    assert_eq!(app.post("/registrations", body, None).await.status, StatusCode::ACCEPTED);
    (app.account_id(&email).await, email)
}

fn names(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|item| item["name"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn staff_find_customers_by_the_start_of_a_name_or_address() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    app.set_policy(&admin, json!({"notify_on_registration": false, "admin_approval": "none", "device_confirmation": false, "email_verification": "none"})).await;
    customer(&app, "Anna Berg", "berg").await;
    let (_, ann) = customer(&app, "Ann Lee", "lee").await;
    customer(&app, "Bob Ray", "annex").await;

    let found = app.get("/admin/customers?q=ann", Some(&admin)).await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    assert_eq!(
        names(&found.body),
        ["Ann Lee", "Anna Berg"],
        "names by their start, ignoring case, in name order"
    );
    let by_address = app.get(&format!("/admin/customers?q={}", &ann[..8].to_uppercase()), Some(&admin)).await;
    assert_eq!(names(&by_address.body), Vec::<&str>::new(), "without an @ the name is searched");
    let exact =
        app.get(&format!("/admin/customers?q={}", crate::support::urlencode(&ann)), Some(&admin)).await;
    assert_eq!(names(&exact.body), ["Ann Lee"]);
    let all = app.get("/admin/customers", Some(&admin)).await;
    assert_eq!(names(&all.body).len(), 3);
    let pending = app.get("/admin/customers?status=pending_approval&q=ann", Some(&admin)).await;
    assert_eq!(names(&pending.body), Vec::<&str>::new());

    // A cursor belongs to its search: another search's is refused, not followed.
    let first = app.get("/admin/customers?q=ann&limit=1", Some(&admin)).await;
    let cursor = first.body["next_cursor"].as_str().expect("a next page").to_owned();
    let next = app.get(&format!("/admin/customers?q=ann&limit=1&cursor={cursor}"), Some(&admin)).await;
    assert_eq!(names(&next.body), ["Anna Berg"]);
    let foreign = app.get(&format!("/admin/customers?q=bob&cursor={cursor}"), Some(&admin)).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST, "{:?}", foreign.body);
    let long = app.get(&format!("/admin/customers?q={}", "x".repeat(101)), Some(&admin)).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    let support = app.staff_token(BuiltinRole::TechSupport).await;
    assert_eq!(app.get("/admin/customers", Some(&support)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_customer_s_page_shows_labels_with_colours_and_trusted_devices() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    app.set_policy(&admin, json!({"notify_on_registration": false, "admin_approval": "none", "device_confirmation": false, "email_verification": "none"})).await;
    let (id, email) = customer(&app, "Vera Vip", "vera").await;
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);
    let label = app.post("/admin/labels", json!({"name": "VIP", "colour": "#ffaa00"}), Some(&admin)).await;
    let label = label.body["id"].as_str().expect("id").to_owned();
    let attach = format!("/admin/customers/{id}/labels/{label}");
    assert_eq!(app.request(Method::PUT, &attach, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);

    let page = app.get(&format!("/admin/customers/{id}"), Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    assert_eq!(
        (page.body["name"].as_str(), page.body["status"].as_str()),
        (Some("Vera Vip"), Some("active"))
    );
    assert_eq!(
        page.body["label_details"],
        json!([{"id": label, "name": "VIP", "description": "", "colour": "#ffaa00", "usage": 1}])
    );
    let devices = page.body["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 1, "the device it signed in from: {devices:?}");
    assert!(devices[0].get("device_hash").is_none(), "the device id's hash is never shown");

    let staff_id = app.staff_member(BuiltinRole::SalesManager).await.1;
    assert_eq!(
        app.get(&format!("/admin/customers/{staff_id}"), Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/admin/customers/not-an-id", Some(&admin)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn customers_from_before_the_search_are_given_their_keys() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    app.set_policy(&admin, json!({"notify_on_registration": false, "admin_approval": "none", "device_confirmation": false, "email_verification": "none"})).await;
    let (id, _) = customer(&app, "Olga Old", "olga").await;
    // As an account written before the search keys existed.
    app.dynamodb
        .update_item()
        .table_name(app.state.store.table())
        .key("PK", AttributeValue::S(format!("ACCOUNT#{id}")))
        .key("SK", AttributeValue::S("ACCOUNT".into()))
        .update_expression("REMOVE GSI4SK, GSI5SK")
        .send()
        .await
        .expect("strip the keys");
    assert_eq!(names(&app.get("/admin/customers?q=olga", Some(&admin)).await.body), Vec::<&str>::new());
    assert_eq!(app.state.store.index_customers_for_search().await.expect("indexed"), 1);
    assert_eq!(names(&app.get("/admin/customers?q=olga", Some(&admin)).await.body), ["Olga Old"]);
}
