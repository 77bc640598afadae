//! The local stack: a moto server standing in for DynamoDB, SES and SNS, the table created from
//! `infra/template.yaml`, and every function's router merged onto one port — the same routes
//! API Gateway serves.

pub mod lambda;
pub mod moto;
pub mod streams;
pub mod table;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::Utc;
use portico::domain::account::PasswordHash;
use portico::domain::{Account, BuiltinRole, Email};
use portico::store::accounts::StaffWrite;
use portico::{ApiError, AppState};

/// Every function's routes on one router, plus `GET /_local/outbox` (local stack only).
pub fn app(state: AppState, outbox: moto::Outbox) -> Router {
    let (api, _) = portico_registration::api()
        .merge(portico_sessions::api())
        .merge(portico_admin::api())
        .merge(portico_records::api())
        .merge(portico_otp::api())
        .merge(portico_portal::api())
        .merge(portico_openapi::api())
        .split_for_parts();
    let local = Router::new().route("/_local/outbox", get(read_outbox)).with_state(outbox);
    portico::http::with_defaults(api).with_state(state).merge(local)
}

async fn read_outbox(State(outbox): State<moto::Outbox>) -> Result<Json<Vec<moto::OutboxMessage>>, ApiError> {
    outbox.messages().await.map(Json).map_err(ApiError::internal)
}

/// AWS settings for a moto endpoint: any static credentials work.
pub async fn moto_sdk_config(endpoint: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        // Bounded, but looser than on AWS: moto serves one request at a time on a loaded
        // machine (the stalled-endpoint test sets Portico's own bounds).
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(5))
                .operation_attempt_timeout(std::time::Duration::from_secs(20))
                .operation_timeout(std::time::Duration::from_secs(30))
                .build(),
        )
        .credentials_provider(Credentials::new("local", "local", None, None, "portico-local"))
        .load()
        .await
}

/// The master secret the local stack and the tests read, as functions do on AWS: it is made in
/// moto's Secrets Manager (a random value) unless it is there already. `make run` reads it under
/// this name; tests under their own.
pub const LOCAL_MASTER_SECRET: &str = "portico/master-secret";

/// Makes the secret `name` in moto's Secrets Manager with a random value, if it does not exist
/// yet (concurrent callers: one makes it, the others find it).
pub async fn ensure_master_secret(sdk: &SdkConfig, name: &str) -> Result<(), String> {
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let value = format!("{}{}", portico::auth::secret::random_token(), portico::auth::secret::random_token());
    match secrets.create_secret().name(name).secret_string(value).send().await {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some("ResourceExistsException") => Ok(()),
        Err(error) => {
            Err(format!("creating the secret {name} in moto failed: {}", error.code().unwrap_or("unknown")))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}")]
    Invalid(String),
    #[error("storing the administrator failed")]
    Store(#[from] portico::store::StoreError),
}

/// Creates an active, verified staff account with the Administrator role. `Ok(false)` when the
/// address already has an account (nothing is changed then).
pub async fn create_admin(
    state: &AppState,
    email: &str,
    name: &str,
    password: &str,
) -> Result<bool, SeedError> {
    create_staff(state, email, name, password, &[BuiltinRole::Administrator]).await
}

/// Creates an active, verified staff account with `roles`; `Ok(false)` when the address is taken.
/// Counts the administrators first if the table has no count yet (see `count_administrators`),
/// so the new account is counted on top of those already there.
pub async fn create_staff(
    state: &AppState,
    email: &str,
    name: &str,
    password: &str,
    roles: &[BuiltinRole],
) -> Result<bool, SeedError> {
    let email = Email::parse(email).map_err(|e| SeedError::Invalid(format!("e-mail {e}")))?;
    portico::domain::password::check_new_password(password, email.as_str())
        .map_err(|e| SeedError::Invalid(format!("password {e}")))?;
    let password_hash: PasswordHash =
        state.passwords.hash(password).map_err(|e| SeedError::Invalid(e.to_string()))?;
    state.store.count_administrators().await?;
    let definitions: Vec<_> = roles.iter().map(|role| role.definition()).collect();
    let roles = roles.iter().map(|role| role.id().to_owned()).collect();
    let admin = Account::new_staff(email, name.to_owned(), password_hash, roles, Vec::new(), Utc::now());
    match state.store.create_staff(&admin, None, &definitions).await? {
        StaffWrite::Done => Ok(true),
        StaffWrite::EmailTaken => Ok(false),
        other => Err(SeedError::Invalid(format!("the account was not stored: {other:?}"))),
    }
}

/// A random password that passes the password rules, for seeded accounts.
pub fn random_password() -> String {
    portico::auth::secret::random_token()[..20].to_owned()
}
