//! Sessions: device confirmation by code and by link, its limits, refresh rotation and reuse
//! detection, sign-out, device revocation, throttling, and the round trips of a sign-in.

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{DEVICE, PASSWORD, TestApp, spawn_app};

const LAPTOP: &str = "laptop-device-id-0123456789";
const PHONE: &str = "phone-device-id-abcdefghijk";
const CONFIRM_SUBJECT: &str = "Confirm the sign-in from a new device";
const NEW_SIGN_IN_SUBJECT: &str = "New sign-in to your account";

async fn count_mails(app: &TestApp, email: &str, subject: &str) -> usize {
    app.mails_to(email).await.iter().filter(|m| m.subject.as_deref() == Some(subject)).count()
}

async fn confirmation_code(app: &TestApp, email: &str) -> String {
    let mail = app.latest_mail(email, CONFIRM_SUBJECT).await;
    let code = mail.body.split_whitespace().find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()));
    code.expect("a code").to_owned()
}

async fn confirmation_token(app: &TestApp, email: &str) -> String {
    let mail = app.latest_mail(email, CONFIRM_SUBJECT).await;
    let start = mail.body.find("token=").expect("a link") + "token=".len();
    mail.body[start..].split_whitespace().next().expect("token").to_owned()
}

#[tokio::test]
async fn a_new_device_is_confirmed_by_the_mailed_code_on_that_device() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, true).await;

    // The registering device is trusted; a new one has to confirm.
    assert_eq!(app.sign_in_from(DEVICE, &email, PASSWORD).await.status, StatusCode::OK);
    let pending = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    assert_eq!(pending.status, StatusCode::ACCEPTED, "{:?}", pending.body);
    assert_eq!(pending.body["status"], "device_confirmation_required");
    let id = pending.body["confirmation_id"].as_str().expect("confirmation id").to_owned();
    let code = confirmation_code(&app, &email).await;
    let path = format!("/sessions/device-confirmations/{id}");

    let elsewhere = app.post_from(PHONE, &path, json!({"code": code}), None).await;
    assert_eq!(elsewhere.body["code"], "device_mismatch", "the code only works on the device that signed in");

    let confirmed = app.post_from(LAPTOP, &path, json!({"code": code}), None).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    assert!(confirmed.body["access_token"].is_string());
    assert_eq!(
        count_mails(&app, &email, NEW_SIGN_IN_SUBJECT).await,
        1,
        "the owner is told of the new device"
    );

    let replay = app.post_from(LAPTOP, &path, json!({"code": code}), None).await;
    assert_ne!(replay.status, StatusCode::OK, "a code works once");
    let again = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "a confirmed device signs in without another mail");
    assert_eq!(count_mails(&app, &email, CONFIRM_SUBJECT).await, 1);
}

#[tokio::test]
async fn a_new_device_is_confirmed_by_the_link_opened_anywhere() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, true).await;
    assert_eq!(app.sign_in_from(LAPTOP, &email, PASSWORD).await.status, StatusCode::ACCEPTED);
    let token = confirmation_token(&app, &email).await;

    for _ in 0..2 {
        let page = app
            .http
            .get(format!("{}/links/confirm-device?token={token}", app.base))
            .send()
            .await
            .expect("get");
        assert_eq!(page.status(), StatusCode::OK);
    }
    let still_pending = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    assert_eq!(
        still_pending.status,
        StatusCode::TOO_MANY_REQUESTS,
        "a GET trusts nothing; a second mail within a minute is refused"
    );
    assert!(still_pending.headers.contains_key("retry-after"));

    let page = app
        .http
        .post(format!("{}/links/confirm-device", app.base))
        .form(&[("token", &token)])
        .send()
        .await
        .expect("post");
    assert!(page.text().await.unwrap_or_default().contains("Device confirmed"));
    let signed_in = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    assert_eq!(count_mails(&app, &email, CONFIRM_SUBJECT).await, 1);

    let replay = app.post("/sessions/device-confirmations/link", json!({"token": token}), None).await;
    assert_eq!(
        (replay.status, replay.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
}

#[tokio::test]
async fn five_wrong_codes_lock_and_an_expired_confirmation_is_refused() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, true).await;
    let pending = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    let id = pending.body["confirmation_id"].as_str().expect("id").to_owned();
    let code = confirmation_code(&app, &email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let path = format!("/sessions/device-confirmations/{id}");
    for _ in 0..5 {
        assert_eq!(
            app.post_from(LAPTOP, &path, json!({"code": wrong}), None).await.body["code"],
            "invalid_code"
        );
    }
    let locked = app.post_from(LAPTOP, &path, json!({"code": code}), None).await;
    assert_eq!(locked.body["code"], "code_locked");

    // A fresh confirmation a minute later (cooldown passed: moved back in the table), then expired.
    // Keyed by account and trust version (0: no credential change yet).
    let cooldown_key = format!("COOLDOWN#device-mail#{}:0", app.account_id(&email).await);
    app.dynamodb
        .delete_item()
        .table_name(app.state.store.table())
        .key("PK", AttributeValue::S(cooldown_key))
        .key("SK", AttributeValue::S("COOLDOWN".into()))
        .send()
        .await
        .expect("clear cooldown");
    let pending = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    let id = pending.body["confirmation_id"].as_str().expect("id").to_owned();
    let code = confirmation_code(&app, &email).await;
    app.dynamodb
        .update_item()
        .table_name(app.state.store.table())
        .key("PK", AttributeValue::S(format!("DEVICE_CONFIRMATION#{id}")))
        .key("SK", AttributeValue::S("DEVICE_CONFIRMATION".into()))
        .update_expression("SET expires_at = :past, #ttl = :past_epoch")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(":past", AttributeValue::S("2020-01-01T00:00:00Z".into()))
        .expression_attribute_values(":past_epoch", AttributeValue::N("1577836800".into()))
        .send()
        .await
        .expect("expire");
    let expired = app
        .post_from(LAPTOP, &format!("/sessions/device-confirmations/{id}"), json!({"code": code}), None)
        .await;
    assert_eq!(expired.body["code"], "code_expired");
}

#[tokio::test]
async fn twenty_concurrent_confirmations_with_the_right_code_succeed_once() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, true).await;
    let pending = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    let path =
        format!("/sessions/device-confirmations/{}", pending.body["confirmation_id"].as_str().expect("id"));
    let code = confirmation_code(&app, &email).await;
    let attempts = join_all((0..20).map(|_| app.post_from(LAPTOP, &path, json!({"code": code}), None))).await;
    let successes = attempts.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(successes, 1, "{:?}", attempts.iter().map(|r| r.status).collect::<Vec<_>>());
    let sessions =
        app.state.store.sessions(app.account_id(&email).await.parse().expect("id")).await.expect("sessions");
    assert_eq!(sessions.len(), 1, "one session from the confirmations");
}

#[tokio::test]
async fn with_the_policy_off_a_new_device_signs_in_and_the_owner_is_told() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    let signed_in = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK);
    assert_eq!(count_mails(&app, &email, NEW_SIGN_IN_SUBJECT).await, 1);
    app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    assert_eq!(
        count_mails(&app, &email, NEW_SIGN_IN_SUBJECT).await,
        1,
        "a known device is not announced again"
    );
}

/// Device mails name the browser and system parsed from the User-Agent, never the header's
/// text (whoever signs in chooses it); the device list shows the same label.
#[tokio::test]
async fn device_mails_name_the_browser_and_system_not_the_raw_user_agent() {
    const FIREFOX: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const PHISHY: &str = "Mozilla/5.0 (Linux; Android 14) Chrome/126.0.0.0 Mobile Safari/537.36 \
                          Call +1 555 0100 or visit secure-login.example to keep your account";
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, true).await;
    // One new-device mail a minute per account: the second agent signs in to another account.
    let other = app.active_customer(&admin, true).await;
    let sign_in_with = |email: &str, device: &'static str, agent: &'static str| {
        app.http
            .post(format!("{}/sessions", app.base))
            .header("x-device-id", device)
            .header("user-agent", agent)
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
    };

    let pending = sign_in_with(&email, LAPTOP, FIREFOX).await.expect("sign in");
    assert_eq!(pending.status(), StatusCode::ACCEPTED);
    let confirm = app.latest_mail(&email, CONFIRM_SUBJECT).await;
    assert!(confirm.body.contains("\nFirefox 128 on Windows\n"), "{}", confirm.body);
    assert!(!confirm.body.contains("Mozilla") && !confirm.body.contains("Gecko"), "{}", confirm.body);

    let code = confirmation_code(&app, &email).await;
    let id = pending.json::<serde_json::Value>().await.expect("body")["confirmation_id"]
        .as_str()
        .expect("confirmation id")
        .to_owned();
    let confirmed = app
        .post_from(LAPTOP, &format!("/sessions/device-confirmations/{id}"), json!({"code": code}), None)
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    let told = app.latest_mail(&email, NEW_SIGN_IN_SUBJECT).await;
    assert!(told.body.contains("\nFirefox 128 on Windows\n"), "{}", told.body);

    assert_eq!(sign_in_with(&other, PHONE, PHISHY).await.expect("sign in").status(), StatusCode::ACCEPTED);
    let phone = app.latest_mail(&other, CONFIRM_SUBJECT).await;
    assert!(phone.body.contains("\nChrome 126 on Android 14\n"), "{}", phone.body);
    assert!(!phone.body.contains("555") && !phone.body.contains("secure-login"), "{}", phone.body);

    let token = confirmed.body["access_token"].as_str().expect("token");
    let devices = app.get("/me/devices", Some(token)).await;
    let labels: Vec<&str> =
        devices.body.as_array().expect("devices").iter().filter_map(|d| d["label"].as_str()).collect();
    assert!(labels.contains(&"Firefox 128 on Windows"), "{:?}", devices.body);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    let first =
        app.sign_in(&email, PASSWORD).await.body["refresh_token"].as_str().expect("refresh").to_owned();

    let rotated = app.post("/sessions/refresh", json!({"refresh_token": first}), None).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let second = rotated.body["refresh_token"].as_str().expect("new refresh").to_owned();
    assert_ne!(first, second);
    let access = rotated.body["access_token"].as_str().expect("access");
    assert_eq!(app.get("/me", Some(access)).await.body["email"], email.as_str());

    // A token merely shaped like a spent one (its ids are in any old access token) ends nothing.
    let (account, rest) = second.split_once('.').expect("account");
    let session = rest.split('.').next().expect("session");
    let forged = format!("{account}.{session}.0.{}", "A".repeat(43));
    let refused = app.post("/sessions/refresh", json!({"refresh_token": forged}), None).await;
    assert_eq!(refused.body["code"], "invalid_refresh_token");

    let reused = app.post("/sessions/refresh", json!({"refresh_token": first}), None).await;
    assert_eq!(
        (reused.status, reused.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("refresh_token_reused"))
    );
    let after = app.post("/sessions/refresh", json!({"refresh_token": second}), None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "reuse ended the whole session");

    for garbage in ["", "x.y.z.w", &format!("{}x", &second[..second.len() - 1])] {
        let response = app.post("/sessions/refresh", json!({"refresh_token": garbage}), None).await;
        assert_eq!(response.body["code"], "invalid_refresh_token", "{garbage}");
    }
}

#[tokio::test]
async fn sign_out_and_device_revocation_end_sessions() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    let on_laptop = app.sign_in_from(LAPTOP, &email, PASSWORD).await.body;
    let on_phone = app.sign_in_from(PHONE, &email, PASSWORD).await.body;
    let laptop_access = on_laptop["access_token"].as_str().expect("access");

    let devices = app.request(Method::GET, "/me/devices", None, Some(laptop_access)).await;
    let listed = devices.body.as_array().expect("devices").clone();
    assert_eq!(listed.len(), 3, "registration device, laptop, phone: {listed:?}");

    // Revoke the phone (identified from its own session's device list).
    let phone_access = on_phone["access_token"].as_str().expect("access");
    let request = app
        .http
        .get(format!("{}/me/devices", app.base))
        .bearer_auth(phone_access)
        .header("x-device-id", PHONE);
    let from_phone: serde_json::Value = request.send().await.expect("sent").json().await.expect("json");
    let phone_id = from_phone
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["current"] == true)
        .expect("current device")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let revoked =
        app.request(Method::DELETE, &format!("/me/devices/{phone_id}"), None, Some(laptop_access)).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let phone_refresh =
        app.post("/sessions/refresh", json!({"refresh_token": on_phone["refresh_token"]}), None).await;
    assert_eq!(phone_refresh.status, StatusCode::UNAUTHORIZED, "revoking a device ends its sessions");
    assert_eq!(
        app.request(Method::DELETE, &format!("/me/devices/{phone_id}"), None, Some(laptop_access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let signed_out = app.request(Method::DELETE, "/sessions/current", None, Some(laptop_access)).await;
    assert_eq!(signed_out.status, StatusCode::NO_CONTENT);
    let after = app.get("/me", Some(laptop_access)).await;
    assert_eq!(
        (after.status, after.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("session_ended")),
        "signed out"
    );
    let laptop_refresh =
        app.post("/sessions/refresh", json!({"refresh_token": on_laptop["refresh_token"]}), None).await;
    assert_eq!(laptop_refresh.status, StatusCode::UNAUTHORIZED);
}

/// The key of `address`'s password attempts (a keyed hash of it, account or not).
fn attempts_key(app: &TestApp, address: &str) -> (String, String) {
    let subject = app
        .state
        .keys
        .keyed_hash(portico::auth::keys::HashPurpose::PasswordAttempts, &address.to_lowercase());
    portico::store::keys::sign_in_attempts(&subject)
}

/// Sets the attempts of `email` (so the test does not race the clock).
async fn set_failures(app: &TestApp, email: &str, count: u32, last_at: i64, window_start: i64) {
    let (pk, sk) = attempts_key(app, email);
    app.dynamodb
        .put_item()
        .table_name(app.state.store.table())
        .item("PK", AttributeValue::S(pk))
        .item("SK", AttributeValue::S(sk))
        .item("attempts", AttributeValue::N(count.to_string()))
        .item("last_at", AttributeValue::N(last_at.to_string()))
        .item("window_start", AttributeValue::N(window_start.to_string()))
        .send()
        .await
        .expect("set failures");
}

async fn attempts_counted(app: &TestApp, email: &str) -> u32 {
    let subject =
        app.state.keys.keyed_hash(portico::auth::keys::HashPurpose::PasswordAttempts, &email.to_lowercase());
    app.state.store.sign_in_attempts(&subject).await.expect("read").count
}

#[tokio::test]
async fn failed_passwords_slow_down_further_attempts() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    for attempt in 0..5 {
        let response = app.sign_in(&email, "wrong password here").await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    assert_eq!(attempts_counted(&app, &email).await, 5, "every failure is counted");

    // Just after an eighth failure, even the right password waits: 8 s (1, 2, 4, 8 s after the
    // fifth; long enough that a busy machine's lag can't let the attempt through).
    let now = chrono::Utc::now().timestamp();
    set_failures(&app, &email, 8, now, now - 60).await;
    let throttled = app.sign_in(&email, PASSWORD).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: i64 = throttled.headers["retry-after"].to_str().unwrap_or("0").parse().unwrap_or(0);
    assert!((5..=8).contains(&wait), "the eighth failure's delay, less the time since: {wait}");

    // A hundred failures within the hour block until the hour is over.
    set_failures(&app, &email, 100, now - 3000, now - 3000).await;
    let blocked = app.sign_in(&email, PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = blocked.headers["retry-after"].to_str().unwrap_or("0").parse().unwrap_or(0);
    assert!((500..=600).contains(&retry_after), "until the window ends, got {retry_after}");

    // Once the delay has passed the right password works, and clears the count.
    set_failures(&app, &email, 5, now - 10, now - 60).await;
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);
    assert_eq!(attempts_counted(&app, &email).await, 0, "a successful sign-in clears the attempts");
}

#[tokio::test]
async fn an_unknown_address_is_throttled_exactly_like_a_known_one() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let known = app.active_customer(&admin, false).await;
    let unknown = crate::support::unique_email("nobody");
    for address in [&known, &unknown] {
        for attempt in 0..5 {
            let response = app.sign_in(address, "wrong password here").await;
            assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{address} attempt {attempt}");
        }
        assert_eq!(attempts_counted(&app, address).await, 5, "{address}");
        // Just after an eighth failure (pinned, and 8 s long, so a slow machine's lag can't pass
        // the delay):
        let now = chrono::Utc::now().timestamp();
        set_failures(&app, address, 8, now, now - 60).await;
        let next = app.sign_in(address, "wrong password here").await;
        assert_eq!(next.status, StatusCode::TOO_MANY_REQUESTS, "{address}: {:?}", next.body);
        let wait: i64 = next.headers["retry-after"].to_str().unwrap_or("0").parse().unwrap_or(0);
        assert!((5..=8).contains(&wait), "{address}: {wait}");
    }
}

#[tokio::test]
async fn current_password_checks_share_the_sign_in_count() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    let token = app.sign_in(&email, PASSWORD).await.body["access_token"].as_str().expect("token").to_owned();
    let change =
        json!({"current_password": "a wrong guess here", "new_password": "an entirely new passphrase"});
    for attempt in 0..5 {
        let response = app.request(Method::PUT, "/me/password", Some(change.clone()), Some(&token)).await;
        assert_eq!(response.body["code"], "invalid_current_password", "attempt {attempt}");
    }
    assert_eq!(attempts_counted(&app, &email).await, 5, "the checks counted on the address");
    let now = chrono::Utc::now().timestamp();
    // Eight failures: the next attempt waits 8 s, long enough for both checks below on a busy
    // machine (five would leave 1 s).
    set_failures(&app, &email, 8, now, now - 60).await;
    let held = app.request(Method::PUT, "/me/password", Some(change), Some(&token)).await;
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS);
    // A stolen session's guesses slow the owner's sign-in too (and the reverse).
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn fifty_parallel_wrong_passwords_check_no_more_than_the_limit() {
    use portico::domain::signin::FREE_FAILURES;
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let known = app.active_customer(&admin, false).await;
    let unknown = crate::support::unique_email("nobody");
    for address in [&known, &unknown] {
        let started = std::time::Instant::now();
        let answers = join_all((0..50).map(|_| app.sign_in(address, "wrong password here"))).await;
        // After the free five, each further check waits 1 s, 2 s, 4 s …: a slow run earns those.
        let elapsed = started.elapsed().as_secs() + 1;
        let limit = FREE_FAILURES as usize + elapsed.ilog2() as usize;
        let checked = answers.iter().filter(|answer| answer.status == StatusCode::UNAUTHORIZED).count();
        let held = answers.iter().filter(|answer| answer.status == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!(checked + held, 50, "{address}: only 401 and 429");
        assert!((1..=limit).contains(&checked), "{address}: {checked} passwords checked, at most {limit}");
        assert_eq!(attempts_counted(&app, address).await as usize, checked, "{address}: each check counted");
    }
}

#[tokio::test]
async fn a_sign_in_from_a_trusted_device_costs_three_round_trips() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, true).await;

    let (counted, counter) = app.counting_requests().await;

    let signed_in = counted.sign_in_from(DEVICE, &email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK);
    assert_eq!(
        counter.take(),
        3,
        "sign-in: one batch read, the attempt's reservation before the password is checked, one transaction"
    );

    let refreshed = counted
        .post("/sessions/refresh", json!({"refresh_token": signed_in.body["refresh_token"]}), None)
        .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    assert_eq!(counter.take(), 2, "refresh: one batch read, one conditional update");
}

#[tokio::test]
async fn disabling_a_customer_ends_its_sessions_and_sign_in() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, false).await;
    let signed_in = app.sign_in(&email, PASSWORD).await.body;
    let id = app.account_id(&email).await;

    let disabled = app.post(&format!("/admin/customers/{id}/disable"), json!({}), Some(&admin)).await;
    assert_eq!((disabled.status, disabled.body["status"].as_str()), (StatusCode::OK, Some("disabled")));
    let portal = app.get("/portal/modules", signed_in["access_token"].as_str()).await;
    assert_eq!(
        (portal.status, portal.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("session_ended"))
    );
    let refresh =
        app.post("/sessions/refresh", json!({"refresh_token": signed_in["refresh_token"]}), None).await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
    let sign_in = app.sign_in(&email, PASSWORD).await;
    assert_eq!(
        (sign_in.status, sign_in.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("account_disabled"))
    );
    let twice = app.post(&format!("/admin/customers/{id}/disable"), json!({}), Some(&admin)).await;
    assert_eq!((twice.status, twice.body["code"].as_str()), (StatusCode::CONFLICT, Some("not_active")));

    let enabled = app.post(&format!("/admin/customers/{id}/enable"), json!({}), Some(&admin)).await;
    assert_eq!(enabled.body["status"], "active");
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);
}

/// Issue 13's report: a reset right after confirming a device answered 429 on the usual device.
#[tokio::test]
async fn the_first_sign_in_after_a_reset_asks_to_confirm_the_device_again() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, true).await;
    let pending = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    let id = pending.body["confirmation_id"].as_str().expect("id").to_owned();
    let code = confirmation_code(&app, &email).await;
    let path = format!("/sessions/device-confirmations/{id}");
    assert_eq!(app.post_from(LAPTOP, &path, json!({"code": code}), None).await.status, StatusCode::OK);

    // Within the minute: a reset (it drops trusted devices), then the usual laptop again.
    app.post("/passwords/reset", json!({"email": email}), None).await;
    let mail = app.latest_mail(&email, "Reset your password").await;
    let start = mail.body.find("token=").expect("a link") + "token=".len();
    let token = mail.body[start..].split_whitespace().next().expect("token").to_owned();
    let new_password = "a brand new passphrase";
    let reset = app
        .post("/passwords/reset/confirm", json!({"token": token, "new_password": new_password}), None)
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    let again = app.sign_in_from(LAPTOP, &email, new_password).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "the device step, not 429: {:?}", again.body);
    assert_eq!(count_mails(&app, &email, CONFIRM_SUBJECT).await, 2);

    // The cooldown still holds for the same credentials, and the 429 says what it limits.
    let twice = app.sign_in_from(PHONE, &email, new_password).await;
    assert_eq!(twice.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(twice.headers.contains_key("retry-after"));
    assert!(
        twice.body["detail"].as_str().is_some_and(|d| d.contains("new-device confirmation mails")),
        "{:?}",
        twice.body
    );
}
