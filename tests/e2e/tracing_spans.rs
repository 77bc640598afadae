//! One span and one JSON log line per request, with the ids, route, status, latency and the
//! DynamoDB requests it made.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use tower::ServiceExt;

use crate::support::spawn_app;

/// A log sink the test can read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The JSON lines logged with message "request".
    fn request_lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().expect("not poisoned").clone()).expect("utf-8");
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["fields"]["message"] == "request")
            .collect()
    }
}

#[tokio::test]
async fn every_request_logs_one_line_with_route_status_and_dynamodb_requests() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().json().with_writer(move || writer.clone()).finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let router = portico_records::router(app.state.clone());

    // This test's runtime is single-threaded, so the router runs under the subscriber above.
    let listed = Request::get("/records/tasks?limit=5").header("authorization", format!("Bearer {admin}"));
    let response =
        router.clone().oneshot(listed.body(Body::empty()).expect("request")).await.expect("answer");
    assert_eq!(response.status(), 200);
    let unknown = Request::get("/nowhere").body(Body::empty()).expect("request");
    assert_eq!(router.oneshot(unknown).await.expect("answer").status(), 404);

    let lines = logs.request_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (list, missing) = (&lines[0], &lines[1]);
    assert_eq!(list["fields"]["status"], 200);
    assert_eq!(list["fields"]["dynamodb_requests"], 2, "the session check and one Query on the module index");
    assert!(list["fields"]["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    assert_eq!(list["span"]["route"], "/records/{module}", "the route, never the ids in the path");
    assert_eq!(list["span"]["method"], "GET");
    assert!(
        list["span"].get("lambda_request_id").is_some() && list["span"].get("apigw_request_id").is_some()
    );
    assert_eq!(
        (missing["fields"]["status"].as_u64(), missing["fields"]["dynamodb_requests"].as_u64()),
        (Some(404), Some(0))
    );
    assert!(!logs.request_lines().iter().any(|line| line.to_string().contains(&admin)), "no token in logs");
}
