//! Custom roles: made, assigned, changed and deleted by admins, counted by their holders, and
//! never a way to hand out rights one does not hold.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ulid::Ulid;

use crate::support::{PASSWORD, Response, TestApp, spawn_app, unique_email};

/// Roles are shared by every test on the table: each test makes its own.
fn unique_role_id(name: &str) -> String {
    format!("{name}_{}", Ulid::generate().to_string().to_lowercase())
}

/// Creates a staff user with `roles`; returns their id, address and access token.
async fn staff_with(app: &TestApp, admin: &str, roles: Value) -> (String, String, String) {
    let email = unique_email("staff");
    let created = app
        .post(
            "/admin/users",
            json!({"email": email, "name": "Staff", "password": PASSWORD, "roles": roles}),
            Some(admin),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let signed_in = app.sign_in(&email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    (
        created.body["id"].as_str().expect("id").to_owned(),
        email,
        signed_in.body["access_token"].as_str().expect("token").to_owned(),
    )
}

async fn holders(app: &TestApp, admin: &str, role: &str) -> Value {
    app.get(&format!("/admin/roles/{role}"), Some(admin)).await.body["users"].clone()
}

async fn set_roles(app: &TestApp, token: &str, user: &str, roles: Value) -> Response {
    app.request(Method::PATCH, &format!("/admin/users/{user}"), Some(json!({"roles": roles})), Some(token))
        .await
}

fn codes(response: &Response) -> (StatusCode, Option<&str>) {
    (response.status, response.body["code"].as_str())
}

#[tokio::test]
async fn custom_roles_are_made_assigned_changed_and_deleted() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let id = unique_role_id("night");

    let bad = app
        .post(
            "/admin/roles",
            json!({"id": "Night Shift", "name": " ", "modules": {"spaceships": "r"}}),
            Some(&admin),
        )
        .await;
    let fields: Vec<&str> =
        bad.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!((bad.status, fields), (StatusCode::BAD_REQUEST, vec!["id", "name", "modules.spaceships"]));
    let letters = app
        .post("/admin/roles", json!({"id": id, "name": "N", "modules": {"cases": "rx"}}), Some(&admin))
        .await;
    assert_eq!(letters.status, StatusCode::BAD_REQUEST, "{:?}", letters.body);
    let builtin = app.post("/admin/roles", json!({"id": "field_agent", "name": "Mine"}), Some(&admin)).await;
    assert_eq!(builtin.status, StatusCode::BAD_REQUEST);

    let definition = json!({
        "id": id, "name": "Night shift", "permissions": ["registrations.approve"],
        "modules": {"cases": "r", "tasks": "rw", "deals": ""}
    });
    let created = app.post("/admin/roles", definition.clone(), Some(&admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["modules"], json!({"cases": "r", "tasks": "rw"}), "empty access is dropped");
    assert_eq!((created.body["builtin"].clone(), created.body["users"].clone()), (json!(false), json!(0)));
    assert_eq!(
        codes(&app.post("/admin/roles", definition, Some(&admin)).await),
        (StatusCode::CONFLICT, Some("role_exists"))
    );
    let listed = app.get("/admin/roles", Some(&admin)).await.body;
    let ids: Vec<&str> = listed.as_array().expect("roles").iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids[..4], ["administrator", "sales_manager", "tech_support", "field_agent"]);
    assert!(ids.contains(&id.as_str()));

    let (user, email, token) = staff_with(&app, &admin, json!([id])).await;
    assert_eq!(holders(&app, &admin, &id).await, json!(1));
    assert_eq!(app.get("/records/cases", Some(&token)).await.status, StatusCode::OK);
    assert_eq!(app.get("/records/tasks", Some(&token)).await.status, StatusCode::OK);
    assert_eq!(app.get("/records/deals", Some(&token)).await.status, StatusCode::FORBIDDEN);
    let case = app.post("/records/cases", json!({"fields": {"subject": "Broken"}}), Some(&token)).await;
    assert_eq!(case.status, StatusCode::FORBIDDEN, "read only");
    assert_eq!(app.get("/admin/registrations", Some(&token)).await.status, StatusCode::OK, "may approve");
    assert_eq!(app.get("/admin/users", Some(&token)).await.status, StatusCode::FORBIDDEN);

    let changed = app
        .request(
            Method::PUT,
            &format!("/admin/roles/{id}"),
            Some(json!({"name": "Night shift", "modules": {"cases": "rw"}})),
            Some(&admin),
        )
        .await;
    assert_eq!((changed.status, changed.body["permissions"].clone()), (StatusCode::OK, json!([])));
    // The holder gets the new rights with their next token.
    let signed_in = app.sign_in(&email, PASSWORD).await.body;
    let token = signed_in["access_token"].as_str().expect("token");
    assert_eq!(app.get("/records/tasks", Some(token)).await.status, StatusCode::FORBIDDEN);
    let case = app.post("/records/cases", json!({"fields": {"subject": "Broken"}}), Some(token)).await;
    assert_eq!(case.status, StatusCode::CREATED, "{:?}", case.body);
    assert_eq!(app.get("/admin/registrations", Some(token)).await.status, StatusCode::FORBIDDEN);

    let in_use = app.request(Method::DELETE, &format!("/admin/roles/{id}"), None, Some(&admin)).await;
    assert_eq!(codes(&in_use), (StatusCode::CONFLICT, Some("role_in_use")));
    assert_eq!(set_roles(&app, &admin, &user, json!(["tech_support"])).await.status, StatusCode::OK);
    assert_eq!(holders(&app, &admin, &id).await, json!(0));
    let deleted = app.request(Method::DELETE, &format!("/admin/roles/{id}"), None, Some(&admin)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/admin/roles/{id}"), Some(&admin)).await.status, StatusCode::NOT_FOUND);
    let gone = set_roles(&app, &admin, &user, json!([id])).await;
    assert_eq!(
        (gone.status, gone.body["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("roles[0]"))
    );

    for method in [Method::PUT, Method::DELETE] {
        let body = (method == Method::PUT).then(|| json!({"name": "Mine"}));
        let refused = app.request(method, "/admin/roles/administrator", body, Some(&admin)).await;
        assert_eq!(codes(&refused), (StatusCode::CONFLICT, Some("builtin_role")));
    }
}

#[tokio::test]
async fn nobody_hands_out_rights_they_do_not_hold() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let manager_role = unique_role_id("user_admin");
    let role = json!({"id": manager_role, "name": "User admin", "permissions": ["users.manage"], "modules": {"cases": "r"}});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let (_, _, manager) = staff_with(&app, &admin, json!([manager_role])).await;

    let email = unique_email("escalate");
    let user = |roles: Value| json!({"email": email, "name": "X", "password": PASSWORD, "roles": roles});
    let escalating = app.post("/admin/users", user(json!(["administrator"])), Some(&manager)).await;
    assert_eq!(codes(&escalating), (StatusCode::FORBIDDEN, Some("beyond_own_rights")));
    assert!(escalating.body["detail"].as_str().expect("detail").contains("settings.manage"));
    let beyond_module = app.post("/admin/users", user(json!(["tech_support"])), Some(&manager)).await;
    assert_eq!(codes(&beyond_module), (StatusCode::FORBIDDEN, Some("beyond_own_rights")));
    let peer = app.post("/admin/users", user(json!([manager_role])), Some(&manager)).await;
    assert_eq!(peer.status, StatusCode::CREATED, "{:?}", peer.body);

    // Nor strip someone who holds more than they do.
    let (admin_user, _, _) = staff_with(&app, &admin, json!(["administrator"])).await;
    let demoting = set_roles(&app, &manager, &admin_user, json!([])).await;
    assert_eq!(codes(&demoting), (StatusCode::FORBIDDEN, Some("beyond_own_rights")));
    let new_role = json!({"id": unique_role_id("x"), "name": "X"});
    assert_eq!(app.post("/admin/roles", new_role, Some(&manager)).await.status, StatusCode::FORBIDDEN);

    // A settings manager defines roles only within their own rights.
    let settings_role = unique_role_id("settings");
    let role = json!({"id": settings_role, "name": "Settings", "permissions": ["settings.manage"]});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let (_, _, settings) = staff_with(&app, &admin, json!([settings_role])).await;
    let masked =
        json!({"id": unique_role_id("peek"), "name": "Peek", "permissions": ["contacts.view_masked"]});
    assert_eq!(
        codes(&app.post("/admin/roles", masked, Some(&settings)).await),
        (StatusCode::FORBIDDEN, Some("beyond_own_rights"))
    );
    let widened = app
        .request(
            Method::PUT,
            &format!("/admin/roles/{settings_role}"),
            Some(json!({"name": "Settings", "permissions": ["settings.manage", "users.manage"]})),
            Some(&settings),
        )
        .await;
    assert_eq!(codes(&widened), (StatusCode::FORBIDDEN, Some("beyond_own_rights")));
}

#[tokio::test]
async fn a_role_deleted_while_being_assigned_is_either_held_or_gone() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    for _ in 0..3 {
        let id = unique_role_id("racing");
        let role = json!({"id": id, "name": "Racing", "modules": {"tasks": "r"}});
        assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
        let (user, _, _) = staff_with(&app, &admin, json!([])).await;
        let path = format!("/admin/roles/{id}");
        let (assigned, deleted) = tokio::join!(
            set_roles(&app, &admin, &user, json!([id])),
            app.request(Method::DELETE, &path, None, Some(&admin)),
        );
        match (assigned.status, deleted.status) {
            (StatusCode::OK, StatusCode::CONFLICT) => assert_eq!(holders(&app, &admin, &id).await, json!(1)),
            (StatusCode::BAD_REQUEST, StatusCode::NO_CONTENT) => {
                let users = app.get("/admin/users", Some(&admin)).await.body;
                let held =
                    users.as_array().expect("users").iter().find(|u| u["id"] == user.as_str()).expect("user")
                        ["roles"]
                        .clone();
                assert_eq!(held, json!([]), "a deleted role is never assigned");
            }
            other => panic!("assignment and deletion both won or both lost: {other:?}"),
        }
    }
}
