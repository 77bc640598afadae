//! Bad input gets a clear 4xx problem+json and writes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{PASSWORD, error_fields, spawn_app, unique_email};

#[tokio::test]
async fn bad_registrations_are_refused_and_write_nothing() {
    let app = spawn_app().await;
    let email = unique_email("bad");
    let valid = json!({"email": email, "password": PASSWORD, "name": "Ann", "account_type": "person"});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with("email", json!("not-an-address")), "validation_failed", "email"),
        (with("password", json!("short")), "validation_failed", "password"),
        (with("password", json!("a".repeat(129))), "validation_failed", "password"),
        (with("password", json!("1Q2W3E4R5T6Y")), "validation_failed", "password"),
        (with("name", json!("   ")), "validation_failed", "name"),
        (with("account_type", json!("robot")), "validation_failed", "account_type"),
        (with("account_type", json!("company")), "validation_failed", "company_name"),
        (with("company_name", json!("ACME")), "validation_failed", "company_name"),
        (with("phone", json!("12345")), "validation_failed", "phone"),
        (with("name", json!(42)), "validation_failed", "name"),
        (with("surprise", json!(true)), "validation_failed", "surprise"),
        (json!({"email": email}), "validation_failed", "password"),
    ];
    for (body, code, field) in cases {
        let response = app.post("/registrations", body.clone(), None).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.headers["content-type"], "application/problem+json");
        assert_eq!(response.body["code"], code, "{body}");
        let fields: Vec<&str> = error_fields(&response.body);
        assert!(fields.contains(&field), "{body}: expected {field} in {fields:?}");
    }

    let malformed = app.post_raw("/registrations", "application/json", b"{\"email\": ".to_vec()).await;
    assert_eq!(
        (malformed.status, malformed.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let text = app.post_raw("/registrations", "text/plain", valid.to_string().into_bytes()).await;
    assert_eq!(
        (text.status, text.body["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type"))
    );
    let mut huge = valid.clone();
    huge["name"] = json!("x".repeat(300 * 1024));
    let too_big = app.post_raw("/registrations", "application/json", huge.to_string().into_bytes()).await;
    assert_eq!(
        (too_big.status, too_big.body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );

    assert_eq!(app.item_count().await, 0, "no refused request wrote anything");
    assert!(app.mails_to(&email).await.is_empty(), "no refused request sent mail");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let app = spawn_app().await;
    let missing = app.get("/no/such/route", None).await;
    assert_eq!((missing.status, missing.body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let method = app.request(reqwest::Method::DELETE, "/registrations", None, None).await;
    assert_eq!(
        (method.status, method.body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn bad_verification_requests_are_refused() {
    let app = spawn_app().await;
    let cases = [
        (json!({"email": "ann@example.com"}), "validation_failed"),
        (json!({"token": "x", "code": "123456", "email": "a@b.cz"}), "validation_failed"),
        (json!({"email": "ann@example.com", "code": "12ab56"}), "validation_failed"),
        (json!({"email": unique_email("ghost"), "code": "123456"}), "invalid_code"),
        (json!({"token": "not-a-token"}), "invalid_token"),
        (json!({"token": format!("{}.abc", ulid::Ulid::generate())}), "invalid_token"),
    ];
    for (body, code) in cases {
        let response = app.post("/registrations/verify", body.clone(), None).await;
        assert_eq!(
            (response.status, response.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{body}"
        );
    }
    assert_eq!(app.item_count().await, 0);
}
