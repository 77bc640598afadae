//! Custom roles: made, assigned, changed and deleted by admins, counted by their holders, and
//! never a way to hand out rights one does not hold.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ulid::Ulid;

use crate::support::{PASSWORD, Response, TestApp, error_fields, spawn_app, unique_email};

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
    let fields: Vec<&str> = error_fields(&bad.body);
    assert_eq!((bad.status, fields), (StatusCode::BAD_REQUEST, vec!["id", "name", "modules.spaceships"]));
    let letters = app
        .post("/admin/roles", json!({"id": id, "name": "N", "modules": {"cases": "rx"}}), Some(&admin))
        .await;
    assert_eq!(letters.status, StatusCode::BAD_REQUEST, "{:?}", letters.body);
    let builtin = app.post("/admin/roles", json!({"id": "field_agent", "name": "Mine"}), Some(&admin)).await;
    assert_eq!(codes(&builtin), (StatusCode::CONFLICT, Some("role_exists")));

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
    assert_eq!(
        codes(&app.post("/admin/roles", new_role, Some(&manager)).await),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

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

#[tokio::test]
async fn rights_taken_away_can_t_be_handed_back_on_an_old_token() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let role_id = unique_role_id("deputy");
    let role = json!({"id": role_id, "name": "Deputy", "permissions": ["users.manage", "settings.manage"]});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let (deputy, _, token) = staff_with(&app, &admin, json!([role_id])).await;
    assert_eq!(set_roles(&app, &admin, &deputy, json!([])).await.status, StatusCode::OK);

    // The deputy's token still claims both permissions for a few minutes; the store says no.
    let back = set_roles(&app, &token, &deputy, json!([role_id])).await;
    assert_eq!(codes(&back), (StatusCode::FORBIDDEN, Some("forbidden")));
    let copy = json!({"id": unique_role_id("copy"), "name": "Copy", "permissions": ["users.manage"]});
    assert_eq!(
        codes(&app.post("/admin/roles", copy, Some(&token)).await),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let widened = app
        .request(
            Method::PUT,
            &format!("/admin/roles/{role_id}"),
            Some(json!({"name": "Deputy"})),
            Some(&token),
        )
        .await;
    assert_eq!(codes(&widened), (StatusCode::FORBIDDEN, Some("forbidden")));
    assert_eq!(holders(&app, &admin, &role_id).await, json!(0));
}

#[tokio::test]
async fn a_role_is_changed_only_by_someone_holding_what_it_grants_before_and_after() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let powerful = unique_role_id("powerful");
    let role =
        json!({"id": powerful, "name": "Powerful", "permissions": ["users.manage", "contacts.view_masked"]});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let settings_role = unique_role_id("settings_only");
    let role = json!({"id": settings_role, "name": "Settings", "permissions": ["settings.manage"]});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let (_, _, settings) = staff_with(&app, &admin, json!([settings_role])).await;

    // Stripping the role down to nothing would be within the caller's rights; what it granted is not.
    let stripped = app
        .request(
            Method::PUT,
            &format!("/admin/roles/{powerful}"),
            Some(json!({"name": "Nothing"})),
            Some(&settings),
        )
        .await;
    assert_eq!(codes(&stripped), (StatusCode::FORBIDDEN, Some("beyond_own_rights")));
    let kept = app.get(&format!("/admin/roles/{powerful}"), Some(&admin)).await.body;
    assert_eq!(kept["permissions"], json!(["users.manage", "contacts.view_masked"]));
    let renamed = app
        .request(
            Method::PUT,
            &format!("/admin/roles/{powerful}"),
            Some(json!({"id": "other", "name": "X"})),
            Some(&admin),
        )
        .await;
    assert_eq!((renamed.status, error_fields(&renamed.body)), (StatusCode::BAD_REQUEST, vec!["id"]));
}

#[tokio::test]
async fn a_user_manager_gives_access_only_to_their_own_projects() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let project = |name: &'static str| {
        let admin = admin.clone();
        let app = &app;
        async move {
            app.post("/admin/projects", json!({"name": name}), Some(&admin)).await.body["id"]
                .as_str()
                .expect("id")
                .to_owned()
        }
    };
    let (own, foreign) = (project("Own").await, project("Foreign").await);
    let role_id = unique_role_id("hr");
    let role = json!({"id": role_id, "name": "HR", "permissions": ["users.manage"]});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let email = unique_email("hr");
    let body =
        json!({"email": email, "name": "HR", "password": PASSWORD, "roles": [role_id], "projects": [own]});
    assert_eq!(app.post("/admin/users", body, Some(&admin)).await.status, StatusCode::CREATED);
    let hr = app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("token").to_owned();

    let user = |projects: Value| json!({"email": unique_email("new"), "name": "N", "password": PASSWORD, "roles": [], "projects": projects});
    let refused = app.post("/admin/users", user(json!([foreign])), Some(&hr)).await;
    assert_eq!(codes(&refused), (StatusCode::FORBIDDEN, Some("beyond_own_rights")));
    let created = app.post("/admin/users", user(json!([own])), Some(&hr)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id");
    let moved = app
        .request(
            Method::PATCH,
            &format!("/admin/users/{id}"),
            Some(json!({"projects": [own, foreign]})),
            Some(&hr),
        )
        .await;
    assert_eq!(codes(&moved), (StatusCode::FORBIDDEN, Some("beyond_own_rights")));

    // A colleague of another project is out of reach: no project removed, no roles, no disabling.
    let colleague = app.post("/admin/users", user(json!([own, foreign])), Some(&admin)).await;
    let colleague = colleague.body["id"].as_str().expect("id").to_owned();
    let path = format!("/admin/users/{colleague}");
    let removed = app.request(Method::PATCH, &path, Some(json!({"projects": [own]})), Some(&hr)).await;
    assert_eq!(codes(&removed), (StatusCode::FORBIDDEN, Some("beyond_own_rights")));
    let roles = app.request(Method::PATCH, &path, Some(json!({"roles": []})), Some(&hr)).await;
    assert_eq!(codes(&roles), (StatusCode::FORBIDDEN, Some("beyond_own_rights")));
    let disabled = app.post(&format!("{path}/disable"), json!({}), Some(&hr)).await;
    assert_eq!(codes(&disabled), (StatusCode::FORBIDDEN, Some("beyond_own_rights")));
    let listed = app.get("/admin/users", Some(&admin)).await.body;
    let stored = listed["items"]
        .as_array()
        .or(listed.as_array())
        .expect("users")
        .iter()
        .find(|u| u["id"] == colleague.as_str())
        .expect("colleague")
        .clone();
    assert_eq!(
        (stored["projects"].as_array().map(Vec::len), stored["status"].as_str()),
        (Some(2), Some("active"))
    );
    // Their own project's user is theirs to disable.
    let disabled = app.post(&format!("/admin/users/{id}/disable"), json!({}), Some(&hr)).await;
    assert_eq!(disabled.status, StatusCode::OK, "{:?}", disabled.body);
}

async fn put_role(app: &TestApp, token: &str, id: &str, permissions: Value) -> Response {
    let body = json!({"name": "Role", "permissions": permissions});
    app.request(Method::PUT, &format!("/admin/roles/{id}"), Some(body), Some(token)).await
}

#[tokio::test]
async fn a_role_is_not_narrowed_under_the_last_administrator() {
    let app = spawn_app().await;
    let (admin, admin_email) = app.admin_token().await;
    let both = json!(["settings.manage", "users.manage"]);
    let chief = unique_role_id("chief");
    let role = json!({"id": chief, "name": "Chief", "permissions": both});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let (chief_user, _, chief_token) = staff_with(&app, &admin, json!([chief])).await;
    // The seeded administrator steps down: the holder of the custom role is the last one.
    let admin_id = app.account_id(&admin_email).await;
    assert_eq!(set_roles(&app, &admin, &admin_id, json!([])).await.status, StatusCode::OK);

    let narrowed = put_role(&app, &chief_token, &chief, json!(["users.manage"])).await;
    assert_eq!(codes(&narrowed), (StatusCode::CONFLICT, Some("last_administrator")));
    let kept = app.get(&format!("/admin/roles/{chief}"), Some(&chief_token)).await.body;
    assert_eq!(kept["permissions"], both, "nothing changed");
    let own = set_roles(&app, &chief_token, &chief_user, json!([])).await;
    assert_eq!(codes(&own), (StatusCode::CONFLICT, Some("last_administrator")), "nor by dropping the role");
    let renamed = put_role(&app, &chief_token, &chief, both.clone()).await;
    assert_eq!(renamed.status, StatusCode::OK, "a change that keeps both permissions: {:?}", renamed.body);

    // Two holders through the one role: narrowing it would still leave none.
    let (deputy, _, deputy_token) = staff_with(&app, &chief_token, json!([chief])).await;
    let narrowed = put_role(&app, &chief_token, &chief, json!(["users.manage"])).await;
    assert_eq!(codes(&narrowed), (StatusCode::CONFLICT, Some("last_administrator")));

    // The deputy also gets settings.manage from another role: narrowing the first leaves them.
    let backup = unique_role_id("backup");
    let role = json!({"id": backup, "name": "Backup", "permissions": both});
    assert_eq!(app.post("/admin/roles", role, Some(&chief_token)).await.status, StatusCode::CREATED);
    assert_eq!(set_roles(&app, &chief_token, &deputy, json!([chief, backup])).await.status, StatusCode::OK);
    let narrowed = put_role(&app, &chief_token, &chief, json!(["users.manage"])).await;
    assert_eq!(narrowed.status, StatusCode::OK, "{:?}", narrowed.body);
    assert_eq!(holders(&app, &chief_token, &chief).await, json!(2));

    // The deputy is now the last: users.manage through one role, settings.manage through both.
    let combined = put_role(&app, &deputy_token, &backup, json!(["settings.manage"])).await;
    assert_eq!(combined.status, StatusCode::OK, "the pair held across two roles: {:?}", combined.body);
    let last = put_role(&app, &deputy_token, &backup, json!([])).await;
    assert_eq!(codes(&last), (StatusCode::CONFLICT, Some("last_administrator")));
    let last = put_role(&app, &deputy_token, &chief, json!([])).await;
    assert_eq!(codes(&last), (StatusCode::CONFLICT, Some("last_administrator")));
}
