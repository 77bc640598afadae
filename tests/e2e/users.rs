//! Staff users: created by an administrator with roles; a role change reaches the user's next
//! token.

use portico::domain::BuiltinRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, Response, TestApp, error_fields, spawn_app, unique_email};

#[tokio::test]
async fn an_administrator_creates_staff_and_changes_their_roles() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = unique_email("agent");
    let bad = app
        .post(
            "/admin/users",
            json!({"email": "nope", "name": "", "password": "short", "roles": ["wizard"]}),
            Some(&admin),
        )
        .await;
    let fields: Vec<&str> = error_fields(&bad.body);
    assert_eq!(
        (bad.status, fields),
        (StatusCode::BAD_REQUEST, vec!["email", "password", "name", "roles[0]"])
    );

    let created = app
        .post(
            "/admin/users",
            json!({"email": email, "name": "Field Agent", "password": PASSWORD, "roles": ["field_agent"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let again = app
        .post(
            "/admin/users",
            json!({"email": email, "name": "Twice", "password": PASSWORD, "roles": []}),
            Some(&admin),
        )
        .await;
    assert_eq!((again.status, again.body["code"].as_str()), (StatusCode::CONFLICT, Some("email_taken")));
    let listed = app.get("/admin/users", Some(&admin)).await;
    assert!(listed.body.as_array().expect("users").iter().any(|u| u["email"] == email.as_str()));

    let signed_in = app.sign_in(&email, PASSWORD).await.body;
    let token = signed_in["access_token"].as_str().expect("token");
    assert_eq!(app.get("/records/tasks", Some(token)).await.status, StatusCode::OK);
    assert_eq!(app.get("/records/deals", Some(token)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/admin/users", Some(token)).await.status, StatusCode::FORBIDDEN, "no users.manage");

    let id = created.body["id"].as_str().expect("id");
    let changed = app
        .request(
            Method::PATCH,
            &format!("/admin/users/{id}"),
            Some(json!({"roles": ["sales_manager"]})),
            Some(&admin),
        )
        .await;
    assert_eq!(changed.body["roles"], json!(["sales_manager"]));
    let refreshed =
        app.post("/sessions/refresh", json!({"refresh_token": signed_in["refresh_token"]}), None).await;
    let token = refreshed.body["access_token"].as_str().expect("token");
    assert_eq!(
        app.get("/records/deals", Some(token)).await.status,
        StatusCode::OK,
        "the new role reaches the next token"
    );
    assert_eq!(app.get("/records/tasks", Some(token)).await.status, StatusCode::FORBIDDEN);

    let roles = app.get("/admin/roles", Some(&admin)).await;
    let agent = roles
        .body
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["id"] == "field_agent")
        .expect("field agent")
        .clone();
    assert_eq!(agent["modules"], json!({"deliveries": "rw:own", "meetings": "rw:own", "tasks": "rw:own"}));
}

/// Disabling a user writes the account, then ends its sessions: a token used in between is
/// refused by the account's status, which every staff route reads with the session check.
#[tokio::test]
async fn a_staff_token_stops_once_its_account_is_disabled_though_its_session_lives() {
    use aws_sdk_dynamodb::types::AttributeValue;

    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = unique_email("between");
    let created = app
        .post(
            "/admin/users",
            json!({"email": email, "name": "Between", "password": PASSWORD, "roles": ["sales_manager"]}),
            Some(&admin),
        )
        .await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    let signed_in = app.sign_in(&email, PASSWORD).await.body;
    let token = signed_in["access_token"].as_str();
    assert_eq!(app.request(Method::GET, "/records/contacts", None, token).await.status, StatusCode::OK);

    // Only the account's half of a disable: its sessions still live.
    app.dynamodb
        .update_item()
        .table_name(app.state.store.table())
        .key("PK", AttributeValue::S(format!("ACCOUNT#{id}")))
        .key("SK", AttributeValue::S("ACCOUNT".into()))
        .update_expression("SET #status = :disabled")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":disabled", AttributeValue::S("disabled".into()))
        .send()
        .await
        .expect("status written");
    for (method, path, body) in [
        (Method::GET, "/records/contacts", None),
        (Method::POST, "/records/contacts", Some(json!({"fields": {"last_name": "Ghost"}}))),
        (Method::GET, "/admin/labels", None),
    ] {
        let refused = app.request(method, path, body, token).await;
        assert_eq!(
            (refused.status, refused.body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{path}"
        );
    }
    let contacts = app.request(Method::GET, "/records/contacts", None, Some(&admin)).await;
    assert!(
        contacts.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|contact| contact["fields"]["last_name"] != "Ghost"),
        "nothing was written"
    );
}

#[tokio::test]
async fn a_disabled_staff_user_is_signed_out_and_kept_out_until_enabled() {
    let app = spawn_app().await;
    let (admin, admin_email) = app.admin_token().await;
    let email = unique_email("leaver");
    let created = app
        .post(
            "/admin/users",
            json!({"email": email, "name": "Leaver", "password": PASSWORD, "roles": ["users_manage_free"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(created.status, StatusCode::BAD_REQUEST, "an unknown role");
    let created = app
        .post(
            "/admin/users",
            json!({"email": email, "name": "Leaver", "password": PASSWORD, "roles": ["sales_manager"]}),
            Some(&admin),
        )
        .await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    let signed_in = app.sign_in(&email, PASSWORD).await.body;

    let disabled = app.post(&format!("/admin/users/{id}/disable"), json!({}), Some(&admin)).await;
    assert_eq!((disabled.status, disabled.body["status"].as_str()), (StatusCode::OK, Some("disabled")));
    let again = app.post(&format!("/admin/users/{id}/disable"), json!({}), Some(&admin)).await;
    assert_eq!((again.status, again.body["code"].as_str()), (StatusCode::CONFLICT, Some("not_active")));
    let refreshed =
        app.post("/sessions/refresh", json!({"refresh_token": signed_in["refresh_token"]}), None).await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED, "its sessions ended");
    // And the access token it holds stops on every route at once, reads and writes alike.
    let token = signed_in["access_token"].as_str();
    for (method, path, body) in [
        (Method::GET, "/records/contacts", None),
        (Method::POST, "/records/contacts", Some(json!({"fields": {"last_name": "Ghost"}}))),
        (Method::GET, "/me", None),
    ] {
        let refused = app.request(method, path, body, token).await;
        assert_eq!(
            (refused.status, refused.body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("session_ended")),
            "{path}"
        );
    }
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::FORBIDDEN);

    let admin_id = app.account_id(&admin_email).await;
    let own = app.post(&format!("/admin/users/{admin_id}/disable"), json!({}), Some(&admin)).await;
    assert_eq!(own.body["code"], "own_account");
    let enabled = app.post(&format!("/admin/users/{id}/enable"), json!({}), Some(&admin)).await;
    assert_eq!(enabled.body["status"], "active");
    let old = app.post("/sessions/refresh", json!({"refresh_token": signed_in["refresh_token"]}), None).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "sessions ended by the disable stay ended");
    let back = app.sign_in(&email, PASSWORD).await;
    assert_eq!(back.status, StatusCode::OK);
    let token = back.body["access_token"].as_str().expect("token");
    let up = app.post(&format!("/admin/users/{admin_id}/disable"), json!({}), Some(token)).await;
    assert_eq!(up.status, StatusCode::FORBIDDEN, "a sales manager manages no users");
}

#[tokio::test]
async fn two_administrators_disabling_each_other_leave_one_standing() {
    let app = spawn_app().await;
    let (first, first_email) = app.admin_token().await;
    let (second, second_email) = app.admin_token().await;
    let (first_id, second_id) = (app.account_id(&first_email).await, app.account_id(&second_email).await);
    let (disable_second, disable_first) =
        (format!("/admin/users/{second_id}/disable"), format!("/admin/users/{first_id}/disable"));
    let (one, two) = tokio::join!(
        app.post(&disable_second, json!({}), Some(&first)),
        app.post(&disable_first, json!({}), Some(&second)),
    );
    let won = [one.status, two.status].iter().filter(|status| **status == StatusCode::OK).count();
    assert!(won <= 1, "both disabled each other: {:?} {:?}", one.body, two.body);
    let users =
        app.get("/admin/users", Some(if one.status == StatusCode::OK { &first } else { &second })).await.body;
    let active = users
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| {
            (u["id"] == first_id.as_str() || u["id"] == second_id.as_str()) && u["status"] == "active"
        })
        .count();
    assert!(active >= 1, "{users}");
}

#[tokio::test]
async fn a_user_manager_can_t_disable_someone_with_more_rights() {
    let app = spawn_app().await;
    let (admin, admin_email) = app.admin_token().await;
    let role = json!({"id": "hr_only", "name": "HR", "permissions": ["users.manage"]});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let email = unique_email("hr");
    let body = json!({"email": email, "name": "HR", "password": PASSWORD, "roles": ["hr_only"]});
    assert_eq!(app.post("/admin/users", body, Some(&admin)).await.status, StatusCode::CREATED);
    let hr = app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("token").to_owned();
    let admin_id = app.account_id(&admin_email).await;
    let refused = app.post(&format!("/admin/users/{admin_id}/disable"), json!({}), Some(&hr)).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("beyond_own_rights"))
    );
    let peer = unique_email("peer");
    let body = json!({"email": peer, "name": "Peer", "password": PASSWORD, "roles": []});
    let id = app.post("/admin/users", body, Some(&hr)).await.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        app.post(&format!("/admin/users/{id}/disable"), json!({}), Some(&hr)).await.status,
        StatusCode::OK
    );
}

async fn set_roles(app: &TestApp, token: &str, user: &str, roles: Value) -> Response {
    app.request(Method::PATCH, &format!("/admin/users/{user}"), Some(json!({"roles": roles})), Some(token))
        .await
}

fn codes(response: &Response) -> (StatusCode, Option<&str>) {
    (response.status, response.body["code"].as_str())
}

/// Active users holding the built-in Administrator role, as `GET /admin/users` lists them.
async fn administrators(app: &TestApp, token: &str) -> Vec<String> {
    let users = app.get("/admin/users", Some(token)).await;
    assert_eq!(users.status, StatusCode::OK, "{:?}", users.body);
    users
        .body
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| {
            u["status"] == "active"
                && u["roles"].as_array().is_some_and(|r| r.contains(&json!("administrator")))
        })
        .map(|u| u["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Creates a user with the Administrator role through the API; returns their id and address.
async fn another_administrator(app: &TestApp, token: &str) -> (String, String) {
    let email = unique_email("admin");
    let body = json!({"email": email, "name": "Admin", "password": PASSWORD, "roles": ["administrator"]});
    let created = app.post("/admin/users", body, Some(token)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    (created.body["id"].as_str().expect("id").to_owned(), email)
}

async fn token_of(app: &TestApp, email: &str) -> String {
    let signed_in = app.sign_in(email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    signed_in.body["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn the_last_administrator_can_t_demote_themselves_but_one_of_two_can() {
    let app = spawn_app().await;
    let (first, first_email) = app.admin_token().await;
    let first_id = app.account_id(&first_email).await;
    let refused = set_roles(&app, &first, &first_id, json!(["sales_manager"])).await;
    assert_eq!(codes(&refused), (StatusCode::CONFLICT, Some("last_administrator")));
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    assert_eq!(administrators(&app, &first).await, std::slice::from_ref(&first_id), "nothing changed");
    let kept = set_roles(&app, &first, &first_id, json!(["administrator", "field_agent"])).await;
    assert_eq!(kept.status, StatusCode::OK, "a change that keeps both permissions: {:?}", kept.body);

    let (second_id, second_email) = another_administrator(&app, &first).await;
    let second = token_of(&app, &second_email).await;
    let stepped_down = set_roles(&app, &first, &first_id, json!(["sales_manager"])).await;
    assert_eq!(stepped_down.status, StatusCode::OK, "{:?}", stepped_down.body);
    let last = set_roles(&app, &second, &second_id, json!([])).await;
    assert_eq!(codes(&last), (StatusCode::CONFLICT, Some("last_administrator")));

    // Disabling and enabling an administrator move the count too.
    let (third_id, third_email) = another_administrator(&app, &second).await;
    let disabled = app.post(&format!("/admin/users/{third_id}/disable"), json!({}), Some(&second)).await;
    assert_eq!(disabled.status, StatusCode::OK, "two administrators: one may go");
    let alone = set_roles(&app, &second, &second_id, json!([])).await;
    assert_eq!(
        codes(&alone),
        (StatusCode::CONFLICT, Some("last_administrator")),
        "a disabled one does not count"
    );
    let enabled = app.post(&format!("/admin/users/{third_id}/enable"), json!({}), Some(&second)).await;
    assert_eq!(enabled.status, StatusCode::OK);
    assert_eq!(set_roles(&app, &second, &second_id, json!([])).await.status, StatusCode::OK);
    let third = token_of(&app, &third_email).await;
    assert_eq!(administrators(&app, &third).await, [third_id]);
}

#[tokio::test]
async fn two_administrators_demoting_themselves_at_once_leave_one() {
    let app = spawn_app().await;
    let (first, first_email) = app.admin_token().await;
    let (second_id, second_email) = another_administrator(&app, &first).await;
    let (first_id, second) = (app.account_id(&first_email).await, token_of(&app, &second_email).await);
    // Each covers their own rights, and neither write touches the other's account: only the
    // count stands between them and an installation nobody can manage.
    let (one, two) = tokio::join!(
        set_roles(&app, &first, &first_id, json!(["sales_manager"])),
        set_roles(&app, &second, &second_id, json!(["sales_manager"])),
    );
    assert_ne!(one.status, two.status, "exactly one wins: {:?} {:?}", one.body, two.body);
    let (lost, loser) = if one.status == StatusCode::OK { (&two, &second) } else { (&one, &first) };
    assert_eq!(lost.status, StatusCode::CONFLICT, "{:?}", lost.body);
    assert!(matches!(lost.body["code"].as_str(), Some("last_administrator" | "conflict")), "{:?}", lost.body);
    let remaining = administrators(&app, loser).await;
    assert_eq!(remaining.len(), 1, "the loser still administers: {remaining:?}");
}

#[tokio::test]
async fn two_administrators_demoting_each_other_at_once_leave_one() {
    let app = spawn_app().await;
    let (first, first_email) = app.admin_token().await;
    let (second_id, second_email) = another_administrator(&app, &first).await;
    let (first_id, second) = (app.account_id(&first_email).await, token_of(&app, &second_email).await);
    let (one, two) = tokio::join!(
        set_roles(&app, &first, &second_id, json!([])),
        set_roles(&app, &second, &first_id, json!([])),
    );
    let won: Vec<_> = [&one, &two].into_iter().filter(|r| r.status == StatusCode::OK).collect();
    assert_eq!(won.len(), 1, "exactly one wins: {:?} {:?}", one.body, two.body);
    let (winner, lost) = if one.status == StatusCode::OK { (&first, &two) } else { (&second, &one) };
    // The loser was demoted before or while its request ran: its rights are gone when read
    // (403), or its write finds the granter or the count changed (409).
    assert!(
        matches!(
            codes(lost),
            (StatusCode::CONFLICT, Some("last_administrator" | "conflict"))
                | (StatusCode::FORBIDDEN, Some("forbidden"))
        ),
        "{:?}",
        lost.body
    );
    let remaining = administrators(&app, winner).await;
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    assert!(remaining[0] == first_id || remaining[0] == second_id);
}

#[tokio::test]
async fn a_right_taken_away_stops_settings_changes_at_once_even_on_an_old_token() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let (colleague, colleague_id) = app.staff_member(BuiltinRole::Administrator).await;
    let demoted = app
        .request(
            Method::PATCH,
            &format!("/admin/users/{colleague_id}"),
            Some(json!({"roles": ["field_agent"]})),
            Some(&admin),
        )
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{:?}", demoted.body);
    // The colleague's access token still claims settings.manage; the table no longer does.
    for (method, path, body) in [
        (Method::POST, "/admin/labels".to_owned(), json!({"name": "VIP", "colour": "gold"})),
        (
            Method::PUT,
            "/admin/settings/registration".to_owned(),
            json!({"notify_on_registration": false, "admin_approval": "none", "device_confirmation": false, "email_verification": "none"}),
        ),
        (Method::POST, "/admin/projects".to_owned(), json!({"name": "Shadow"})),
        (Method::POST, "/admin/otp-rules".to_owned(), crate::otp_rules::seed_rule()),
    ] {
        let refused = app.request(method.clone(), &path, Some(body), Some(&colleague)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{method} {path}: {:?}", refused.body);
    }
    let labels = app.get("/admin/labels", Some(&admin)).await.body["items"].clone();
    let made: Vec<&Value> =
        labels.as_array().expect("items").iter().filter(|label| label["lifecycle_stage"].is_null()).collect();
    assert!(made.is_empty(), "nothing was written but the built-in lifecycle labels: {labels}");
}

/// The admin console shows a staff member only the screens their rights allow: `GET /me` says
/// which rights the session carries (a customer's profile has none), and a user manager may
/// list the projects they put staff into, without managing settings.
#[tokio::test]
async fn the_profile_names_the_sessions_rights_and_user_managers_list_projects() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let me = app.get("/me", Some(&admin)).await.body;
    let rights: Vec<&str> =
        me["permissions"].as_array().expect("permissions").iter().filter_map(Value::as_str).collect();
    assert!(rights.contains(&"settings.manage") && rights.contains(&"users.manage"), "{me}");

    let sales = app.staff_token(BuiltinRole::SalesManager).await;
    let me = app.get("/me", Some(&sales)).await.body;
    assert_eq!(me["permissions"], json!(["records.assign", "forms.fill"]));
    assert_eq!(app.get("/admin/projects", Some(&sales)).await.status, StatusCode::FORBIDDEN);

    let role =
        json!({"id": "staff_desk", "name": "Staff desk", "permissions": ["users.manage"], "modules": {}});
    assert_eq!(app.post("/admin/roles", role, Some(&admin)).await.status, StatusCode::CREATED);
    let email = unique_email("desk");
    let desk = json!({"email": email, "name": "Desk", "password": PASSWORD, "roles": ["staff_desk"]});
    assert_eq!(app.post("/admin/users", desk, Some(&admin)).await.status, StatusCode::CREATED);
    let desk = app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("token").to_owned();
    let projects = app.get("/admin/projects", Some(&desk)).await;
    assert_eq!(projects.status, StatusCode::OK, "{}", projects.body);
    assert_eq!(app.get("/admin/contact-fields", Some(&desk)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.post("/admin/projects", json!({"name": "Not theirs"}), Some(&desk)).await.status,
        StatusCode::FORBIDDEN
    );

    let customer = app.active_customer(&admin, false).await;
    let customer =
        app.sign_in(&customer, PASSWORD).await.body["access_token"].as_str().expect("token").to_owned();
    let profile = app.get("/me", Some(&customer)).await.body;
    assert!(profile["email"].is_string() && profile.get("permissions").is_none(), "{profile}");
}
