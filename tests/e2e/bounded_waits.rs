//! Issue 13 item 11: a stalled dependency (connections accepted, nothing answered) ends in a
//! 503 problem+json within the SDK's operation timeout, not at the function's timeout.

use std::time::Duration;

use portico::AppState;
use reqwest::StatusCode;

use crate::support::{REGION, TEST_MASTER_SECRET, moto_endpoint, serve, test_config};

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

/// AWS settings aimed at `endpoint` with Portico's own bounds (`aws_timeouts`).
async fn stalled_sdk(endpoint: &str) -> aws_config::SdkConfig {
    portico_local::moto_sdk_config(endpoint, REGION)
        .await
        .to_builder()
        .timeout_config(portico::app::aws_timeouts())
        .build()
}

/// The cold start's read of the master secret is bounded too: a stalled Secrets Manager fails
/// the start within the operation timeout, saying so (and naming the secret).
#[tokio::test]
async fn a_stalled_secrets_manager_fails_the_cold_start_in_time() {
    let endpoint = stalled_endpoint().await;
    let config = test_config("portico-stalled");
    let started = std::time::Instant::now();
    let failed =
        tokio::time::timeout(Duration::from_secs(30), AppState::build(config, &stalled_sdk(&endpoint).await))
            .await
            .expect("an answer, not a hang");
    let error = failed.err().expect("no state without the secret").to_string();
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
    assert!(error.contains(TEST_MASTER_SECRET) && error.contains("did not answer in time"), "{error}");
}

#[tokio::test]
async fn a_stalled_dynamodb_answers_503_not_a_hang() {
    let endpoint = stalled_endpoint().await;
    let mut config = test_config("portico-stalled");
    config.aws_endpoint_url = Some(endpoint.clone());
    let sdk = stalled_sdk(&endpoint).await;
    // The secret comes from moto; everything after its read meets the stalled endpoint.
    let moto = portico_local::moto_sdk_config(moto_endpoint(), REGION).await;
    portico_local::ensure_master_secret(&moto, TEST_MASTER_SECRET).await.expect("master secret");
    let secret = portico::auth::master_secret::read(&moto, &config.master_secret).await.expect("read");
    let state = AppState::with_master_secret(config, &sdk, &secret);
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
