//! Issue 13 item 11: a stalled dependency (connections accepted, nothing answered) ends in a
//! 503 problem+json within the SDK's operation timeout, not at the function's timeout.

use std::time::Duration;

use portico::AppState;
use reqwest::StatusCode;

use crate::support::{REGION, moto_endpoint, serve, test_config};

/// A loopback endpoint that accepts connections and never answers.
async fn stalled_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_stalled_dynamodb_answers_503_not_a_hang() {
    let endpoint = stalled_endpoint().await;
    let mut config = test_config("portico-stalled");
    config.aws_endpoint_url = Some(endpoint.clone());
    let sdk = portico_local::moto_sdk_config(&endpoint, REGION)
        .await
        .to_builder()
        .timeout_config(portico::app::aws_timeouts())
        .build();
    let state = AppState::with_sdk_config(config, &sdk);
    let base = serve(state, portico_local::moto::Outbox::new(moto_endpoint())).await;
    // Far above the 4 s operation timeout; without timeouts the request waits for minutes.
    let answer =
        tokio::time::timeout(Duration::from_secs(30), reqwest::get(format!("{base}/registrations/policy")))
            .await
            .expect("an answer, not a hang")
            .expect("response");
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        answer.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert!(answer.headers().get("retry-after").is_some());
    let problem: serde_json::Value = answer.json().await.expect("problem");
    assert_eq!(problem["code"], "unavailable");
}
