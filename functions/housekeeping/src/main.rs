#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let state = portico::AppState::from_env().await?;
    lambda_runtime::run(lambda_runtime::service_fn(|event| portico_housekeeping::handle(&state, event))).await
}
