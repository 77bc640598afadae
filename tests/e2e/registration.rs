//! Registration under every policy combination, the duplicate-address answer, the race, and
//! e-mail verification by code and by link.

use futures::future::join_all;
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, spawn_app, unique_email};

const VERIFY_SUBJECT: &str = "Confirm your e-mail address";
const RECEIVED_SUBJECT: &str = "Your registration";
const APPROVAL_SUBJECT: &str = "A registration waits for approval";

async fn status_of(app: &TestApp, token: &str, id: &str) -> String {
    for status in ["pending_verification", "pending_approval", "active", "rejected"] {
        let page = app.get(&format!("/admin/registrations?status={status}"), Some(token)).await;
        let items = page.body["items"].as_array().cloned().unwrap_or_default();
        if items.iter().any(|item| item["id"] == id) {
            return status.to_owned();
        }
    }
    "missing".into()
}

/// The whole flow of SPEC §1 for one combination of account type and policy.
#[rstest]
#[tokio::test]
async fn registration_flow_follows_policy(
    #[values("person", "company")] account_type: &str,
    #[values("none", "all", "companies")] approval: &str,
    #[values("required", "optional", "none")] verification: &str,
    #[values(true, false)] notify: bool,
) {
    // Approvers are mailed from the table's stream, as in AWS.
    let (app, _) = crate::support::spawn_app_with_workflows().await;
    let (admin, admin_email) = app.admin_token().await;
    app.set_policy(
        &admin,
        json!({"notify_on_registration": notify, "admin_approval": approval,
               "device_confirmation": false, "email_verification": verification}),
    )
    .await;
    let needs_approval = approval == "all" || (approval == "companies" && account_type == "company");
    let email = unique_email("customer");

    // Register: 202 and the steps this policy asks for.
    let response = app.register(&email, account_type).await;
    assert_eq!(response.status, StatusCode::ACCEPTED);
    let mut expected_next = Vec::new();
    if verification == "required" {
        expected_next.push("verify_email");
    }
    if needs_approval {
        expected_next.push("await_approval");
    }
    expected_next.push("sign_in");
    assert_eq!(response.body, json!({"status": "received", "next": expected_next}));

    // Mails: a verification mail unless verification is off; a confirmation when notify is on.
    let subjects: Vec<String> = app.mails_to(&email).await.into_iter().filter_map(|m| m.subject).collect();
    assert_eq!(subjects.iter().filter(|s| *s == VERIFY_SUBJECT).count(), usize::from(verification != "none"));
    assert_eq!(subjects.iter().filter(|s| *s == RECEIVED_SUBJECT).count(), usize::from(notify));

    let id = app.account_id(&email).await;
    if verification == "required" {
        assert_eq!(status_of(&app, &admin, &id).await, "pending_verification");
        let refused = app.sign_in(&email, PASSWORD).await;
        assert_eq!(
            (refused.status, refused.body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("email_not_verified"))
        );
    }
    if verification != "none" {
        let code = app.verification_code(&email).await;
        let verified = app.post("/registrations/verify", json!({"email": email, "code": code}), None).await;
        assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
        assert_eq!(verified.body["email_verified"], true);
    }

    if needs_approval {
        assert_eq!(status_of(&app, &admin, &id).await, "pending_approval");
        let mut approver_mails = 0;
        for _ in 0..200 {
            let mails = app.mails_to(&admin_email).await;
            approver_mails = mails.iter().filter(|m| m.subject.as_deref() == Some(APPROVAL_SUBJECT)).count();
            if approver_mails > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(approver_mails, 1, "one mail to the approver, from the stream");
        let refused = app.sign_in(&email, PASSWORD).await;
        assert_eq!(
            (refused.status, refused.body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("approval_pending"))
        );
        let approved = app.post(&format!("/admin/registrations/{id}/approve"), json!({}), Some(&admin)).await;
        assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.body);
        app.latest_mail(&email, "Your account is approved").await;
    } else {
        assert!(
            app.mails_to(&admin_email).await.iter().all(|m| m.subject.as_deref() != Some(APPROVAL_SUBJECT))
        );
    }

    assert_eq!(status_of(&app, &admin, &id).await, "active");
    let signed_in = app.sign_in(&email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["token_type"], "Bearer");
}

#[tokio::test]
async fn an_existing_address_gets_the_same_answer_and_its_owner_a_notice() {
    let app = spawn_app().await;
    let email = unique_email("twice");
    let first = app.register(&email, "person").await;
    let second = app.register(&email, "person").await;
    assert_eq!((first.status, &first.body), (second.status, &second.body));

    let subjects: Vec<String> = app.mails_to(&email).await.into_iter().filter_map(|m| m.subject).collect();
    assert_eq!(
        subjects.iter().filter(|s| *s == VERIFY_SUBJECT).count(),
        1,
        "no second account, no second code"
    );
    assert_eq!(subjects.iter().filter(|s| *s == "Someone tried to register with your address").count(), 1);

    // A third attempt within the minute mails nobody.
    app.register(&email, "person").await;
    let notices = app.mails_to(&email).await;
    assert_eq!(
        notices
            .iter()
            .filter(|m| m.subject.as_deref() == Some("Someone tried to register with your address"))
            .count(),
        1
    );
}

#[tokio::test]
async fn twenty_racing_registrations_of_one_address_create_one_account() {
    let app = spawn_app().await;
    let email = unique_email("race");
    let responses = join_all((0..20).map(|_| app.register(&email, "person"))).await;
    assert!(responses.iter().all(|r| r.status == StatusCode::ACCEPTED));
    let accounts = app
        .state
        .store
        .customers_by_status(portico::domain::AccountStatus::PendingVerification, 100, None)
        .await
        .expect("query");
    assert_eq!(accounts.items.len(), 1);
    let verification_mails = app
        .mails_to(&email)
        .await
        .into_iter()
        .filter(|m| m.subject.as_deref() == Some(VERIFY_SUBJECT))
        .count();
    assert_eq!(verification_mails, 1);
}

#[tokio::test]
async fn the_mailed_link_page_changes_nothing_on_get_and_verifies_on_post() {
    let app = spawn_app().await;
    let email = unique_email("link");
    app.register(&email, "person").await;
    let token = app.verification_token(&email).await;

    for _ in 0..2 {
        let page =
            app.http.get(format!("{}/links/verify-email?token={token}", app.base)).send().await.expect("get");
        assert_eq!(page.status(), StatusCode::OK);
        assert!(
            page.headers()["content-security-policy"]
                .to_str()
                .unwrap_or_default()
                .contains("default-src 'none'")
        );
        assert!(page.text().await.unwrap_or_default().contains("<form method=\"post\""));
    }
    let refused = app.sign_in(&email, PASSWORD).await;
    assert_eq!(refused.body["code"], "email_not_verified", "a GET must not verify");

    let confirmed = app
        .http
        .post(format!("{}/links/verify-email", app.base))
        .form(&[("token", &token)])
        .send()
        .await
        .expect("post");
    assert!(confirmed.text().await.unwrap_or_default().contains("E-mail address confirmed"));
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);

    // The link is single-use, as an API call too.
    let replay = app.post("/registrations/verify", json!({"token": token}), None).await;
    assert_eq!(
        (replay.status, replay.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
}

#[tokio::test]
async fn five_wrong_codes_lock_the_challenge_and_a_resend_unlocks_it() {
    let app = spawn_app().await;
    let email = unique_email("lock");
    app.register(&email, "person").await;
    let code = app.verification_code(&email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for attempt in 0..5 {
        let response = app.post("/registrations/verify", json!({"email": email, "code": wrong}), None).await;
        assert_eq!(response.body["code"], "invalid_code", "attempt {attempt}");
    }
    // Locked: even the right code is refused now, with the answer every failed code gets (an
    // own code for it would tell that an unverified account holds the address).
    let locked = app.post("/registrations/verify", json!({"email": email, "code": code}), None).await;
    assert_eq!(
        (locked.status, locked.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_code"))
    );
    let unknown =
        app.post("/registrations/verify", json!({"email": unique_email("nobody"), "code": code}), None).await;
    assert_eq!((unknown.status, &unknown.body["detail"]), (locked.status, &locked.body["detail"]));

    let resent = app.post("/registrations/verify/resend", json!({"email": email}), None).await;
    assert_eq!(resent.status, StatusCode::ACCEPTED);
    let fresh = app.verification_code(&email).await;
    let stale = app.post("/registrations/verify", json!({"email": email, "code": code}), None).await;
    assert_eq!(stale.body["code"], "invalid_code", "a resend replaces the old code");
    let ok = app.post("/registrations/verify", json!({"email": email, "code": fresh}), None).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
}

#[tokio::test]
async fn resend_is_always_accepted_and_rate_limited() {
    let app = spawn_app().await;
    let unknown =
        app.post("/registrations/verify/resend", json!({"email": unique_email("nobody")}), None).await;
    assert_eq!(unknown.status, StatusCode::ACCEPTED);

    let email = unique_email("resend");
    app.register(&email, "person").await;
    for _ in 0..3 {
        let response = app.post("/registrations/verify/resend", json!({"email": email}), None).await;
        assert_eq!(response.status, StatusCode::ACCEPTED);
    }
    let codes = app
        .mails_to(&email)
        .await
        .into_iter()
        .filter(|m| m.subject.as_deref() == Some(VERIFY_SUBJECT))
        .count();
    assert_eq!(
        codes, 2,
        "the registration's code and one resend: further resends within a minute send nothing"
    );
}

#[tokio::test]
async fn a_code_is_spent_once_even_under_concurrency() {
    let app = spawn_app().await;
    let email = unique_email("spent");
    app.register(&email, "person").await;
    let code = app.verification_code(&email).await;
    let body = json!({"email": email, "code": code});
    let responses = join_all((0..10).map(|_| app.post("/registrations/verify", body.clone(), None))).await;
    let successes = responses.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(successes, 1);
    assert!(
        responses.iter().filter(|r| r.status != StatusCode::OK).all(|r| r.status == StatusCode::BAD_REQUEST)
    );
}

#[tokio::test]
async fn an_international_address_and_its_ascii_form_are_one_account() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    app.set_policy(
        &admin,
        json!({"notify_on_registration": false, "admin_approval": "none", "device_confirmation": false,
               "email_verification": "none"}),
    )
    .await;
    let local = unique_email("jörg").replace("@example.com", "");
    let (unicode, ascii) = (format!("{local}@exämple.com"), format!("{local}@xn--exmple-cua.com"));
    assert_eq!(app.register(&unicode, "person").await.status, StatusCode::ACCEPTED);
    // The same mailbox spelt the other way: the same answer, no second account.
    assert_eq!(app.register(&ascii, "person").await.status, StatusCode::ACCEPTED);
    assert_eq!(app.account_id(&ascii).await, app.account_id(&unicode).await);
    let signed_in = app.sign_in(&ascii.to_uppercase(), PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
}

#[tokio::test]
async fn registrations_are_limited_per_source_network_and_names_carry_no_links() {
    let app = crate::support::spawn_app_with(|config| {
        config.registrations_per_ip = 3;
        config.registrations_per_network = 100;
    })
    .await;
    for _ in 0..3 {
        let accepted = app.register(&unique_email("ann"), "person").await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    }
    let refused = app.register(&unique_email("ann"), "person").await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert!(refused.headers.get("retry-after").is_some());

    let app = spawn_app().await;
    for (name, company) in
        [("Visit https://evil.example", None), ("Ann\u{202E}eeL", None), ("Ann", Some("www.evil.example"))]
    {
        let mut body = json!({"email": unique_email("ann"), "password": PASSWORD, "name": name, "account_type": "person"});
        if let Some(company) = company {
            body["account_type"] = json!("company");
            body["company_name"] = json!(company);
        }
        let answer = app.post("/registrations", body, None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{name:?} {company:?}");
    }
    let fine = json!({"email": unique_email("ann"), "password": PASSWORD, "name": "Ann Lee", "account_type": "company", "company_name": "Booking.com"});
    assert_eq!(app.post("/registrations", fine, None).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn one_mailbox_gets_at_most_five_registration_mails_a_day_whatever_its_spelling() {
    let app = spawn_app().await;
    let base = unique_email("victim");
    let (local, domain) = base.split_once('@').expect("address");
    let mut mailed = 0;
    for tag in 1..=7 {
        let address = format!("{local}+{tag}@{domain}");
        let answer = app.register(&address, "person").await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "the answer never changes");
        if !app.mails_to(&address).await.is_empty() {
            mailed += 1;
        }
    }
    assert_eq!(mailed, 5);
}
