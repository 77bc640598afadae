//! The cold-start bench's baseline: hello world on `lambda_http` + axum, built with the release
//! profile in the same run as the functions. It installs the tracing subscriber every function
//! installs; `hello --no-tracing` leaves it out, to measure what the subscriber costs.

use axum::Router;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    if std::env::args().nth(1).as_deref() != Some("--no-tracing") {
        lambda_http::tracing::init_default_subscriber();
    }
    lambda_http::run(Router::new().fallback(|| async { "hello" })).await
}
