//! Sign-in: one answer for every wrong credential, tokens for the right ones.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{PASSWORD, spawn_app, unique_email};

#[tokio::test]
async fn wrong_password_and_unknown_address_look_the_same() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    app.set_policy(&admin, json!({"notify_on_registration": false, "admin_approval": "none", "device_confirmation": false, "email_verification": "none"})).await;
    let email = unique_email("known");
    app.register(&email, "person").await;

    let wrong_password = app.sign_in(&email, "not the right password").await;
    let unknown = app.sign_in(&unique_email("unknown"), PASSWORD).await;
    let malformed = app.sign_in("not-an-address", PASSWORD).await;
    for response in [&wrong_password, &unknown, &malformed] {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(wrong_password.body, unknown.body);
    assert_eq!(unknown.body, malformed.body);
    assert_eq!(wrong_password.body["code"], "invalid_credentials");

    let ok = app.sign_in(&email, PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["expires_in"], 900);
    let access = ok.body["access_token"].as_str().expect("access token");
    let claims = app.state.keys.jwt.verify_access(access).expect("a valid access token");
    assert_eq!(claims.kind, portico::domain::AccountKind::Customer);
    assert!(claims.perms.is_empty());
    assert!(ok.body["refresh_token"].as_str().is_some_and(|t| t.len() > 40));
}

#[tokio::test]
async fn sign_in_needs_a_well_formed_device_id() {
    let app = spawn_app().await;
    for device in
        [None, Some("short"), Some("has spaces in it, which is not url safe"), Some(&*"x".repeat(65))]
    {
        let mut request = app
            .http
            .post(format!("{}/sessions", app.base))
            .json(&json!({"email": "a@b.cz", "password": PASSWORD}));
        if let Some(device) = device {
            request = request.header("x-device-id", device);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{device:?}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["code"], "invalid_device_id");
    }
}
