//! OTP-guarded changes over HTTP (issue 14): the seed's delivery scenario, manual sends,
//! every refusal of verify, resend limits, races and replays. Codes are read from the outbox.

use futures::future::join_all;
use portico::domain::BuiltinRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::contact_fields::{Setup, setup};
use crate::otp_rules::seed_rule;
use crate::support::{Response, TestApp, spawn_app};

/// Seed 000's example: "Delivery confirmation OTP", with `adjust` applied.
fn rule(adjust: impl FnOnce(&mut Value)) -> Value {
    let mut rule = seed_rule();
    adjust(&mut rule);
    rule
}

/// A phone number no other test sends to (the outbox is shared).
fn unique_mobile() -> String {
    let digits: String = ulid::Ulid::generate().0.to_string().chars().rev().take(9).collect();
    format!("+49151{digits}")
}

/// An administrator, the rule, a customer contact and a delivery out for delivery owned by a
/// field agent.
struct Scene {
    admin: String,
    agent: String,
    mobile: String,
    email: String,
    delivery: String,
}

async fn scene(app: &TestApp, adjust: impl FnOnce(&mut Value)) -> Scene {
    let (admin, _) = app.admin_token().await;
    let saved = app.post("/admin/otp-rules", rule(adjust), Some(&admin)).await;
    assert_eq!(saved.status, StatusCode::CREATED, "{:?}", saved.body);
    let (agent, agent_id) = app.staff_member(BuiltinRole::FieldAgent).await;
    let mobile = unique_mobile();
    let email = crate::support::unique_email("customer");
    let contact = app
        .post(
            "/records/contacts",
            json!({"fields": {"first_name": "Petra", "last_name": "Novak", "mobile": mobile, "email": email}}),
            Some(&admin),
        )
        .await;
    assert_eq!(contact.status, StatusCode::CREATED, "{:?}", contact.body);
    let delivery = delivery(app, &admin, &agent_id, contact.body["id"].as_str().expect("id")).await;
    Scene { admin, agent, mobile, email, delivery }
}

async fn delivery(app: &TestApp, admin: &str, owner: &str, contact: &str) -> String {
    let created = app
        .post(
            "/records/deliveries",
            json!({"owner_id": owner, "fields": {"reference": "D-1", "status": "Out for delivery", "address": "Hauptstraße 1", "contact_id": contact}}),
            Some(admin),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    format!("/records/deliveries/{}", created.body["id"].as_str().expect("id"))
}

/// PATCHes `fields` onto the record at `path` at the version it has now.
pub(crate) async fn patch_current(app: &TestApp, path: &str, token: &str, fields: Value) -> Response {
    let version = app.get(path, Some(token)).await.body["version"].as_u64().expect("version");
    app.request(Method::PATCH, path, Some(json!({"version": version, "fields": fields})), Some(token)).await
}

async fn mark_delivered(app: &TestApp, path: &str, token: &str) -> Response {
    patch_current(app, path, token, json!({"status": "Delivered"})).await
}

/// The codes sent to `to` (SMS or mail), oldest first.
async fn codes_sent_to(app: &TestApp, to: &str, length: usize) -> Vec<String> {
    let messages = app.outbox.messages_to(to).await.expect("outbox");
    messages
        .iter()
        .filter_map(|message| {
            message
                .body
                .split(|c: char| !c.is_ascii_alphanumeric())
                .find(|word| word.len() == length && word.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned)
        })
        .collect()
}

fn challenge_path(challenge: &Value, action: &str) -> String {
    let id = challenge["challenge_id"].as_str().expect("challenge_id");
    if action.is_empty() { format!("/otp/challenges/{id}") } else { format!("/otp/challenges/{id}/{action}") }
}

fn wrong(code: &str) -> String {
    code.chars().map(|c| if c == '9' { '0' } else { char::from(c as u8 + 1) }).collect()
}

#[tokio::test]
async fn the_seed_s_delivery_is_delivered_only_with_the_customer_s_code() {
    let app = spawn_app().await;
    let Scene { admin, agent, mobile, delivery, .. } = scene(&app, |_| {}).await;

    let asked = mark_delivered(&app, &delivery, &agent).await;
    assert_eq!(asked.status, StatusCode::PRECONDITION_REQUIRED, "{:?}", asked.body);
    let challenge = asked.body.clone();
    assert_eq!(challenge["code"], "otp_required");
    assert_eq!(
        (challenge["channel"].as_str(), challenge["send_mode"].as_str()),
        (Some("sms"), Some("automatic"))
    );
    assert_eq!(challenge["resends_left"], 3);
    assert_eq!(challenge["attempts_left"], 5);
    let hint = challenge["recipient_hint"].as_str().expect("hint");
    assert!(
        hint.starts_with("+49") && hint.ends_with(&mobile[mobile.len() - 2..]) && hint.contains('•'),
        "{hint}"
    );
    assert!(!challenge.to_string().contains(&mobile[5..]), "the number is not shown");
    let codes = codes_sent_to(&app, &mobile, 5).await;
    assert_eq!(codes.len(), 1, "one SMS with a 5-digit code");
    let code = codes[0].clone();
    assert!(!challenge.to_string().contains(&code), "the code is never answered");
    assert_eq!(
        app.get(&delivery, Some(&agent)).await.body["fields"]["status"],
        "Out for delivery",
        "not applied"
    );

    // The same change asked again: the same challenge, no new SMS; no new code within 30 s.
    let again = mark_delivered(&app, &delivery, &agent).await;
    assert_eq!(again.body["challenge_id"], challenge["challenge_id"]);
    assert_eq!(codes_sent_to(&app, &mobile, 5).await.len(), 1);
    let soon = app.post(&challenge_path(&challenge, "resend"), json!({}), Some(&agent)).await;
    assert_eq!(soon.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", soon.body);

    let verify = challenge_path(&challenge, "verify");
    let wrong_try = app.post(&verify, json!({"code": wrong(&code)}), Some(&agent)).await;
    assert_eq!(
        (wrong_try.status, wrong_try.body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("otp_invalid"))
    );
    assert_eq!(wrong_try.body["attempts_left"], 4);

    let verified = app.post(&verify, json!({"code": code}), Some(&agent)).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    let record = &verified.body["record"];
    assert_eq!(record["fields"]["status"], "Delivered");
    assert_eq!(record["origin"], format!("otp:{}", challenge["challenge_id"].as_str().expect("id")));
    assert_eq!(verified.body["challenge"]["status"], "verified");
    let read = app.get(&delivery, Some(&admin)).await.body;
    assert_eq!((read["fields"]["status"].as_str(), read["version"].as_u64()), (Some("Delivered"), Some(2)));

    // The evidence stays; the code is spent.
    let status = app.get(&challenge_path(&challenge, ""), Some(&agent)).await;
    assert_eq!(status.body["status"], "verified");
    assert_eq!(status.body["last_send"]["delivered"], true);
    let replay = app.post(&verify, json!({"code": code}), Some(&agent)).await;
    assert_eq!((replay.status, replay.body["code"].as_str()), (StatusCode::CONFLICT, Some("otp_used")));
}

#[tokio::test]
async fn a_delivery_born_delivered_is_refused_and_other_changes_pass() {
    let app = spawn_app().await;
    let Scene { admin, agent, delivery, .. } = scene(&app, |_| {}).await;
    let born = app
        .post(
            "/records/deliveries",
            json!({"fields": {"reference": "D-2", "status": "Delivered"}}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (born.status, born.body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("otp_guarded_value"))
    );
    // A change the rule does not guard goes through at once.
    let moved = patch_current(&app, &delivery, &agent, json!({"address": "Nádražní 2"})).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    // An inactive rule guards nothing.
    let rules = app.get("/admin/otp-rules", Some(&admin)).await.body;
    let mut inactive = rule(|rule| rule["active"] = json!(false));
    inactive["version"] = json!(1);
    let path = format!("/admin/otp-rules/{}", rules[0]["id"].as_str().expect("id"));
    assert_eq!(app.request(Method::PUT, &path, Some(inactive), Some(&admin)).await.status, StatusCode::OK);
    assert_eq!(mark_delivered(&app, &delivery, &agent).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_manual_rule_sends_on_request_by_mail_and_limits_new_codes() {
    let app = spawn_app().await;
    let Scene { agent, email, delivery, .. } = scene(&app, |rule| {
        rule["send_mode"] = json!("manual");
        rule["channels"] = json!(["email", "sms"]);
        rule["recipients"] = json!({"email": "contact.email", "sms": "contact.mobile"});
        rule["otp"] = json!({"type": "numeric", "length": 6, "max_resends": 1});
        rule["locale"] = json!("de");
    })
    .await;
    let asked = mark_delivered(&app, &delivery, &agent).await;
    assert_eq!(asked.status, StatusCode::PRECONDITION_REQUIRED);
    let challenge = asked.body;
    assert_eq!(
        (challenge["send_mode"].as_str(), challenge["channel"].as_str()),
        (Some("manual"), Some("email"))
    );
    assert_eq!(challenge["channels"], json!(["email", "sms"]));
    assert!(app.outbox.messages_to(&email).await.expect("outbox").is_empty(), "nothing sent yet");

    let early =
        app.post(&challenge_path(&challenge, "verify"), json!({"code": "123456"}), Some(&agent)).await;
    assert_eq!((early.status, early.body["code"].as_str()), (StatusCode::CONFLICT, Some("otp_not_sent")));
    let resend_first = app.post(&challenge_path(&challenge, "resend"), json!({}), Some(&agent)).await;
    assert_eq!(resend_first.body["code"], "otp_not_sent");

    let sent = app.post(&challenge_path(&challenge, "send"), json!({}), Some(&agent)).await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(
        (sent.body["last_send"]["channel"].as_str(), sent.body["resends_left"].as_u64()),
        (Some("email"), Some(1))
    );
    let mails = app.outbox.messages_to(&email).await.expect("outbox");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject.as_deref(), Some("Ihr Bestätigungscode"), "the rule's locale");
    let twice = app.post(&challenge_path(&challenge, "send"), json!({}), Some(&agent)).await;
    assert_eq!((twice.status, twice.body["code"].as_str()), (StatusCode::CONFLICT, Some("otp_already_sent")));

    // A new code at once: 30 s between codes of a challenge.
    let soon = app.post(&challenge_path(&challenge, "resend"), json!({"channel": "sms"}), Some(&agent)).await;
    assert_eq!(
        (soon.status, soon.body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert!(soon.headers.get("retry-after").is_some());
    let unknown =
        app.post(&challenge_path(&challenge, "resend"), json!({"channel": "pigeon"}), Some(&agent)).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn resends_run_out_and_the_old_code_dies() {
    let app = spawn_app().await;
    let Scene { agent, mobile, delivery, .. } =
        scene(&app, |rule| rule["otp"] = json!({"type": "numeric", "length": 6, "max_resends": 0})).await;
    let challenge = mark_delivered(&app, &delivery, &agent).await.body;
    assert_eq!(challenge["resends_left"], 0);
    let resend = app.post(&challenge_path(&challenge, "resend"), json!({}), Some(&agent)).await;
    assert_eq!(
        (resend.status, resend.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("otp_resends_exhausted"))
    );

    // A different change of the same agent opens a new challenge; the first one's code dies.
    let first_code = codes_sent_to(&app, &mobile, 6).await[0].clone();
    let other =
        patch_current(&app, &delivery, &agent, json!({"status": "Delivered", "address": "Hof 3"})).await;
    assert_eq!(other.status, StatusCode::PRECONDITION_REQUIRED);
    assert_ne!(other.body["challenge_id"], challenge["challenge_id"]);
    let dead =
        app.post(&challenge_path(&challenge, "verify"), json!({"code": first_code}), Some(&agent)).await;
    assert_eq!(dead.status, StatusCode::NOT_FOUND, "{:?}", dead.body);
    let new_code = codes_sent_to(&app, &mobile, 6).await[1].clone();
    let done =
        app.post(&challenge_path(&other.body, "verify"), json!({"code": new_code}), Some(&agent)).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["record"]["fields"]["address"], "Hof 3", "the whole pending change");
}

#[tokio::test]
async fn a_code_unlocks_only_its_change_for_its_agent() {
    let app = spawn_app().await;
    let Scene { admin, agent, mobile, delivery, .. } = scene(&app, |_| {}).await;
    let challenge = mark_delivered(&app, &delivery, &agent).await.body;
    let code = codes_sent_to(&app, &mobile, 5).await[0].clone();

    // Another agent: the challenge does not exist for them.
    let (other_agent, _) = app.staff_member(BuiltinRole::FieldAgent).await;
    for (method, action, body) in [
        (Method::GET, "", None),
        (Method::POST, "verify", Some(json!({"code": code}))),
        (Method::POST, "resend", Some(json!({}))),
    ] {
        let answer =
            app.request(method.clone(), &challenge_path(&challenge, action), body, Some(&other_agent)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {action}");
    }
    // Even an administrator can't answer the agent's challenge.
    let by_admin = app.post(&challenge_path(&challenge, "verify"), json!({"code": code}), Some(&admin)).await;
    assert_eq!(by_admin.status, StatusCode::NOT_FOUND);

    // The code of one record's challenge does not answer another's.
    let agent_id =
        app.get(&delivery, Some(&admin)).await.body["owner_id"].as_str().expect("owner").to_owned();
    let contact = app.get(&delivery, Some(&admin)).await.body["fields"]["contact_id"]
        .as_str()
        .expect("contact")
        .to_owned();
    let second = delivery_for(&app, &admin, &agent_id, &contact).await;
    let second_challenge = mark_delivered(&app, &second, &agent).await.body;
    let crossed =
        app.post(&challenge_path(&second_challenge, "verify"), json!({"code": code}), Some(&agent)).await;
    let second_code = codes_sent_to(&app, &mobile, 5).await[1].clone();
    if second_code != code {
        assert_eq!(crossed.body["code"], "otp_invalid", "{:?}", crossed.body);
    }
    assert_eq!(app.get(&second, Some(&admin)).await.body["fields"]["status"], "Out for delivery");
    // The rightful answer still works (nothing of the above counted against it).
    let verified = app.post(&challenge_path(&challenge, "verify"), json!({"code": code}), Some(&agent)).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(verified.body["challenge"]["attempts_left"], 4);
}

async fn delivery_for(app: &TestApp, admin: &str, owner: &str, contact: &str) -> String {
    delivery(app, admin, owner, contact).await
}

#[tokio::test]
async fn a_record_changed_after_the_challenge_is_not_overwritten() {
    let app = spawn_app().await;
    let Scene { admin, agent, mobile, delivery, .. } = scene(&app, |_| {}).await;
    let challenge = mark_delivered(&app, &delivery, &agent).await.body;
    let code = codes_sent_to(&app, &mobile, 5).await[0].clone();
    let edited = app
        .request(
            Method::PATCH,
            &delivery,
            Some(json!({"version": 1, "fields": {"address": "Elsewhere 9"}})),
            Some(&admin),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    let late = app.post(&challenge_path(&challenge, "verify"), json!({"code": code}), Some(&agent)).await;
    assert_eq!(
        (late.status, late.body["code"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("version_mismatch"))
    );
    let read = app.get(&delivery, Some(&admin)).await.body;
    assert_eq!(
        (read["fields"]["status"].as_str(), read["fields"]["address"].as_str()),
        (Some("Out for delivery"), Some("Elsewhere 9"))
    );
}

#[tokio::test]
async fn fifty_concurrent_right_codes_apply_the_change_once() {
    let app = spawn_app().await;
    let Scene { admin, agent, mobile, delivery, .. } =
        scene(&app, |rule| rule["otp"] = json!({"type": "numeric", "length": 6, "max_attempts": 10})).await;
    let challenge = mark_delivered(&app, &delivery, &agent).await.body;
    let code = codes_sent_to(&app, &mobile, 6).await[0].clone();
    let verify = challenge_path(&challenge, "verify");
    let answers = join_all((0..50).map(|_| app.post(&verify, json!({"code": code}), Some(&agent)))).await;
    let applied = answers.iter().filter(|answer| answer.status == StatusCode::OK).count();
    assert_eq!(
        applied,
        1,
        "{:?}",
        answers.iter().map(|a| (a.status, a.body["code"].clone())).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|a| a.status == StatusCode::OK
        || matches!(
            a.body["code"].as_str(),
            Some("otp_used" | "otp_locked" | "version_mismatch" | "conflict")
        )));
    assert_eq!(app.get(&delivery, Some(&admin)).await.body["version"], 2, "one change");
}

#[tokio::test]
async fn parallel_guesses_never_check_more_codes_than_the_limit() {
    let app = spawn_app().await;
    let Scene { agent, mobile, delivery, .. } = scene(&app, |_| {}).await;
    let challenge = mark_delivered(&app, &delivery, &agent).await.body;
    let code = codes_sent_to(&app, &mobile, 5).await[0].clone();
    let verify = challenge_path(&challenge, "verify");
    let guesses: Vec<String> =
        (0..30).map(|i| format!("{:05}", i * 7919 % 100_000)).filter(|g| *g != code).collect();
    let answers =
        join_all(guesses.iter().map(|guess| app.post(&verify, json!({"code": guess}), Some(&agent)))).await;
    let checked = answers.iter().filter(|a| a.body["code"] == "otp_invalid").count();
    let locked = answers.iter().filter(|a| a.status == StatusCode::LOCKED).count();
    assert_eq!((checked, locked), (5, guesses.len() - 5));
    // Locked: even the right code is refused now.
    let right = app.post(&verify, json!({"code": code}), Some(&agent)).await;
    assert_eq!((right.status, right.body["code"].as_str()), (StatusCode::LOCKED, Some("otp_locked")));
    assert_eq!(app.get(&challenge_path(&challenge, ""), Some(&agent)).await.body["status"], "locked");
}

#[tokio::test]
async fn bad_verify_input_is_refused_without_counting() {
    let app = spawn_app().await;
    let Scene { agent, delivery, .. } = scene(&app, |_| {}).await;
    let challenge = mark_delivered(&app, &delivery, &agent).await.body;
    let verify = challenge_path(&challenge, "verify");
    for body in [
        json!({}),
        json!({"code": 12345}),
        json!({"code": "12"}),
        json!({"code": "12 345"}),
        json!({"code": "1", "x": 1}),
    ] {
        assert_eq!(
            app.post(&verify, body.clone(), Some(&agent)).await.status,
            StatusCode::BAD_REQUEST,
            "{body}"
        );
    }
    assert_eq!(app.get(&challenge_path(&challenge, ""), Some(&agent)).await.body["attempts_left"], 5);
    assert_eq!(
        app.post("/otp/challenges/nope/verify", json!({"code": "12345"}), Some(&agent)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.post(&verify, json!({"code": "12345"}), None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_import_row_that_trips_a_rule_fails_alone() {
    let app = spawn_app().await;
    let Setup { admin, project, .. } = setup(&app).await;
    let contact_rule = json!({
        "name": "Customer status needs the customer",
        "module": "contacts",
        "trigger": {"field": "lifecycle", "changed_to": "Customer"},
        "otp": {"type": "numeric", "length": 6},
        "channels": ["email"],
        "recipients": {"email": "email"}
    });
    assert_eq!(app.post("/admin/otp-rules", contact_rule, Some(&admin)).await.status, StatusCode::CREATED);
    let mapping = json!({"first_name": "{{First}}", "last_name": "Roe", "Loyalty ID": "{{Card}}", "lifecycle": "{{Stage}}"});
    let import = |rows: Value| {
        let body = json!({"project_id": project, "mapping": mapping, "rows": rows, "match_on": "Loyalty ID"});
        let admin = admin.clone();
        let app = &app;
        async move { app.post("/imports/contacts", body, Some(&admin)).await }
    };
    let first = import(json!([{"First": "Ann", "Card": "OTP-1", "Stage": "Lead"}])).await;
    assert_eq!(first.body["created"], 1, "{:?}", first.body);
    let second = import(json!([
        {"First": "Ann", "Card": "OTP-1", "Stage": "Customer"},
        {"First": "Bea", "Card": "OTP-2", "Stage": "Customer"},
        {"First": "Cid", "Card": "OTP-3", "Stage": "Prospect"}
    ]))
    .await;
    assert_eq!(
        (second.body["created"].as_u64(), second.body["updated"].as_u64()),
        (Some(1), Some(0)),
        "{:?}",
        second.body
    );
    let failed = second.body["failed"].as_array().expect("failed");
    let codes: Vec<(u64, &str)> =
        failed.iter().map(|f| (f["row"].as_u64().unwrap_or(0), f["code"].as_str().unwrap_or(""))).collect();
    assert_eq!(codes, vec![(1, "otp_required"), (2, "otp_guarded_value")]);
    assert!(!failed.iter().any(|f| f["retryable"] == true));
}

#[tokio::test]
async fn moving_the_code_s_recipient_is_guarded_too() {
    let app = spawn_app().await;
    let Scene { admin, agent, mobile, delivery, .. } = scene(&app, |_| {}).await;
    // The agent's own contact: pointing the delivery at it would send the code to the agent.
    let own_mobile = unique_mobile();
    let accomplice = app
        .post(
            "/records/contacts",
            json!({"fields": {"last_name": "Mine", "mobile": own_mobile}}),
            Some(&admin),
        )
        .await;
    let moved = patch_current(&app, &delivery, &agent, json!({"contact_id": accomplice.body["id"]})).await;
    assert_eq!(
        (moved.status, moved.body["code"].as_str()),
        (StatusCode::PRECONDITION_REQUIRED, Some("otp_required"))
    );
    assert_eq!(codes_sent_to(&app, &own_mobile, 5).await.len(), 0, "not to the new contact");
    assert_eq!(codes_sent_to(&app, &mobile, 5).await.len(), 1, "to the customer on the record");
    let read = app.get(&delivery, Some(&admin)).await.body;
    assert_ne!(read["fields"]["contact_id"], accomplice.body["id"], "not moved");

    // A delivery without a contact gets its first one freely.
    let agent_id = read["owner_id"].as_str().expect("owner").to_owned();
    let bare = app
        .post(
            "/records/deliveries",
            json!({"owner_id": agent_id, "fields": {"reference": "D-9", "status": "Scheduled"}}),
            Some(&admin),
        )
        .await;
    let path = format!("/records/deliveries/{}", bare.body["id"].as_str().expect("id"));
    let first = app
        .request(
            Method::PATCH,
            &path,
            Some(json!({"version": 1, "fields": {"contact_id": accomplice.body["id"]}})),
            Some(&agent),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);

    // The contact's own number is where the delivery's codes go: a sales manager (contacts
    // write, no settings.manage) can't move it without the customer's code, sent to the old one.
    let manager = app.staff_token(BuiltinRole::SalesManager).await;
    let contact = format!("/records/contacts/{}", read["fields"]["contact_id"].as_str().expect("contact"));
    let version = app.get(&contact, Some(&admin)).await.body["version"].as_u64().expect("version");
    let rewired = app
        .request(
            Method::PATCH,
            &contact,
            Some(json!({"version": version, "fields": {"mobile": own_mobile}})),
            Some(&manager),
        )
        .await;
    assert_eq!(
        (rewired.status, rewired.body["code"].as_str()),
        (StatusCode::PRECONDITION_REQUIRED, Some("otp_required"))
    );
    assert_eq!(codes_sent_to(&app, &mobile, 5).await.len(), 2, "the code went to the customer's number");
    assert_eq!(app.get(&contact, Some(&admin)).await.body["fields"]["mobile"], mobile.as_str());
    // Someone must be able to fix a number: those who manage settings may.
    let fixed = app
        .request(
            Method::PATCH,
            &contact,
            Some(json!({"version": version, "fields": {"mobile": own_mobile}})),
            Some(&admin),
        )
        .await;
    assert_eq!(fixed.status, StatusCode::OK, "{:?}", fixed.body);
}

#[tokio::test]
async fn new_challenges_bring_new_codes_but_no_new_guesses() {
    let app = spawn_app().await;
    let Scene { agent, delivery, .. } =
        scene(&app, |rule| rule["otp"] = json!({"type": "numeric", "length": 6, "max_attempts": 10})).await;
    let mut tried = 0;
    for address in ["Hof 1", "Hof 2"] {
        let asked =
            patch_current(&app, &delivery, &agent, json!({"status": "Delivered", "address": address})).await;
        assert_eq!(asked.status, StatusCode::PRECONDITION_REQUIRED);
        for guess in 0..10 {
            let answer = app
                .post(
                    &challenge_path(&asked.body, "verify"),
                    json!({"code": format!("{guess:06}")}),
                    Some(&agent),
                )
                .await;
            if answer.body["code"] == "otp_invalid" {
                tried += 1;
            }
        }
    }
    assert!(tried >= 19, "{tried}");
    let third =
        patch_current(&app, &delivery, &agent, json!({"status": "Delivered", "address": "Hof 3"})).await;
    let refused =
        app.post(&challenge_path(&third.body, "verify"), json!({"code": "123456"}), Some(&agent)).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
}

#[tokio::test]
async fn whatsapp_codes_go_out_with_the_authentication_template() {
    let app = spawn_app().await;
    let Scene { agent, mobile, delivery, .. } = scene(&app, |rule| {
        rule["channels"] = json!(["whatsapp", "sms"]);
        rule["recipients"] = json!({"whatsapp": "contact.mobile", "sms": "contact.mobile"});
        rule["locale"] = json!("cs");
    })
    .await;
    let asked = mark_delivered(&app, &delivery, &agent).await;
    assert_eq!(asked.body["channel"], "whatsapp", "{:?}", asked.body);
    let sent: Vec<_> = app
        .outbox
        .messages_to(&mobile)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|message| message.channel == "whatsapp")
        .collect();
    assert_eq!(sent.len(), 1, "one WhatsApp message, no SMS: {sent:?}");
    // The request exactly as the SDK sent it to End User Messaging Social.
    let request = sent[0].request.as_ref().expect("request");
    assert_eq!(request["originationPhoneNumberId"], crate::support::WHATSAPP_NUMBER_ID);
    assert_eq!(request["metaApiVersion"], "v20.0");
    let message = sent[0].message_json.as_ref().expect("message");
    assert_eq!(
        (message["messaging_product"].as_str(), message["to"].as_str()),
        (Some("whatsapp"), Some(mobile.as_str()))
    );
    assert_eq!(message["type"], "template");
    assert_eq!(message["template"]["name"], "portico_otp");
    assert_eq!(message["template"]["language"]["code"], "cs");
    let code =
        message["template"]["components"][0]["parameters"][0]["text"].as_str().expect("code").to_owned();
    assert_eq!(
        message["template"]["components"][1]["parameters"][0]["text"],
        code.as_str(),
        "the copy-code button"
    );
    assert_eq!(code.len(), 5);
    let verified =
        app.post(&challenge_path(&asked.body, "verify"), json!({"code": code}), Some(&agent)).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
}

#[tokio::test]
async fn a_refused_send_answers_502_and_the_challenge_stays_resendable() {
    let app = spawn_app().await;
    let Scene { admin, agent, .. } = scene(&app, |rule| {
        rule["channels"] = json!(["whatsapp"]);
        rule["recipients"] = json!({"whatsapp": "contact.mobile"});
    })
    .await;
    // moto_server.py's recorder refuses numbers starting +9990.
    let unreachable = format!("+9990{}", &unique_mobile()[6..]);
    let contact = app
        .post(
            "/records/contacts",
            json!({"fields": {"last_name": "Far", "mobile": unreachable}}),
            Some(&admin),
        )
        .await;
    let agent_id = app.state.keys.jwt.verify_access(&agent).expect("claims").sub.to_string();
    let path = delivery(&app, &admin, &agent_id, contact.body["id"].as_str().expect("id")).await;
    let failed = mark_delivered(&app, &path, &agent).await;
    assert_eq!(
        (failed.status, failed.body["code"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("otp_delivery_failed"))
    );
    let id = failed.body["challenge_id"].as_str().expect("challenge_id");
    let status = app.get(&format!("/otp/challenges/{id}"), Some(&agent)).await.body;
    assert_eq!(
        (status["status"].as_str(), status["last_send"]["delivered"].as_bool()),
        (Some("pending"), Some(false))
    );
    assert_eq!(status["resends_left"], 3);
    assert_eq!(app.get(&path, Some(&admin)).await.body["fields"]["status"], "Out for delivery");
}
