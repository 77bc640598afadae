#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    portico::http::run_on_lambda(portico_registration::routes).await
}
