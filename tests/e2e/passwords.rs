//! Password reset by mailed link and password change; trust follows credentials.

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{DEVICE, PASSWORD, TestApp, spawn_app, unique_email};

const NEW_PASSWORD: &str = "a brand new passphrase";
const RESET_SUBJECT: &str = "Reset your password";
const CHANGED_SUBJECT: &str = "Your password was changed";
const LAPTOP: &str = "laptop-device-id-0123456789";

async fn reset_token(app: &TestApp, email: &str) -> String {
    let mail = app.latest_mail(email, RESET_SUBJECT).await;
    let start = mail.body.find("token=").expect("a link") + "token=".len();
    mail.body[start..].split_whitespace().next().expect("token").to_owned()
}

async fn count(app: &TestApp, email: &str, subject: &str) -> usize {
    app.mails_to(email).await.iter().filter(|m| m.subject.as_deref() == Some(subject)).count()
}

#[tokio::test]
async fn a_reset_by_mailed_link_sets_the_password_and_ends_every_session() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    let session = app.sign_in(&email, PASSWORD).await.body;

    let unknown = app.post("/passwords/reset", json!({"email": unique_email("nobody")}), None).await;
    let known = app.post("/passwords/reset", json!({"email": email}), None).await;
    let malformed = app.post("/passwords/reset", json!({"email": "not an address"}), None).await;
    for response in [&unknown, &known, &malformed] {
        assert_eq!((response.status, &response.body), (StatusCode::ACCEPTED, &json!({"status": "accepted"})));
    }
    app.post("/passwords/reset", json!({"email": email}), None).await;
    assert_eq!(count(&app, &email, RESET_SUBJECT).await, 1, "one mail a minute");
    let token = reset_token(&app, &email).await;

    for _ in 0..2 {
        let page = app
            .http
            .get(format!("{}/links/reset-password?token={token}", app.base))
            .send()
            .await
            .expect("get");
        assert!(page.text().await.unwrap_or_default().contains("name=\"new_password\""));
    }
    let weak =
        app.post("/passwords/reset/confirm", json!({"token": token, "new_password": "short"}), None).await;
    assert_eq!(
        (weak.status, weak.body["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("new_password"))
    );
    assert_eq!(
        app.sign_in(&email, PASSWORD).await.status,
        StatusCode::OK,
        "GETs and a refused password change nothing"
    );

    let page = app
        .http
        .post(format!("{}/links/reset-password", app.base))
        .form(&[("token", token.as_str()), ("new_password", NEW_PASSWORD)])
        .send()
        .await
        .expect("post");
    assert!(page.text().await.unwrap_or_default().contains("Password changed"));
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.sign_in(&email, NEW_PASSWORD).await.status, StatusCode::OK);
    let old_refresh =
        app.post("/sessions/refresh", json!({"refresh_token": session["refresh_token"]}), None).await;
    assert_eq!(old_refresh.status, StatusCode::UNAUTHORIZED, "the reset ended the older session");
    // Its access token, unexpired, stops at once too.
    let old_access = app.get("/me", session["access_token"].as_str()).await;
    assert_eq!(
        (old_access.status, old_access.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("session_ended"))
    );
    assert_eq!(count(&app, &email, CHANGED_SUBJECT).await, 1);

    let replay = app
        .post(
            "/passwords/reset/confirm",
            json!({"token": token, "new_password": "yet another passphrase"}),
            None,
        )
        .await;
    assert_eq!(
        (replay.status, replay.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
}

#[tokio::test]
async fn a_password_change_keeps_this_device_and_untrusts_the_others() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    // The laptop becomes trusted (policy off), then the policy goes on.
    let laptop = app.sign_in_from(LAPTOP, &email, PASSWORD).await.body;
    app.set_policy(&admin, json!({"notify_on_registration": false, "admin_approval": "none", "device_confirmation": true, "email_verification": "none"})).await;
    let here = app.sign_in_from(DEVICE, &email, PASSWORD).await.body;
    let access = here["access_token"].as_str().expect("access");

    let wrong = app
        .request(
            Method::PUT,
            "/me/password",
            Some(json!({"current_password": "nope nope nope", "new_password": NEW_PASSWORD})),
            Some(access),
        )
        .await;
    assert_eq!(wrong.body["code"], "invalid_current_password");
    let changed = app
        .request(
            Method::PUT,
            "/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
            Some(access),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    let new_access = changed.body["access_token"].as_str().expect("new tokens");
    assert_eq!(app.get("/me", Some(new_access)).await.status, StatusCode::OK);

    // The changing device signs in straight away; the laptop must confirm again, and its
    // old session is over.
    assert_eq!(app.sign_in_from(DEVICE, &email, NEW_PASSWORD).await.status, StatusCode::OK);
    assert_eq!(app.sign_in_from(LAPTOP, &email, NEW_PASSWORD).await.status, StatusCode::ACCEPTED);
    let laptop_refresh =
        app.post("/sessions/refresh", json!({"refresh_token": laptop["refresh_token"]}), None).await;
    assert_eq!(laptop_refresh.status, StatusCode::UNAUTHORIZED);
    let old_refresh =
        app.post("/sessions/refresh", json!({"refresh_token": here["refresh_token"]}), None).await;
    assert_eq!(
        old_refresh.status,
        StatusCode::UNAUTHORIZED,
        "the session the change was made in was replaced"
    );
}

#[tokio::test]
async fn a_device_confirmation_asked_before_a_password_change_no_longer_works() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, true).await;
    let pending = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    let id = pending.body["confirmation_id"].as_str().expect("id").to_owned();
    let mail = app.latest_mail(&email, "Confirm the sign-in from a new device").await;
    let code = mail
        .body
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .expect("code")
        .to_owned();

    let access = app.sign_in_from(DEVICE, &email, PASSWORD).await.body["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let changed = app
        .request(
            Method::PUT,
            "/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
            Some(&access),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    let late = app
        .post_from(LAPTOP, &format!("/sessions/device-confirmations/{id}"), json!({"code": code}), None)
        .await;
    assert_eq!((late.status, late.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_code")));
}

#[tokio::test]
async fn the_policy_can_keep_trusted_devices_across_a_reset() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, true).await;
    app.set_policy(
        &admin,
        json!({"notify_on_registration": false, "admin_approval": "none", "device_confirmation": true,
                                  "email_verification": "none", "keep_devices_on_password_reset": true}),
    )
    .await;
    app.post("/passwords/reset", json!({"email": email}), None).await;
    let token = reset_token(&app, &email).await;
    let reset = app
        .post("/passwords/reset/confirm", json!({"token": token, "new_password": NEW_PASSWORD}), None)
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    assert_eq!(
        app.sign_in_from(DEVICE, &email, NEW_PASSWORD).await.status,
        StatusCode::OK,
        "the registering device stays trusted"
    );
}

async fn email_code(app: &TestApp, address: &str, nth: usize) -> String {
    let mails: Vec<_> = app
        .mails_to(address)
        .await
        .into_iter()
        .filter(|m| m.subject.as_deref() == Some("Confirm your new e-mail address"))
        .collect();
    let mail = mails.get(nth).unwrap_or_else(|| panic!("code mail {nth} to {address}"));
    mail.body
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .expect("code")
        .to_owned()
}

#[tokio::test]
async fn an_e_mail_change_code_locks_after_five_wrong_tries_and_expires() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    let access =
        app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("access").to_owned();
    let new_address = unique_email("locked");
    let asked = app
        .post("/me/email", json!({"new_email": new_address, "current_password": PASSWORD}), Some(&access))
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    let code = email_code(&app, &new_address, 0).await;

    let misshapen = app.post("/me/email/confirm", json!({"code": "12345"}), Some(&access)).await;
    assert_eq!(
        (misshapen.status, misshapen.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("validation_failed"))
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let refused = app.post("/me/email/confirm", json!({"code": wrong}), Some(&access)).await;
        assert_eq!(refused.body["code"], "invalid_code");
    }
    let locked = app.post("/me/email/confirm", json!({"code": code}), Some(&access)).await;
    assert_eq!((locked.status, locked.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("code_locked")));

    // The stored item: its kind, the capped counter, no code in clear.
    let key = (format!("ACCOUNT#{}", app.account_id(&email).await), "EMAIL_CHANGE".to_owned());
    let item = app
        .dynamodb
        .get_item()
        .table_name(app.state.store.table())
        .key("PK", AttributeValue::S(key.0.clone()))
        .key("SK", AttributeValue::S(key.1.clone()))
        .send()
        .await
        .expect("read")
        .item
        .expect("the change is pending");
    assert_eq!(item.get("entity"), Some(&AttributeValue::S("email_change".into())));
    assert_eq!(item.get("attempts"), Some(&AttributeValue::N("5".into())), "the counter stops at the limit");
    assert!(item.values().all(|value| value.as_s().map_or(true, |text| !text.contains(code.as_str()))));

    app.dynamodb
        .update_item()
        .table_name(app.state.store.table())
        .key("PK", AttributeValue::S(key.0))
        .key("SK", AttributeValue::S(key.1))
        .update_expression("SET expires_at = :past, #ttl = :past_epoch, attempts = :zero")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(":past", AttributeValue::S("2020-01-01T00:00:00.000000Z".into()))
        .expression_attribute_values(":past_epoch", AttributeValue::N("1577836800".into()))
        .expression_attribute_values(":zero", AttributeValue::N("0".into()))
        .send()
        .await
        .expect("expire");
    let expired = app.post("/me/email/confirm", json!({"code": code}), Some(&access)).await;
    assert_eq!(expired.body["code"], "code_expired");
    assert_eq!(app.sign_in(&new_address, PASSWORD).await.status, StatusCode::UNAUTHORIZED, "nothing moved");
}

#[tokio::test]
async fn an_e_mail_change_applies_after_the_new_address_confirms() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    let access =
        app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("access").to_owned();
    let new_address = unique_email("moved");

    let wrong = app
        .post(
            "/me/email",
            json!({"new_email": new_address, "current_password": "not my password"}),
            Some(&access),
        )
        .await;
    assert_eq!(wrong.body["code"], "invalid_current_password");
    let asked = app
        .post("/me/email", json!({"new_email": new_address, "current_password": PASSWORD}), Some(&access))
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    assert_eq!(
        count(&app, &email, "Your e-mail address is about to change").await,
        1,
        "the old address is told"
    );
    assert_eq!(
        app.sign_in(&email, PASSWORD).await.status,
        StatusCode::OK,
        "nothing changes before the confirmation"
    );

    let code = email_code(&app, &new_address, 0).await;
    let confirmed = app.post("/me/email/confirm", json!({"code": code}), Some(&access)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    assert_eq!(
        app.sign_in(&email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "the old address is free"
    );
    assert_eq!(app.sign_in(&new_address, PASSWORD).await.status, StatusCode::OK);
    let new_access = confirmed.body["access_token"].as_str().expect("tokens for this device");
    assert_eq!(app.get("/me", Some(new_access)).await.body["email"], new_address.as_str());
    assert_eq!(count(&app, &email, "Your e-mail address was changed").await, 1);

    // The old address can register again: its guard moved with the account.
    assert_eq!(app.register(&email, "person").await.status, StatusCode::ACCEPTED);
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn two_accounts_racing_for_one_new_address_one_wins() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let first = app.active_customer(&admin, false).await;
    let second = app.active_customer(&admin, false).await;
    let target = unique_email("contested");
    let mut tokens = Vec::new();
    for email in [&first, &second] {
        let access =
            app.sign_in(email, PASSWORD).await.body["access_token"].as_str().expect("access").to_owned();
        let asked = app
            .post("/me/email", json!({"new_email": target, "current_password": PASSWORD}), Some(&access))
            .await;
        assert_eq!(asked.status, StatusCode::ACCEPTED);
        tokens.push(access);
    }
    let codes = [email_code(&app, &target, 0).await, email_code(&app, &target, 1).await];
    let (a, b) = tokio::join!(
        app.post("/me/email/confirm", json!({"code": codes[0]}), Some(&tokens[0])),
        app.post("/me/email/confirm", json!({"code": codes[1]}), Some(&tokens[1])),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{:?} {:?}", a.body, b.body);
    let loser = if a.status == StatusCode::CONFLICT { &a } else { &b };
    assert_eq!(loser.body["code"], "email_taken");
}

#[tokio::test]
async fn moving_to_an_address_in_use_answers_the_same_and_notifies_its_owner() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let mover = app.active_customer(&admin, false).await;
    let owner = app.active_customer(&admin, false).await;
    let access =
        app.sign_in(&mover, PASSWORD).await.body["access_token"].as_str().expect("access").to_owned();
    let free = app
        .post(
            "/me/email",
            json!({"new_email": unique_email("free"), "current_password": PASSWORD}),
            Some(&access),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    let other = app.active_customer(&admin, false).await;
    let access_other =
        app.sign_in(&other, PASSWORD).await.body["access_token"].as_str().expect("access").to_owned();
    let taken = app
        .post("/me/email", json!({"new_email": owner, "current_password": PASSWORD}), Some(&access_other))
        .await;
    assert_eq!((free.status, &free.body), (taken.status, &taken.body), "no way to tell a taken address");
    assert_eq!(count(&app, &owner, "Someone tried to use your address").await, 1);
    assert_eq!(count(&app, &owner, "Confirm your new e-mail address").await, 0);
}

#[tokio::test]
async fn a_reset_link_dies_with_the_password_or_address_it_was_sent_for() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    app.post("/passwords/reset", json!({"email": email}), None).await;
    let token = reset_token(&app, &email).await;

    // The owner changes the password while the link is still in the mailbox.
    let access =
        app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("access").to_owned();
    let changed = app
        .request(
            Method::PUT,
            "/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
            Some(&access),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    let stale = app
        .post(
            "/passwords/reset/confirm",
            json!({"token": token, "new_password": "another fresh passphrase"}),
            None,
        )
        .await;
    assert_eq!((stale.status, stale.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_token")));
    assert_eq!(
        app.sign_in(&email, NEW_PASSWORD).await.status,
        StatusCode::OK,
        "the password the owner chose stands"
    );
}
