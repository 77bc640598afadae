//! A local Lambda runtime API for one cold start: it hands out one event, and timestamps the
//! calls that mark the phases of a cold start — the first `/next` (init done) and the response
//! (first request done).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use tokio::sync::mpsc;

/// A runtime API call that marks a phase, with when it arrived.
#[derive(Debug)]
pub enum Call {
    Next(Instant),
    /// `response`, `error` or `init_error`, with the body.
    Ended(Instant, &'static str, String),
}

#[derive(Clone)]
struct Api {
    event: Arc<Mutex<Option<String>>>,
    calls: mpsc::UnboundedSender<Call>,
}

async fn next(State(api): State<Api>) -> (HeaderMap, String) {
    let _ = api.calls.send(Call::Next(Instant::now()));
    let event = api.event.lock().ok().and_then(|mut slot| slot.take());
    let Some(event) = event else {
        // One invocation per process: later polls wait until the bench kills it.
        std::future::pending::<()>().await;
        unreachable!("pending never resolves")
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
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:portico-bench"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static(
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0",
        ),
    );
    (headers, event)
}

fn ended(kind: &'static str) -> impl Fn(State<Api>, String) -> std::future::Ready<StatusCode> + Clone {
    move |State(api): State<Api>, body: String| {
        let _ = api.calls.send(Call::Ended(Instant::now(), kind, body));
        std::future::ready(StatusCode::ACCEPTED)
    }
}

/// A runtime API on a free loopback port with `event` as its one invocation: its address, the
/// stream of phase calls, and the server task (abort it when the run is over).
pub async fn start(
    event: String,
) -> std::io::Result<(String, mpsc::UnboundedReceiver<Call>, tokio::task::JoinHandle<()>)> {
    let (calls, received) = mpsc::unbounded_channel();
    let api = Api { event: Arc::new(Mutex::new(Some(event))), calls };
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(ended("response")))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(ended("error")))
        .route("/2018-06-01/runtime/init/error", post(ended("init_error")))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?.to_string();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((address, received, server))
}
