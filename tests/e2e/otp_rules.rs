//! OTP rules over HTTP: the seed's delivery rule, validation with paths, versions, access.

use portico::domain::BuiltinRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{error_fields, spawn_app};

/// Seed 000's example: "Delivery confirmation OTP".
pub fn seed_rule() -> Value {
    json!({
        "name": "Delivery confirmation OTP",
        "module": "deliveries",
        "trigger": {"field": "status", "changed_to": "Delivered"},
        "otp": {"type": "numeric", "length": 5, "validity_seconds": 300},
        "channels": ["sms"],
        "recipients": {"sms": "contact.mobile"}
    })
}

#[tokio::test]
async fn the_seed_s_delivery_rule_is_saved_with_its_entropy_and_a_warning() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let created = app.post("/admin/otp-rules", seed_rule(), Some(&admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let rule = &created.body;
    assert_eq!((rule["version"].as_u64(), rule["active"].as_bool()), (Some(1), Some(true)));
    assert_eq!(
        rule["otp"],
        json!({"type": "numeric", "length": 5, "validity_seconds": 300, "max_resends": 3, "max_attempts": 5})
    );
    assert_eq!((rule["send_mode"].as_str(), rule["locale"].as_str()), (Some("automatic"), Some("en")));
    assert_eq!(rule["entropy_bits"], 16.6);
    assert!(
        rule["warnings"][0].as_str().is_some_and(|w| w.contains("16.6") && w.contains("6 digits")),
        "{rule}"
    );

    let path = format!("/admin/otp-rules/{}", rule["id"].as_str().expect("id"));
    assert_eq!(app.get(&path, Some(&admin)).await.body["name"], "Delivery confirmation OTP");
    let listed = app.get("/admin/otp-rules", Some(&admin)).await.body;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));

    // Six alphanumerics: 30 bits, no warning; the version moves on.
    let mut stronger = seed_rule();
    stronger["otp"] = json!({"type": "alphanumeric", "length": 6});
    stronger["version"] = json!(1);
    let replaced = app.request(Method::PUT, &path, Some(stronger.clone()), Some(&admin)).await;
    assert_eq!(replaced.status, StatusCode::OK, "{:?}", replaced.body);
    assert_eq!(
        (replaced.body["version"].as_u64(), replaced.body["entropy_bits"].as_f64()),
        (Some(2), Some(30.0))
    );
    assert_eq!(replaced.body["warnings"], json!([]));
    let stale = app.request(Method::PUT, &path, Some(stronger), Some(&admin)).await;
    assert_eq!(
        (stale.status, stale.body["code"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("version_mismatch"))
    );

    assert_eq!(app.request(Method::DELETE, &path, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path, Some(&admin)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.request(Method::DELETE, &path, None, Some(&admin)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_bad_rule_is_refused_with_every_error_named_and_nothing_stored() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let before = app.item_count().await;
    let bad = json!({
        "name": "Bad",
        "module": "deliveries",
        "trigger": {"field": "status", "changed_to": "Teleported", "criteria": {"field": "colour", "op": "eq", "value": "red"}},
        "otp": {"length": 3, "validity_seconds": 3600},
        "channels": ["sms", "email"],
        "recipients": {"sms": "address", "email": "contact.mobile"}
    });
    let refused = app.post("/admin/otp-rules", bad, Some(&admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = error_fields(&refused.body);
    for expected in [
        "otp.length",
        "otp.validity_seconds",
        "trigger.changed_to",
        "trigger.criteria.field",
        "recipients.sms",
        "recipients.email",
    ] {
        assert!(fields.contains(&expected), "{expected} missing from {fields:?}");
    }
    let mut unknown = seed_rule();
    unknown["colour"] = json!("red");
    assert_eq!(app.post("/admin/otp-rules", unknown, Some(&admin)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.item_count().await, before, "nothing was written");
}

#[tokio::test]
async fn only_settings_managers_see_or_change_rules() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let created = app.post("/admin/otp-rules", seed_rule(), Some(&admin)).await;
    let path = format!("/admin/otp-rules/{}", created.body["id"].as_str().expect("id"));
    let agent = app.staff_token(BuiltinRole::FieldAgent).await;
    for (method, target, body) in [
        (Method::GET, "/admin/otp-rules", None),
        (Method::POST, "/admin/otp-rules", Some(seed_rule())),
        (Method::GET, path.as_str(), None),
        (Method::DELETE, path.as_str(), None),
    ] {
        let answer = app.request(method.clone(), target, body, Some(&agent)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {target}");
    }
    assert_eq!(app.get("/admin/otp-rules", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(&path, Some(&admin)).await.status, StatusCode::OK, "still there");
}
