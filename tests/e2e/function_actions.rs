//! Function actions of workflow rules (issue 17 item 1, SPEC §5): the event goes to a Lambda
//! function through the real `aws-sdk-lambda` client (to a loopback target speaking the Invoke
//! API, which records the exact request) or to an HTTPS endpoint, signed; an answer's update is
//! applied once, validated like any write; a slow or wrong function fails only its action.

use std::time::Duration;

use portico_local::lambda::{Answer, LambdaTarget};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, create_workflow_rule, error_fields, spawn_app_with};
use crate::workflows::{batch, stream_record};

const SCORER: &str = "arn:aws:lambda:eu-central-1:123456789012:function:scorer";
const SLOW: &str = "arn:aws:lambda:eu-central-1:123456789012:function:slow";
const CONFUSED: &str = "arn:aws:lambda:eu-central-1:123456789012:function:confused";

/// The app, with the three functions above allowed and served by `target`.
async fn app_with_functions() -> (TestApp, LambdaTarget, String) {
    let target = LambdaTarget::start(|function, event| match function {
        SCORER => Answer::json(json!({"update": {"probability": 77}, "echo": event["id"]})),
        SLOW => Answer { delay: Duration::from_millis(1_500), ..Answer::json(json!({})) },
        CONFUSED if event["module"] == "contacts" => Answer::json(json!({"update": {"Salary": 1}})),
        CONFUSED => Answer::json(json!({"update": {"probability": "high", "colour": "red"}})),
        _ => {
            Answer { function_error: Some("Unhandled".into()), ..Answer::json(json!({"errorMessage": "no"})) }
        }
    })
    .await
    .expect("the Lambda target");
    let endpoint = target.endpoint.clone();
    let app = spawn_app_with(move |config| {
        config.function_action_arns = vec![SCORER.into(), SLOW.into(), CONFUSED.into()];
        config.lambda_endpoint_url = Some(endpoint);
    })
    .await;
    let (admin, _) = app.admin_token().await;
    (app, target, admin)
}

fn function_rule(arn: &str, more: Vec<Value>) -> Value {
    let mut actions =
        vec![json!({"type": "function", "target": {"lambda_arn": arn}, "timeout_ms": 300, "update": true})];
    actions.extend(more);
    json!({"name": "Ask the scorer", "module": "deals", "trigger": {"event": "created"}, "actions": actions})
}

async fn deal(app: &TestApp, admin: &str) -> String {
    let created =
        app.post("/records/deals", json!({"fields": {"name": "Scored", "amount": 60000}}), Some(admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

async fn run_of(app: &TestApp, admin: &str, rule: &str) -> Value {
    let page = app.get(&format!("/admin/workflow-rules/{rule}/runs"), Some(admin)).await;
    page.body["items"][0].clone()
}

#[tokio::test]
async fn a_function_s_update_is_applied_once_under_a_replayed_batch() {
    let (app, target, admin) = app_with_functions().await;
    let rule = create_workflow_rule(&app, &admin, function_rule(SCORER, vec![])).await;
    let deal = deal(&app, &admin).await;
    let record = stream_record(&app, "deals", &deal, "event-7", "700").await;
    for _ in 0..2 {
        let response = portico_workflows::handle_batch(&app.state, batch(vec![record.clone()])).await;
        assert!(response.batch_item_failures.is_empty());
    }
    // The request as aws-sdk-lambda sent it: request/response, the event with its key.
    let invocations = target.invocations();
    assert_eq!(invocations.len(), 1, "the second delivery found the action done: no second call");
    let sent = &invocations[0];
    assert_eq!(sent.function, SCORER);
    let header = |name: &str| sent.headers.get(name).and_then(|value| value.to_str().ok());
    assert_eq!(header("x-amz-invocation-type"), Some("RequestResponse"));
    assert!(
        header("authorization").is_some_and(|auth| auth.starts_with("AWS4-HMAC-SHA256")),
        "signed by the SDK"
    );
    assert_eq!(sent.payload["id"], format!("event-7#{rule}#0"));
    assert_eq!(sent.payload["rule"]["id"], rule.as_str());
    assert_eq!(
        (sent.payload["module"].as_str(), sent.payload["record"]["fields"]["amount"].as_f64()),
        (Some("deals"), Some(60000.0))
    );

    let read = app.get(&format!("/records/deals/{deal}"), Some(&admin)).await;
    assert_eq!(
        (read.body["fields"]["probability"].as_f64(), read.body["version"].as_u64()),
        (Some(77.0), Some(2))
    );
    assert_eq!(read.body["origin"], format!("workflow:{rule}/1"), "{:?}", read.body);
    assert_eq!(run_of(&app, &admin, &rule).await["actions"][0]["status"], "done");
}

#[tokio::test]
async fn a_slow_function_fails_its_action_and_the_next_runs() {
    let (app, _target, admin) = app_with_functions().await;
    let task = json!({"type": "create_task", "assignee": "owner", "subject": "Follow up {{name}}"});
    let rule = create_workflow_rule(&app, &admin, function_rule(SLOW, vec![task])).await;
    let deal = deal(&app, &admin).await;
    let record = stream_record(&app, "deals", &deal, "event-8", "800").await;
    let response = portico_workflows::handle_batch(&app.state, batch(vec![record])).await;
    assert!(response.batch_item_failures.is_empty(), "a slow function does not hold the stream");
    let run = run_of(&app, &admin, &rule).await;
    assert_eq!(run["actions"][0]["status"], "failed", "{run}");
    assert_eq!(run["actions"][0]["detail"], "no answer within 300 ms");
    assert!(run["actions"][0]["duration_ms"].as_u64().is_some_and(|ms| ms < 1_500), "{run}");
    assert_eq!(run["actions"][1]["status"], "done");
    let tasks = app.get("/records/tasks", Some(&admin)).await;
    assert_eq!(tasks.body["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn an_invalid_or_masked_update_fails_and_changes_nothing() {
    let (app, target, admin) = app_with_functions().await;
    let rule = create_workflow_rule(&app, &admin, function_rule(CONFUSED, vec![])).await;
    let deal = deal(&app, &admin).await;
    let record = stream_record(&app, "deals", &deal, "event-9", "900").await;
    assert!(
        portico_workflows::handle_batch(&app.state, batch(vec![record])).await.batch_item_failures.is_empty()
    );
    let run = run_of(&app, &admin, &rule).await;
    assert_eq!(run["actions"][0]["status"], "failed", "{run}");
    let detail = run["actions"][0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("probability") && detail.contains("colour is not a field of deals"), "{detail}");
    let read = app.get(&format!("/records/deals/{deal}"), Some(&admin)).await;
    assert_eq!(read.body["version"], 1, "the record is unchanged");

    // On contacts: a masked field is never sent, and an answer may not set it.
    let field = json!({"name": "Salary", "field_type": {"type": "number"}, "projects": [], "masked": true});
    assert_eq!(app.post("/admin/contact-fields", field, Some(&admin)).await.status, StatusCode::CREATED);
    let contacts_rule = json!({"name": "Ask about contacts", "module": "contacts", "trigger": {"event": "created"},
        "actions": [{"type": "function", "target": {"lambda_arn": CONFUSED}, "update": true}]});
    let contacts_rule = create_workflow_rule(&app, &admin, contacts_rule).await;
    let contact = app
        .post("/records/contacts", json!({"fields": {"last_name": "Paid", "Salary": 91000}}), Some(&admin))
        .await;
    let contact = contact.body["id"].as_str().expect("id").to_owned();
    let record = stream_record(&app, "contacts", &contact, "event-10", "1000").await;
    assert!(
        portico_workflows::handle_batch(&app.state, batch(vec![record])).await.batch_item_failures.is_empty()
    );
    let sent = target.invocations().last().cloned().expect("invoked");
    assert_eq!(sent.payload["record"]["fields"]["last_name"], "Paid");
    assert!(
        !sent.payload.to_string().contains("91000")
            && sent.payload["record"]["fields"].get("Salary").is_none()
    );
    let run = run_of(&app, &admin, &contacts_rule).await;
    assert!(
        run["actions"][0]["detail"].as_str().is_some_and(|detail| detail.contains("Salary is masked")),
        "{run}"
    );
    let read = app.get(&format!("/records/contacts/{contact}"), Some(&admin)).await;
    assert_eq!(
        (read.body["fields"]["Salary"].as_f64(), read.body["version"].as_u64()),
        (Some(91000.0), Some(1))
    );
}

#[tokio::test]
async fn an_https_function_is_signed_and_its_answer_applied() {
    use axum::routing::post;
    let (app, _target, admin) = app_with_functions().await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let endpoint = axum::Router::new().route(
        "/score",
        post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let signature =
                headers.get("webhook-signature").and_then(|value| value.to_str().ok()).map(str::to_owned);
            recorded.lock().expect("lock").push((signature, body.to_vec()));
            async { axum::Json(json!({"update": {"probability": 12}})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/score", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, endpoint).await });
    let rule = json!({"name": "Score over HTTPS", "module": "deals", "trigger": {"event": "created"},
        "actions": [{"type": "function", "target": {"url": url}, "update": true}]});
    let created = app.post("/admin/workflow-rules", rule, Some(&admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert!(created.body["webhook_secret"].is_string(), "a signed target's secret, shown once");
    let deal = deal(&app, &admin).await;
    let record = stream_record(&app, "deals", &deal, "event-11", "1100").await;
    assert!(
        portico_workflows::handle_batch(&app.state, batch(vec![record])).await.batch_item_failures.is_empty()
    );
    let calls = seen.lock().expect("lock").clone();
    assert_eq!(calls.len(), 1);
    // Signed like a webhook: the endpoint checks the HMAC with the secret it was shown.
    use hmac::{Hmac, KeyInit, Mac};
    let secret = created.body["webhook_secret"].as_str().expect("secret");
    let signature = calls[0].0.as_deref().expect("signed");
    let (timestamp, tag) = signature.split_once(",v1=").expect("t=…,v1=…");
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{}.", timestamp.trim_start_matches("t=")).as_bytes());
    mac.update(&calls[0].1);
    let expected: String = mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(tag, expected);
    let read = app.get(&format!("/records/deals/{deal}"), Some(&admin)).await;
    assert_eq!(read.body["fields"]["probability"], 12);
}

#[tokio::test]
async fn only_allowed_functions_and_bounded_timeouts_are_saved() {
    let (app, _target, admin) = app_with_functions().await;
    let other = "arn:aws:lambda:eu-central-1:123456789012:function:not-granted";
    let mut rule = function_rule(other, vec![]);
    rule["actions"][0]["timeout_ms"] = json!(20_000);
    rule["actions"]
        .as_array_mut()
        .expect("actions")
        .push(json!({"type": "function", "target": {"lambda_arn": "scorer"}}));
    let refused = app.post("/admin/workflow-rules", rule, Some(&admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{:?}", refused.body);
    assert_eq!(
        error_fields(&refused.body),
        vec!["actions[0].timeout_ms", "actions[0].target.lambda_arn", "actions[1].target.lambda_arn"]
    );
    let both = json!({"name": "x", "module": "deals", "trigger": {"event": "created"},
        "actions": [{"type": "function", "target": {"lambda_arn": SCORER, "url": "https://example.com"}}]});
    let refused = app.request(Method::POST, "/admin/workflow-rules", Some(both), Some(&admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "one target: {:?}", refused.body);
}
