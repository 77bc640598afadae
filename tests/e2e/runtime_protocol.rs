//! Each function binary, built as Lambda runs it, answers the `events/` fixtures through the
//! Lambda runtime API (a small local implementation of its four endpoints).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::support::{REGION, SENDER, TEST_MASTER_SECRET, moto_endpoint, spawn_app};

/// (function, fixture, expected status, expected problem code)
const CASES: [(&str, &str, u16, Option<&str>); 15] = [
    ("registration", "get-policy.json", 200, None),
    ("registration", "register-invalid.json", 400, Some("validation_failed")),
    ("sessions", "sign-in-unknown.json", 401, Some("invalid_credentials")),
    ("sessions", "refresh-invalid.json", 401, Some("invalid_refresh_token")),
    ("sessions", "confirm-device-unknown.json", 404, Some("not_found")),
    ("sessions", "refresh-unknown.json", 401, Some("invalid_refresh_token")),
    // The cold-start bench puts a signed token in place of the placeholder these carry.
    ("admin", "get-registration-settings.json", 401, Some("invalid_token")),
    ("records", "get-task-unknown.json", 401, Some("invalid_token")),
    ("admin", "list-registrations-unauthenticated.json", 401, Some("missing_token")),
    ("openapi", "get-openapi.json", 200, None),
    ("records", "list-unauthenticated.json", 401, Some("missing_token")),
    ("otp", "list-rules-unauthenticated.json", 401, Some("missing_token")),
    ("otp", "list-rules.json", 401, Some("invalid_token")),
    ("portal", "list-modules-unauthenticated.json", 401, Some("missing_token")),
    ("portal", "list-config.json", 401, Some("invalid_token")),
];

/// (stream function, fixture, the sequence numbers it must report failed)
const STREAM_CASES: [(&str, &str, &[&str]); 4] = [
    ("workflows", "insert-deal.json", &[]),
    ("workflows", "modify-deal.json", &[]),
    ("workflows", "remove-deal.json", &[]),
    // A record of no module fails; the one before it is done, so it is the checkpoint.
    ("workflows", "poison-record.json", &["111100000000000000005"]),
];

/// (scheduled function, fixture): answers what its run did.
const SCHEDULED_CASES: [(&str, &str); 1] = [("housekeeping", "scheduled.json")];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `target/debug/<name>`, next to this test binary's `deps/` folder.
fn binary(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("test binary path");
    test_binary.parent().and_then(Path::parent).expect("target dir").join(name)
}

#[derive(Clone)]
struct RuntimeApi {
    pending_event: Arc<Mutex<Option<String>>>,
    outcomes: mpsc::UnboundedSender<(&'static str, String)>,
}

async fn next_invocation(State(api): State<RuntimeApi>) -> (HeaderMap, String) {
    let event = api.pending_event.lock().ok().and_then(|mut slot| slot.take());
    let Some(event) = event else {
        // One invocation per test: later polls wait until the process is killed.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_static("8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
    );
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from(deadline));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:portico-test"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static(
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        ),
    );
    (headers, event)
}

fn outcome(kind: &'static str) -> impl Fn(State<RuntimeApi>, String) -> std::future::Ready<()> + Clone {
    move |State(api): State<RuntimeApi>, body: String| {
        let _ = api.outcomes.send((kind, body));
        std::future::ready(())
    }
}

/// Serves the runtime API on a random port with `event` as the one invocation; returns its
/// address and the channel of the calls that end an invocation.
async fn start_runtime_api(
    event: Option<String>,
) -> (String, mpsc::UnboundedReceiver<(&'static str, String)>) {
    let (outcomes, received) = mpsc::unbounded_channel();
    let api = RuntimeApi { pending_event: Arc::new(Mutex::new(event)), outcomes };
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(outcome("response")))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(outcome("error")))
        .route("/2018-06-01/runtime/init/error", post(outcome("init_error")))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, received)
}

/// The function binary with the environment Lambda gives every function, and nothing else.
fn lambda_process(function: &str, runtime_api: &str) -> tokio::process::Command {
    let path = binary(function);
    assert!(path.exists(), "{} is not built: `make test` builds every binary first", path.display());
    let mut command = tokio::process::Command::new(path);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("portico-{function}"))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/portico-{function}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]test")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", REGION)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// How one invocation ended.
#[derive(Debug)]
enum Outcome {
    /// The runtime API call that ended it (`response`, `error` or `init_error`) and its body.
    Called(&'static str, String),
    /// The process exited (a crash, a panic outside the handler, a kill) before any such call;
    /// with what it wrote to stderr.
    Exited(std::process::ExitStatus, String),
}

/// Waits for `process` to end its invocation through the runtime API, or to exit first.
async fn ended_with(
    mut process: tokio::process::Child,
    received: &mut mpsc::UnboundedReceiver<(&'static str, String)>,
    what: &str,
) -> Outcome {
    let mut stderr = process.stderr.take().expect("stderr is piped");
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::select! {
            Some((kind, body)) = received.recv() => Outcome::Called(kind, body),
            status = process.wait() => match received.try_recv() {
                // It answered, then exited before this select saw the answer.
                Ok((kind, body)) => Outcome::Called(kind, body),
                Err(_) => Outcome::Exited(status.expect("exit status"), stderr.await.unwrap_or_default()),
            },
        }
    })
    .await;
    ended.unwrap_or_else(|_| panic!("{what} neither answered nor exited within 30 s"))
}

/// Runs `function` once on `event`: the runtime API call it ended with, or its early exit.
async fn invoke(function: &str, event: String, table: &str) -> Outcome {
    invoke_with_secret(function, event, table, TEST_MASTER_SECRET).await
}

/// `invoke` with the master secret read from the secret `secret_id` (moto's Secrets Manager).
async fn invoke_with_secret(function: &str, event: String, table: &str, secret_id: &str) -> Outcome {
    let (runtime_api, mut received) = start_runtime_api(Some(event)).await;
    let process = function_process(function, &runtime_api, table, secret_id)
        .spawn()
        .expect("start the function binary");
    ended_with(process, &mut received, function).await
}

/// The function binary with Lambda's environment and Portico's settings (moto as AWS).
fn function_process(
    function: &str,
    runtime_api: &str,
    table: &str,
    secret_id: &str,
) -> tokio::process::Command {
    let mut command = lambda_process(function, runtime_api);
    command
        .env("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("TABLE_NAME", table)
        .env("MAIL_SENDER", SENDER)
        .env("PUBLIC_BASE_URL", "https://api.example.com")
        .env("PORTICO_SECRET_ID", secret_id);
    command
}

/// Runs `function` once on its fixture `fixture`: the runtime API call that ended it.
async fn invoke_fixture(function: &str, fixture: &str, table: &str) -> (&'static str, String) {
    let event =
        std::fs::read_to_string(workspace().join("events").join(function).join(fixture)).expect("fixture");
    match invoke(function, event, table).await {
        Outcome::Called(kind, body) => (kind, body),
        Outcome::Exited(status, stderr) => {
            panic!("{function}/{fixture}: the binary exited ({status}) before answering:\n{stderr}")
        }
    }
}

#[tokio::test]
async fn every_function_binary_answers_its_fixtures_through_the_runtime_api() {
    let app = spawn_app().await;
    for (function, fixture, status, code) in CASES {
        let (kind, body) = invoke_fixture(function, fixture, app.state.store.table()).await;
        // A panicking handler is reported through `/error`: that fails here too.
        assert_eq!(kind, "response", "{function}/{fixture}: {body}");
        let response: Value = serde_json::from_str(&body).expect("an API Gateway response");
        assert_eq!(response["statusCode"], status, "{function}/{fixture}: {response}");
        let payload: Value =
            serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        if let Some(code) = code {
            assert_eq!(payload["code"], code, "{function}/{fixture}");
        }
    }
}

#[tokio::test]
async fn the_stream_consumer_answers_its_fixtures_with_batch_item_failures() {
    let app = spawn_app().await;
    for (function, fixture, failed) in STREAM_CASES {
        let (kind, body) = invoke_fixture(function, fixture, app.state.store.table()).await;
        assert_eq!(kind, "response", "{function}/{fixture}: {body}");
        let response: Value = serde_json::from_str(&body).expect("a DynamoDB event response");
        let reported: Vec<&str> = response["batchItemFailures"]
            .as_array()
            .expect("batchItemFailures")
            .iter()
            .filter_map(|failure| failure["itemIdentifier"].as_str())
            .collect();
        assert_eq!(reported, failed, "{function}/{fixture}: {response}");
    }
}

#[tokio::test]
async fn the_scheduled_function_runs_the_time_rules_on_its_tick() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let rule = json!({
        "name": "Quiet prospects become leads", "module": "contacts",
        "trigger": {"event": "inactive", "days": 90, "stages": ["Prospect"]},
        "actions": [{"type": "lifecycle", "stage": "Lead"}]
    });
    let created = app.post("/admin/workflow-rules", rule, Some(&admin)).await;
    assert_eq!(created.status, reqwest::StatusCode::CREATED, "{:?}", created.body);
    for (function, fixture) in SCHEDULED_CASES {
        let (kind, body) = invoke_fixture(function, fixture, app.state.store.table()).await;
        assert_eq!(kind, "response", "{function}/{fixture}: {body}");
        let summary: Value = serde_json::from_str(&body).expect("a run summary");
        assert_eq!(summary, json!({"rules": 1, "customers": 0, "fired": 0, "stopped_early": false}));
    }
}

#[tokio::test]
async fn every_function_has_fixtures() {
    for entry in std::fs::read_dir(workspace().join("functions")).expect("functions/") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(
            CASES.iter().any(|(function, ..)| *function == name)
                || STREAM_CASES.iter().any(|(function, ..)| *function == name)
                || SCHEDULED_CASES.iter().any(|(function, _)| *function == name),
            "no runtime fixture runs for functions/{name}"
        );
    }
}

#[tokio::test]
async fn a_function_without_configuration_fails_its_cold_start() {
    let (runtime_api, _received) = start_runtime_api(None).await;
    let mut process = lambda_process("sessions", &runtime_api).spawn().expect("start");
    let status =
        tokio::time::timeout(Duration::from_secs(30), process.wait()).await.expect("exits").expect("status");
    assert!(!status.success(), "a missing TABLE_NAME must fail the cold start");
}

/// The master secret comes from Secrets Manager (moto here) at the cold start: a staff token the
/// in-process app signed with keys derived from the test secret opens a route of the built
/// `admin` binary, which read the same secret by `PORTICO_SECRET_ID` (a binary with any other
/// secret answers 401 `invalid_token`).
#[tokio::test]
async fn the_master_secret_is_read_from_secrets_manager_at_the_cold_start() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let event = std::fs::read_to_string(workspace().join("events/admin/get-registration-settings.json"))
        .expect("fixture")
        .replace("{{STAFF_ACCESS_TOKEN}}", &admin);
    match invoke("admin", event, app.state.store.table()).await {
        Outcome::Called(kind, body) => {
            let response: Value = serde_json::from_str(&body).expect("an API Gateway response");
            assert_eq!((kind, response["statusCode"].as_u64()), ("response", Some(200)), "{body}");
        }
        exited @ Outcome::Exited(..) => panic!("admin did not start: {exited:?}"),
    }
}

/// A master secret that can't be read, or can't be used, fails the cold start before the first
/// `/next`, with a log line that names the secret and the cause, and never shows the value.
#[tokio::test]
async fn an_unreadable_or_unusable_master_secret_fails_the_cold_start_clearly() {
    let app = spawn_app().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&app.state.sdk);
    // 20 characters: unique, and too short for a master secret.
    let short = format!("too-short-{}", &ulid::Ulid::generate().to_string()[16..]);
    let short_name = format!("portico/short-{}", ulid::Ulid::generate());
    secrets.create_secret().name(&short_name).secret_string(&short).send().await.expect("create secret");
    let missing = format!("portico/missing-{}", ulid::Ulid::generate());
    for (secret_id, cause) in
        [(missing.as_str(), "ResourceNotFoundException"), (short_name.as_str(), "shorter than 32 bytes")]
    {
        // No invocation waits: a function that started would poll `/next` until the timeout.
        let (runtime_api, _received) = start_runtime_api(None).await;
        let process = function_process("registration", &runtime_api, app.state.store.table(), secret_id)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start");
        let output = tokio::time::timeout(Duration::from_secs(30), process.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{secret_id}: the cold start must fail, not wait for work"))
            .expect("output");
        assert!(!output.status.success());
        // The JSON log (stdout, as Lambda's CloudWatch gets it) and the exit's report (stderr).
        let (logs, stderr) =
            (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let logged = logs
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| line["fields"]["message"] == "cold start failed")
            .unwrap_or_else(|| panic!("no JSON log line for the failure:\n{logs}\n{stderr}"));
        assert_eq!(logged["level"], "ERROR", "{logged}");
        let error = logged["fields"]["error"].as_str().unwrap_or_default();
        assert!(error.contains(secret_id) && error.contains(cause), "{error}");
        assert!(stderr.contains(secret_id), "{stderr}");
        assert!(!logs.contains(&short) && !stderr.contains(&short), "the value must never be logged");
    }
}

/// The harness itself: a process that dies before answering (here a shell that exits as a
/// panicking Rust binary does) is reported at once with its status, not after the timeout.
#[tokio::test]
async fn a_binary_that_dies_before_answering_is_reported() {
    let (runtime_api, mut received) = start_runtime_api(Some("{}".to_owned())).await;
    let process = tokio::process::Command::new("/bin/sh")
        .args(["-c", "echo \"thread 'main' panicked\" >&2; exit 101"])
        .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start sh");
    match ended_with(process, &mut received, "sh").await {
        Outcome::Exited(status, stderr) => {
            assert_eq!(status.code(), Some(101));
            assert!(stderr.contains("panicked"), "{stderr}");
        }
        called @ Outcome::Called(..) => panic!("sh never calls the runtime API: {called:?}"),
    }
}
