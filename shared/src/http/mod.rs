//! The HTTP edge shared by every function: extractors that turn requests into validated values
//! or problem+json refusals, signed cursors, router defaults, and the Lambda entry point.

pub mod auth;
pub mod client_ip;
pub mod cursor;
pub mod device;
pub mod json;
pub mod page;
pub mod routes;
pub mod trace;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use auth::{Authenticated, Customer, SignedIn, Staff};
pub use client_ip::ClientIp;
pub use cursor::{PageQuery, PagedResponse};
pub use device::DeviceId;
pub use json::{ApiForm, ApiJson, ApiQuery};

use crate::AppState;
use crate::error::{method_not_allowed, route_not_found};

/// The version given as `If-Match: "3"` (or `3`, or `W/"3"`), if any. Versions start at 1.
pub fn if_match(headers: &axum::http::HeaderMap) -> Result<Option<u64>, crate::ApiError> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim().trim_start_matches("W/").trim_matches('"');
    text.parse().ok().filter(|version| *version >= 1).map(Some).ok_or_else(|| {
        crate::ApiError::bad_request("invalid_if_match", "If-Match must be the version you read (1 or more).")
    })
}

/// The version a change is based on: `If-Match`, else `body` (a `version` field where the
/// request has one); 428 `version_required` without either.
pub fn required_version(headers: &axum::http::HeaderMap, body: Option<u64>) -> Result<u64, crate::ApiError> {
    if_match(headers)?.or(body).ok_or_else(|| {
        crate::ApiError::new(
            axum::http::StatusCode::PRECONDITION_REQUIRED,
            "version_required",
            "Send the version you read as If-Match (or as `version` in the body, where it has one).",
        )
    })
}

/// Bodies above 256 KiB are refused with 413 (imports have their own, larger limit).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Waits until `floor` has passed since `started` (no-op when it already has). Answers that must
/// not tell whether an account exists wait for `Config::enumeration_floor`, so the faster "no
/// such account" path does not show in response times.
pub async fn pad_to(started: tokio::time::Instant, floor: std::time::Duration) {
    tokio::time::sleep_until(started + floor).await;
}

/// What every Portico router has: problem+json for unknown routes and methods, the body cap,
/// and one span and log line per request.
pub fn with_defaults<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .route_layer(axum::middleware::from_fn(trace::name_route))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(trace::trace_request))
}

/// The whole `main` of an HTTP function: JSON logs, state from the environment, and the router
/// served through the Lambda runtime. Configuration errors fail the cold start.
pub async fn run_on_lambda(routes: fn() -> Router<AppState>) -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    // Reading the state waits on the network (the master secret, a TLS handshake): the routes,
    // CPU work of their own, are built meanwhile.
    let state = tokio::spawn(AppState::from_env());
    let routes = routes();
    let state = state.await??;
    lambda_http::run(routes.with_state(state)).await
}

/// The `main` of an HTTP function that needs no state (the OpenAPI document): no settings, no
/// master secret, no clients — and no right to read the secret in the template.
pub async fn run_stateless_on_lambda(router: fn() -> Router) -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    lambda_http::run(router()).await
}
