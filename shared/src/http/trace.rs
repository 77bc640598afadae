//! One span and one log line per request: the API Gateway and Lambda request ids, the route, the
//! status, the latency and the DynamoDB requests it took, so an operator can follow a request in
//! CloudWatch Logs Insights (the README shows the query). Inner logs carry the span.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use tracing::Instrument;

use crate::store::request_count::count_requests;

/// The outer layer: opens the request's span and writes its line when the answer is ready.
pub async fn trace_request(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let lambda_request_id = request.lambda_context_ref().map(|context| context.request_id.clone());
    let apigw_request_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        %method,
        route = tracing::field::Empty,
        lambda_request_id = lambda_request_id.as_deref().unwrap_or("-"),
        apigw_request_id = apigw_request_id.as_deref().unwrap_or("-"),
    );
    let (response, dynamodb_requests) = count_requests(next.run(request)).instrument(span.clone()).await;
    let _entered = span.enter();
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        dynamodb_requests,
        "request"
    );
    response
}

/// The inner layer, on matched routes only: names the route (`/records/{module}/{id}`, never the
/// ids themselves) in the request's span.
pub async fn name_route(request: Request, next: Next) -> Response {
    if let Some(path) = request.extensions().get::<MatchedPath>() {
        tracing::Span::current().record("route", path.as_str());
    }
    next.run(request).await
}
