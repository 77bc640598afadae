//! `coldstart init-parts`: one function's init, part by part, timed inside a fresh process (the
//! bench starts it with a function's environment). Prints one `MICROSECONDS PART` line a part.

use std::time::{Duration, Instant};

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use portico::auth::Keys;
use portico::{AppState, Config};
use secrecy::ExposeSecret;

/// A current browser's User-Agent, for the first device label a function makes.
const FIREFOX_ON_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";

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
    time("`Config::from_env`: the settings (the secret's id, not its value)", at);

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
    let secret = portico::auth::master_secret::read(&sdk, &config.master_secret).await?;
    time("master secret read: Secrets Manager client, TLS handshake, GetSecretValue (moto, loopback)", at);

    let at = Instant::now();
    let keys = Keys::derive(secret.expose_secret().as_bytes(), &config.jwt_issuer, &config.jwt_audience);
    time("keys derived from the secret (HKDF, JWT keys)", at);
    drop(keys);

    let at = Instant::now();
    let state = AppState::with_master_secret(config, &sdk, &secret);
    time("`AppState` as the functions build it, the secret read (roots read already)", at);

    let mut headers = axum::http::HeaderMap::new();
    headers.insert(axum::http::header::USER_AGENT, axum::http::HeaderValue::from_static(FIREFOX_ON_WINDOWS));
    let at = Instant::now();
    let label = portico::http::device::device_label(&headers);
    time("device label: the first User-Agent parse (woothee; its regexes compiled at first use)", at);
    let at = Instant::now();
    let again = portico::http::device::device_label(&headers);
    time("device label: the next parse", at);
    if label != again || label.contains("Mozilla") {
        return Err(format!("unexpected device label {label:?}").into());
    }

    let routers: [(&str, RouterOf); 6] = [
        ("router: registration", portico_registration::router),
        ("router: sessions", portico_sessions::router),
        ("router: admin", portico_admin::router),
        ("router: records", portico_records::router),
        ("router: otp", portico_otp::router),
        ("router: portal", portico_portal::router),
    ];
    for (part, router) in routers {
        let at = Instant::now();
        drop(router(state.clone()));
        time(part, at);
    }
    let at = Instant::now();
    drop(portico_openapi::router());
    time("router: openapi (no state: no secret read)", at);

    for (elapsed, part) in parts {
        println!("{} {part}", elapsed.as_micros());
    }
    Ok(())
}
