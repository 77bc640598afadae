//! `coldstart init-parts`: one function's init, part by part, timed inside a fresh process (the
//! bench starts it with a function's environment). Prints one `MICROSECONDS PART` line a part.

use std::time::{Duration, Instant};

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use portico::auth::Keys;
use portico::{AppState, Config};
use secrecy::ExposeSecret;

use crate::BoxError;

/// A function crate's `router`.
type RouterOf = fn(AppState) -> axum::Router;

pub async fn run() -> Result<(), BoxError> {
    let mut parts: Vec<(Duration, &str)> = Vec::new();
    let mut time = |part, at: Instant| parts.push((at.elapsed(), part));

    let at = Instant::now();
    lambda_http::tracing::init_default_subscriber();
    time("tracing subscriber (`init_default_subscriber`)", at);

    let at = Instant::now();
    let config = Config::from_env()?;
    time("`Config::from_env`: the settings, the secret among them", at);

    let at = Instant::now();
    let keys = Keys::derive(
        config.master_secret.expose_secret().as_bytes(),
        &config.jwt_issuer,
        &config.jwt_audience,
    );
    time("keys derived from the secret (HKDF, JWT keys)", at);
    drop(keys);

    let at = Instant::now();
    let direct = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
        .build();
    time("`SdkConfig` built directly, credentials from the environment (`AppState::from_env`)", at);
    drop(direct);

    let at = Instant::now();
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.region.clone()));
    if let Some(endpoint) = &config.aws_endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let sdk = loader.load().await;
    time("aws-config's loader instead (region and endpoint given; as before)", at);

    let at = Instant::now();
    drop(aws_sdk_dynamodb::Client::new(&sdk));
    time("DynamoDB client, the first (reads the root bundle)", at);

    let at = Instant::now();
    drop(aws_sdk_ses::Client::new(&sdk));
    time("SES client (roots read, parsed again)", at);

    let at = Instant::now();
    drop(aws_sdk_sns::Client::new(&sdk));
    time("SNS client", at);

    let at = Instant::now();
    let state = AppState::with_sdk_config(config, &sdk);
    time("`AppState` as the functions build it (roots read already)", at);

    let routers: [(&str, RouterOf); 7] = [
        ("router: registration", portico_registration::router),
        ("router: sessions", portico_sessions::router),
        ("router: admin", portico_admin::router),
        ("router: records", portico_records::router),
        ("router: otp", portico_otp::router),
        ("router: portal", portico_portal::router),
        ("router: openapi", portico_openapi::router),
    ];
    for (part, router) in routers {
        let at = Instant::now();
        drop(router(state.clone()));
        time(part, at);
    }

    for (elapsed, part) in parts {
        println!("{} {part}", elapsed.as_micros());
    }
    Ok(())
}
