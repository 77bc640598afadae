//! Labels: CRUD with unique names, attach to customers, no deleting a label in use.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{error_fields, spawn_app, unique_email};

#[tokio::test]
async fn label_lifecycle() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let token = Some(admin.as_str());

    let created = app
        .post(
            "/admin/labels",
            json!({"name": "VIP", "description": "Top customers", "colour": "#FFAA00"}),
            token,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["colour"], "#ffaa00");
    let id = created.body["id"].as_str().expect("id").to_owned();

    let duplicate = app.post("/admin/labels", json!({"name": "vip", "colour": "#000000"}), token).await;
    assert_eq!(
        (duplicate.status, duplicate.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("label_name_taken"))
    );
    let bad = app.post("/admin/labels", json!({"name": "", "colour": "orange"}), token).await;
    let fields: Vec<&str> = error_fields(&bad.body);
    assert_eq!((bad.status, fields), (StatusCode::BAD_REQUEST, vec!["name", "colour"]));

    let other = app.post("/admin/labels", json!({"name": "Wholesale", "colour": "#00ff00"}), token).await;
    let other_id = other.body["id"].as_str().expect("id").to_owned();
    let clash = app
        .request(Method::PATCH, &format!("/admin/labels/{other_id}"), Some(json!({"name": "VIP"})), token)
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    let renamed = app
        .request(
            Method::PATCH,
            &format!("/admin/labels/{other_id}"),
            Some(json!({"name": "Retail", "description": "Shops"})),
            token,
        )
        .await;
    assert_eq!(
        (renamed.status, renamed.body["name"].as_str(), renamed.body["colour"].as_str()),
        (StatusCode::OK, Some("Retail"), Some("#00ff00"))
    );
    let reuse_old_name =
        app.post("/admin/labels", json!({"name": "Wholesale", "colour": "#0000ff"}), token).await;
    assert_eq!(reuse_old_name.status, StatusCode::CREATED, "a rename frees the old name");

    let listed = app.get("/admin/labels?limit=2", token).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(2));
    assert!(listed.body["next_cursor"].is_string());

    // Attach to a customer: usage counts, deleting is refused until detached.
    let email = unique_email("labelled");
    app.register(&email, "person").await;
    let customer = app.account_id(&email).await;
    let attach = format!("/admin/customers/{customer}/labels/{id}");
    for _ in 0..2 {
        assert_eq!(app.request(Method::PUT, &attach, None, token).await.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(
        app.get(&format!("/admin/labels/{id}"), token).await.body["usage"],
        1,
        "attaching twice counts once"
    );
    let in_use = app.request(Method::DELETE, &format!("/admin/labels/{id}"), None, token).await;
    assert_eq!((in_use.status, in_use.body["code"].as_str()), (StatusCode::CONFLICT, Some("label_in_use")));
    let queue = app.get("/admin/registrations?status=pending_verification", token).await;
    assert_eq!(queue.body["items"][0]["labels"], json!([id]));

    let ghost_customer = app
        .request(
            Method::PUT,
            &format!("/admin/customers/{}/labels/{id}", ulid::Ulid::generate()),
            None,
            token,
        )
        .await;
    assert_eq!(ghost_customer.status, StatusCode::NOT_FOUND);
    let ghost_label = app
        .request(
            Method::PUT,
            &format!("/admin/customers/{customer}/labels/{}", ulid::Ulid::generate()),
            None,
            token,
        )
        .await;
    assert_eq!(ghost_label.status, StatusCode::NOT_FOUND);

    for _ in 0..2 {
        assert_eq!(app.request(Method::DELETE, &attach, None, token).await.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(app.get(&format!("/admin/labels/{id}"), token).await.body["usage"], 0);
    assert_eq!(
        app.request(Method::DELETE, &format!("/admin/labels/{id}"), None, token).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&format!("/admin/labels/{id}"), token).await.status, StatusCode::NOT_FOUND);
    let name_free = app.post("/admin/labels", json!({"name": "VIP", "colour": "#ffaa00"}), token).await;
    assert_eq!(name_free.status, StatusCode::CREATED, "deleting frees the name");
}

#[tokio::test]
async fn a_cursor_continues_only_the_list_it_came_from() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    for name in ["VIP", "Partner"] {
        let label = json!({"name": name, "description": "", "colour": "#aa0000"});
        assert_eq!(app.post("/admin/labels", label, Some(&admin)).await.status, StatusCode::CREATED);
    }
    let labels = app.get("/admin/labels?limit=1", Some(&admin)).await;
    let cursor = labels.body["next_cursor"].as_str().expect("a labels cursor").to_owned();
    // Signed by Portico, but for another list: refused before it reaches DynamoDB.
    let queue = app.get(&format!("/admin/registrations?cursor={cursor}"), Some(&admin)).await;
    assert_eq!(
        (queue.status, queue.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );
    let records = app.get(&format!("/records/tasks?cursor={cursor}"), Some(&admin)).await;
    assert_eq!(records.body["code"], "invalid_cursor");
    let next = app.get(&format!("/admin/labels?limit=1&cursor={cursor}"), Some(&admin)).await;
    assert_eq!(next.status, StatusCode::OK, "{:?}", next.body);
}
