//! A loopback stand-in for AWS Lambda's `Invoke` API (moto runs no functions): workflow rules'
//! function actions call it through the real `aws-sdk-lambda` client, so the exact request the
//! SDK sends is what it records. Each function name answers through a handler; `make run` serves
//! a sample function, tests their own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What a function answers.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub payload: Value,
    /// Sent back as `X-Amz-Function-Error` (the function threw).
    pub function_error: Option<String>,
    /// How long the function takes.
    pub delay: Duration,
}

impl Answer {
    pub fn json(payload: Value) -> Self {
        Self { payload, ..Self::default() }
    }
}

/// One invocation as it arrived.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The function name in the path, as the SDK sent it (an ARN, percent-decoded).
    pub function: String,
    pub headers: HeaderMap,
    pub payload: Value,
}

type Handler = Arc<dyn Fn(&str, &Value) -> Answer + Send + Sync>;

#[derive(Clone)]
struct Target {
    handler: Handler,
    invocations: Arc<Mutex<Vec<Invocation>>>,
}

/// A running target: its endpoint (for `LAMBDA_ENDPOINT_URL`) and what it was sent.
#[derive(Clone)]
pub struct LambdaTarget {
    pub endpoint: String,
    invocations: Arc<Mutex<Vec<Invocation>>>,
}

impl LambdaTarget {
    /// Serves `handler` on a free loopback port until the process ends.
    pub async fn start(
        handler: impl Fn(&str, &Value) -> Answer + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let invocations = Arc::new(Mutex::new(Vec::new()));
        let target = Target { handler: Arc::new(handler), invocations: invocations.clone() };
        let app = Router::new()
            .route("/2015-03-31/functions/{function}/invocations", post(invoke))
            .with_state(target);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "the local Lambda target stopped");
            }
        });
        Ok(Self { endpoint, invocations })
    }

    /// Every invocation so far, oldest first.
    pub fn invocations(&self) -> Vec<Invocation> {
        self.invocations.lock().map(|list| list.clone()).unwrap_or_default()
    }
}

async fn invoke(
    State(target): State<Target>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        let error = json!({"Type": "InvalidRequestContentException", "message": "payload is not JSON"});
        return (
            StatusCode::BAD_REQUEST,
            [("x-amzn-errortype", "InvalidRequestContentException")],
            error.to_string(),
        )
            .into_response();
    };
    if let Ok(mut list) = target.invocations.lock() {
        list.push(Invocation { function: function.clone(), headers, payload: payload.clone() });
    }
    let answer = (target.handler)(&function, &payload);
    tokio::time::sleep(answer.delay).await;
    let mut response = (StatusCode::OK, answer.payload.to_string()).into_response();
    response.headers_mut().insert("x-amz-executed-version", "$LATEST".parse().expect("a header value"));
    if let Some(error) = answer.function_error.and_then(|error| error.parse().ok()) {
        response.headers_mut().insert("x-amz-function-error", error);
    }
    response
}

/// The ARN of `make run`'s sample function.
pub const SAMPLE_FUNCTION_ARN: &str =
    "arn:aws:lambda:us-east-1:000000000000:function:portico-sample-deal-score";

/// `make run`'s sample function: scores a deal by its amount (90 from 50 000 on, else 40) and
/// answers the probability as an update; other records get an empty answer.
pub fn sample_function(_function: &str, event: &Value) -> Answer {
    if event["module"] != "deals" {
        return Answer::json(json!({}));
    }
    let amount = event["record"]["fields"]["amount"].as_f64().unwrap_or(0.0);
    let probability = if amount >= 50_000.0 { 90 } else { 40 };
    Answer::json(json!({"update": {"probability": probability}}))
}
