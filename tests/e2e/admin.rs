//! The approval queue: permissions, decisions, paging with signed cursors.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{PASSWORD, spawn_app, unique_email};

#[tokio::test]
async fn staff_routes_need_a_staff_token_with_the_permission() {
    let app = spawn_app().await;
    let none = app.get("/admin/registrations", None).await;
    assert_eq!((none.status, none.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing_token")));
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    let forged = app.get("/admin/registrations", Some("eyJhbGciOiJub25lIn0.e30.")).await;
    assert_eq!(
        (forged.status, forged.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );

    // A customer's valid token is not a staff token.
    let (admin, _) = app.admin_token().await;
    app.set_policy(&admin, json!({"notify_on_registration": false, "admin_approval": "none", "device_confirmation": false, "email_verification": "none"})).await;
    let email = unique_email("customer");
    app.register(&email, "person").await;
    let customer = app.sign_in(&email, PASSWORD).await;
    let token = customer.body["access_token"].as_str().expect("token").to_owned();
    for (method, path) in [
        (Method::GET, "/admin/registrations"),
        (Method::GET, "/admin/settings/registration"),
        (Method::GET, "/admin/labels"),
    ] {
        let response = app.request(method, path, None, Some(&token)).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn reject_with_reason_mails_the_customer_and_blocks_sign_in() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    app.set_policy(&admin, json!({"notify_on_registration": false, "admin_approval": "all", "device_confirmation": false, "email_verification": "none"})).await;
    let email = unique_email("rejected");
    app.register(&email, "person").await;
    let id = app.account_id(&email).await;

    let empty =
        app.post(&format!("/admin/registrations/{id}/reject"), json!({"reason": "  "}), Some(&admin)).await;
    assert_eq!(
        (empty.status, empty.body["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("reason"))
    );

    let rejected = app
        .post(
            &format!("/admin/registrations/{id}/reject"),
            json!({"reason": "Unknown company"}),
            Some(&admin),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK);
    assert_eq!(
        (rejected.body["status"].as_str(), rejected.body["rejection_reason"].as_str()),
        (Some("rejected"), Some("Unknown company"))
    );
    assert!(
        app.latest_mail(&email, "Your registration was not approved").await.body.contains("Unknown company")
    );

    let sign_in = app.sign_in(&email, PASSWORD).await;
    assert_eq!(
        (sign_in.status, sign_in.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("account_rejected"))
    );

    let again = app.post(&format!("/admin/registrations/{id}/approve"), json!({}), Some(&admin)).await;
    assert_eq!((again.status, again.body["code"].as_str()), (StatusCode::CONFLICT, Some("not_pending")));
    let unknown = app
        .post(&format!("/admin/registrations/{}/approve", ulid::Ulid::generate()), json!({}), Some(&admin))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let garbage = app.post("/admin/registrations/not-an-id/approve", json!({}), Some(&admin)).await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_queue_pages_with_signed_cursors() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    app.set_policy(&admin, json!({"notify_on_registration": false, "admin_approval": "all", "device_confirmation": false, "email_verification": "none"})).await;
    let mut registered = Vec::new();
    for _ in 0..5 {
        let email = unique_email("queued");
        app.register(&email, "person").await;
        registered.push(app.account_id(&email).await);
    }

    let mut seen = Vec::new();
    let mut path = "/admin/registrations?status=pending_approval&limit=2".to_owned();
    loop {
        let page = app.get(&path, Some(&admin)).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let items = page.body["items"].as_array().expect("items").clone();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|item| item["id"].as_str().expect("id").to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/admin/registrations?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, registered, "every pending account once, oldest first");

    let first = app.get("/admin/registrations?limit=2", Some(&admin)).await;
    let cursor = first.body["next_cursor"].as_str().expect("cursor");
    let (payload, tag) = cursor.split_once('.').expect("signed cursor");
    // One character of the payload changed (in the middle: the last may carry padding bits only).
    let middle = payload.len() / 2;
    let other = if &payload[middle..=middle] == "A" { "B" } else { "A" };
    let tampered = format!("{}{other}{}.{tag}", &payload[..middle], &payload[middle + 1..]);
    let refused = app.get(&format!("/admin/registrations?cursor={tampered}"), Some(&admin)).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );

    for bad in ["limit=0", "limit=101", "status=sleeping", "limit=x"] {
        let response = app.get(&format!("/admin/registrations?{bad}"), Some(&admin)).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn the_policy_round_trips_and_refuses_bad_values() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let default = app.get("/admin/settings/registration", Some(&admin)).await;
    assert_eq!(default.body["email_verification"], "required");
    let policy = json!({"notify_on_registration": false, "admin_approval": "companies", "device_confirmation": true,
                        "email_verification": "optional", "notify_admins": false, "auto_lifecycle": true,
                        "keep_devices_on_password_reset": true});
    app.set_policy(&admin, policy.clone()).await;
    assert_eq!(app.get("/admin/settings/registration", Some(&admin)).await.body, policy);
    let public = app.get("/registrations/policy", None).await;
    assert_eq!(
        public.body["steps"],
        json!({"person": ["sign_in"], "company": ["await_approval", "sign_in"]})
    );

    let bad = app.request(Method::PUT, "/admin/settings/registration", Some(json!({"notify_on_registration": true, "admin_approval": "sometimes", "device_confirmation": false, "email_verification": "none"})), Some(&admin)).await;
    assert_eq!(
        (bad.status, bad.body["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("admin_approval"))
    );
    assert_eq!(
        app.get("/admin/settings/registration", Some(&admin)).await.body,
        policy,
        "a refused write changes nothing"
    );
}

/// The console's modules import each other by relative path: every one the page and its
/// modules name is served, as a script, under the strict CSP (a missing one would break the
/// page only in a browser); an unknown file is a 404 problem.
#[tokio::test]
async fn the_console_serves_every_module_it_imports() {
    let app = spawn_app().await;
    let fetch = |path: String| {
        let (http, url) = (app.http.clone(), format!("{}{path}", app.base));
        async move { http.get(url).send().await.expect("request") }
    };
    let page = fetch("/admin/".into()).await;
    let csp = page.headers()["content-security-policy"].to_str().expect("CSP").to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    let mut pending = vec![page.text().await.expect("page")];
    let mut served = std::collections::BTreeSet::new();
    while let Some(source) = pending.pop() {
        let named = source.split(['"', '\'']).filter(|part| part.ends_with(".js") || part.ends_with(".css"));
        for name in named.map(|part| part.rsplit('/').next().expect("a name").to_owned()).collect::<Vec<_>>()
        {
            if !served.insert(name.clone()) {
                continue;
            }
            let asset = fetch(format!("/admin/assets/{name}")).await;
            assert_eq!(asset.status(), StatusCode::OK, "{name}");
            let content_type = asset.headers()["content-type"].to_str().expect("type").to_owned();
            let expected = if name.ends_with(".js") { "text/javascript" } else { "text/css" };
            assert!(content_type.starts_with(expected), "{name}: {content_type}");
            assert_eq!(asset.headers()["content-security-policy"].to_str().expect("CSP"), csp);
            pending.push(asset.text().await.expect("asset"));
        }
    }
    assert!(served.len() >= 10, "the page and its screens: {served:?}");
    let missing = fetch("/admin/assets/nope.js".into()).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
}
