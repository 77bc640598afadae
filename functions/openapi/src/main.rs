#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    portico::http::run_stateless_on_lambda(portico_openapi::router).await
}
