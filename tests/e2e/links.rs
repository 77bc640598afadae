//! Every mailed link is safe from mail scanners: GETs (twice) change nothing, the flows still
//! complete through the pages' POSTs afterwards. And the "not me" link secures the account.

use std::time::Instant;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, spawn_app, spawn_app_with, unique_email};

const LAPTOP: &str = "laptop-device-id-0123456789";

/// Every `(path, token)` link in the mails to `email`, in sending order.
async fn links_to(app: &TestApp, email: &str) -> Vec<(String, String)> {
    let mut links = Vec::new();
    for mail in app.mails_to(email).await {
        for word in mail.body.split_whitespace() {
            if let Some(rest) = word.strip_prefix("http://portico.test")
                && let Some((path, token)) = rest.split_once("?token=")
            {
                links.push((path.to_owned(), token.to_owned()));
            }
        }
    }
    links
}

async fn get_page(app: &TestApp, path: &str, token: &str, language: &str) -> (StatusCode, String, String) {
    let response = app
        .http
        .get(format!("{}{path}?token={token}", app.base))
        .header("accept-language", language)
        .send()
        .await
        .expect("get");
    let status = response.status();
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, csp, response.text().await.unwrap_or_default())
}

async fn post_page(app: &TestApp, path: &str, form: &[(&str, &str)]) -> String {
    let response = app.http.post(format!("{}{path}", app.base)).form(form).send().await.expect("post");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap_or_default()
}

#[tokio::test]
async fn every_link_kind_survives_a_scanner_and_still_completes() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    app.set_policy(&admin, json!({"notify_on_registration": false, "admin_approval": "none", "device_confirmation": true, "email_verification": "required"})).await;
    let email = unique_email("scanned");
    app.register(&email, "person").await;
    let code = app.verification_code(&email).await;
    app.post("/registrations/verify", json!({"email": email, "code": code}), None).await;
    assert_eq!(app.sign_in_from(LAPTOP, &email, PASSWORD).await.status, StatusCode::ACCEPTED);
    app.post("/passwords/reset", json!({"email": email}), None).await;
    // A second account, still unverified, for a verification link nobody has used.
    let unverified = unique_email("unverified");
    app.register(&unverified, "person").await;

    let mut links = links_to(&app, &email).await;
    links.extend(links_to(&app, &unverified).await);
    let kinds: std::collections::BTreeSet<&str> = links.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        kinds,
        ["/links/confirm-device", "/links/not-me", "/links/reset-password", "/links/verify-email"].into(),
        "every kind of link is in the outbox"
    );

    // The scanner: every link, twice, by GET.
    for (path, token) in &links {
        for _ in 0..2 {
            let (status, csp, body) = get_page(&app, path, token, "en").await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(csp.contains("default-src 'none'") && !body.contains("<script"), "{path}");
            assert!(body.contains("<form method=\"post\""), "{path}");
        }
    }
    let (_, _, german) = get_page(&app, "/links/not-me", &links[0].1, "de-DE,de;q=0.9").await;
    assert!(german.contains("lang=\"de\""));

    // Nothing happened: the unverified account is unverified, the laptop untrusted, the
    // password unchanged, the sessions alive.
    assert_eq!(app.sign_in(&unverified, PASSWORD).await.body["code"], "email_not_verified");
    assert_eq!(app.sign_in_from(crate::support::DEVICE, &email, PASSWORD).await.status, StatusCode::OK);

    // The person: the same links, through their pages' buttons.
    let find = |kind: &str| {
        links.iter().find(|(path, _)| path == kind).map(|(_, token)| token.clone()).expect("link")
    };
    let verify = links_to(&app, &unverified)
        .await
        .into_iter()
        .find(|(p, _)| p == "/links/verify-email")
        .expect("verify link")
        .1;
    assert!(
        post_page(&app, "/links/verify-email", &[("token", &verify)])
            .await
            .contains("E-mail address confirmed")
    );
    assert_eq!(app.sign_in(&unverified, PASSWORD).await.status, StatusCode::OK);
    assert!(
        post_page(&app, "/links/confirm-device", &[("token", &find("/links/confirm-device"))])
            .await
            .contains("Device confirmed")
    );
    assert_eq!(app.sign_in_from(LAPTOP, &email, PASSWORD).await.status, StatusCode::OK);
    let new_password = "scanner proof passphrase";
    let reset = post_page(
        &app,
        "/links/reset-password",
        &[("token", &find("/links/reset-password")), ("new_password", new_password)],
    )
    .await;
    assert!(reset.contains("Password changed"));
    // Untrusted again: a confirmation is asked for (or refused for now: the laptop's mail
    // started the account's one-a-minute cooldown). Either way no tokens.
    let after_reset = app.sign_in_from(crate::support::DEVICE, &email, new_password).await.status;
    assert!(matches!(after_reset, StatusCode::ACCEPTED | StatusCode::TOO_MANY_REQUESTS), "{after_reset}");
}

#[tokio::test]
async fn not_me_revokes_the_device_ends_sessions_and_starts_a_reset() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let email = app.active_customer(&admin, true).await;
    let session = app.sign_in(&email, PASSWORD).await.body;
    let pending = app.sign_in_from(LAPTOP, &email, PASSWORD).await;
    let confirmation = pending.body["confirmation_id"].as_str().expect("id").to_owned();
    let not_me =
        links_to(&app, &email).await.into_iter().find(|(p, _)| p == "/links/not-me").expect("not-me link").1;

    let page = post_page(&app, "/links/not-me", &[("token", &not_me)]).await;
    assert!(page.contains("Your account is secured"), "{page}");
    let refresh =
        app.post("/sessions/refresh", json!({"refresh_token": session["refresh_token"]}), None).await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED, "every session ended");
    let code = app.latest_mail(&email, "Confirm the sign-in from a new device").await;
    let code = code
        .body
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .expect("code")
        .to_owned();
    let late = app
        .post_from(
            LAPTOP,
            &format!("/sessions/device-confirmations/{confirmation}"),
            json!({"code": code}),
            None,
        )
        .await;
    assert_eq!(late.status, StatusCode::NOT_FOUND, "the confirmation was withdrawn");
    let again = post_page(&app, "/links/not-me", &[("token", &not_me)]).await;
    assert!(again.contains("Link not valid"), "single use");

    // The password may be the intruder's too: refused until the owner sets a new one, and
    // said only to someone who knows it (a wrong one is the usual 401).
    let old = app.sign_in(&email, PASSWORD).await;
    assert_eq!(
        (old.status, old.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("password_reset_required"))
    );
    assert_eq!(app.sign_in(&email, "not the password at all").await.status, StatusCode::UNAUTHORIZED);
    let reset = links_to(&app, &email)
        .await
        .into_iter()
        .rev()
        .find(|(path, _)| path == "/links/reset-password")
        .expect("the reset link mailed with the not-me")
        .1;
    let new_password = "a fresh start passphrase";
    let changed =
        post_page(&app, "/links/reset-password", &[("token", &reset), ("new_password", new_password)]).await;
    assert!(changed.contains("Password changed"), "{changed}");
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED, "the old one is gone");
    let fresh = app.sign_in(&email, new_password).await.status;
    assert!(
        matches!(fresh, StatusCode::OK | StatusCode::ACCEPTED | StatusCode::TOO_MANY_REQUESTS),
        "{fresh}"
    );
}

#[tokio::test]
async fn answers_that_could_reveal_an_account_take_the_same_minimum_time() {
    // The one test with the floor on (the others run without it, to be fast).
    let floor = portico::config::DEFAULT_ENUMERATION_FLOOR;
    let app = spawn_app_with(|config| config.enumeration_floor = floor).await;
    let (admin, _) = app.admin_token().await;
    let known = app.active_customer(&admin, false).await;
    for (path, body) in [
        ("/passwords/reset", json!({"email": known})),
        ("/passwords/reset", json!({"email": unique_email("unknown")})),
        (
            "/registrations",
            json!({"email": known, "password": PASSWORD, "name": "Ann", "account_type": "person"}),
        ),
        (
            "/registrations",
            json!({"email": unique_email("fresh"), "password": PASSWORD, "name": "Ann", "account_type": "person"}),
        ),
    ] {
        let started = Instant::now();
        let response = app.post(path, body, None).await;
        assert!(response.status.is_success());
        assert!(started.elapsed() >= floor, "{path} answered before the floor");
    }
}
