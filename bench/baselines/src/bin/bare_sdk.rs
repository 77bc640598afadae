//! The cold-start bench's second baseline: `lambda_http` + axum and the one DynamoDB call a
//! function's first request makes (registration's policy `GetItem`), with nothing but aws-config
//! and aws-sdk-dynamodb. A function's first response over this one's is Portico's own cost: the
//! round trip to moto cancels out.
//!
//! `bare-sdk MODE TABLE` — the mode is one lever of the bench:
//! - `eager`: aws-config's loader and the client at init (what the functions did);
//! - `direct`: the client at init on an `SdkConfig` built without aws-config's loader, with
//!   credentials from the environment (what the functions do);
//! - `lazy`: the client built at the first request;
//! - `prime`: eager, and one call at init, so the first request finds the connection open;
//! - `three-clients`: DynamoDB, SES and SNS clients built at init, each with its own HTTP client
//!   (the SDK's default), as every function did before the cold-start work;
//! - `shared-http`: the same three clients on one HTTP client;
//! - `secret`: `direct`, and the master secret read at init with Secrets Manager's
//!   `GetSecretValue` (the secret `PORTICO_SECRET_ID` names), as the functions do since issue 13:
//!   its own connection (another service's endpoint on AWS), handshake and round trip;
//! - `kms`: `direct`, and the master secret decrypted at init from a KMS-encrypted variable
//!   (`PORTICO_SECRET_CIPHERTEXT`, base64), the other way to keep it out of the plain
//!   environment: one `kms:Decrypt` round trip instead. `kms-setup` (not timed) makes a key in
//!   moto, encrypts `PORTICO_SECRET_VALUE` with it and prints the variable's value;
//! - `no-roots`: an HTTP client that loads no root certificate — the floor of compiled-in roots,
//!   whose trust anchors need no parsing; it cannot trust the bench's test CA, so the bench
//!   measures its init alone.

use std::sync::{Arc, OnceLock};

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Eager,
    Direct,
    Lazy,
    Prime,
    ThreeClients,
    SharedHttp,
    Secret,
    Kms,
    KmsSetup,
    NoRoots,
}

impl Mode {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "eager" => Self::Eager,
            "direct" => Self::Direct,
            "lazy" => Self::Lazy,
            "prime" => Self::Prime,
            "three-clients" => Self::ThreeClients,
            "shared-http" => Self::SharedHttp,
            "secret" => Self::Secret,
            "kms" => Self::Kms,
            "kms-setup" => Self::KmsSetup,
            "no-roots" => Self::NoRoots,
            _ => return None,
        })
    }
}

struct Bare {
    sdk: SdkConfig,
    table: String,
    dynamodb: OnceLock<Client>,
}

impl Bare {
    fn dynamodb(&self) -> &Client {
        self.dynamodb.get_or_init(|| Client::new(&self.sdk))
    }

    async fn read_policy(&self) -> Result<bool, aws_sdk_dynamodb::Error> {
        let output = self
            .dynamodb()
            .get_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S("SETTINGS".into()))
            .key("SK", AttributeValue::S("REGISTRATION_POLICY".into()))
            .send()
            .await?;
        Ok(output.item.is_some())
    }
}

/// The SDK's default HTTPS client (rustls with aws-lc) on the given trust store.
fn https_client(
    trust_store: TrustStore,
) -> Result<aws_smithy_runtime_api::client::http::SharedHttpClient, lambda_http::Error> {
    let context = TlsContext::builder().with_trust_store(trust_store).build()?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

async fn policy(State(bare): State<Arc<Bare>>) -> Result<String, StatusCode> {
    match bare.read_policy().await {
        Ok(found) => Ok(format!("{{\"found\":{found}}}")),
        Err(error) => {
            tracing::error!(%error, "GetItem failed");
            Err(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let mut args = std::env::args().skip(1);
    let usage = "usage: bare-sdk eager|direct|lazy|prime|three-clients|shared-http|secret|kms|kms-setup|no-roots TABLE";
    let mode = args.next().as_deref().and_then(Mode::parse).ok_or(usage)?;
    let table = args.next().ok_or(usage)?;

    // Region and endpoint from the environment (AWS_REGION, AWS_ENDPOINT_URL), as Lambda sets them.
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    match mode {
        Mode::SharedHttp => loader = loader.http_client(https_client(TrustStore::default())?),
        Mode::NoRoots => loader = loader.http_client(https_client(TrustStore::empty())?),
        _ => {}
    }
    let sdk = if matches!(mode, Mode::Direct | Mode::Secret | Mode::Kms | Mode::KmsSetup) {
        let region = std::env::var("AWS_REGION").map_err(|_| "AWS_REGION is not set")?;
        let mut sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(SharedCredentialsProvider::new(
                EnvironmentVariableCredentialsProvider::new(),
            ));
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            sdk = sdk.endpoint_url(endpoint);
        }
        sdk.build()
    } else {
        loader.load().await
    };
    let bare = Arc::new(Bare { sdk, table, dynamodb: OnceLock::new() });
    match mode {
        Mode::Lazy => {}
        Mode::Eager | Mode::Direct | Mode::NoRoots => {
            bare.dynamodb();
        }
        Mode::Prime => {
            bare.read_policy().await?;
        }
        Mode::Secret => {
            bare.dynamodb();
            let id = std::env::var("PORTICO_SECRET_ID").map_err(|_| "PORTICO_SECRET_ID is not set")?;
            let secret = aws_sdk_secretsmanager::Client::new(&bare.sdk)
                .get_secret_value()
                .secret_id(id)
                .send()
                .await?;
            if secret.secret_string().is_none_or(str::is_empty) {
                return Err("the secret holds no text".into());
            }
        }
        Mode::Kms => {
            bare.dynamodb();
            let variable = std::env::var("PORTICO_SECRET_CIPHERTEXT")
                .map_err(|_| "PORTICO_SECRET_CIPHERTEXT is not set")?;
            let ciphertext = aws_smithy_types::base64::decode(variable.trim())?;
            let plain = aws_sdk_kms::Client::new(&bare.sdk)
                .decrypt()
                .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(ciphertext))
                .send()
                .await?;
            if plain.plaintext().is_none_or(|text| text.as_ref().is_empty()) {
                return Err("nothing decrypted".into());
            }
        }
        Mode::KmsSetup => {
            let value =
                std::env::var("PORTICO_SECRET_VALUE").map_err(|_| "PORTICO_SECRET_VALUE is not set")?;
            let kms = aws_sdk_kms::Client::new(&bare.sdk);
            let key = kms.create_key().send().await?;
            let key_id = key.key_metadata().map(|k| k.key_id().to_owned()).ok_or("no key id")?;
            let encrypted = kms
                .encrypt()
                .key_id(key_id)
                .plaintext(aws_sdk_kms::primitives::Blob::new(value.into_bytes()))
                .send()
                .await?;
            let blob = encrypted.ciphertext_blob().ok_or("no ciphertext")?;
            println!("{}", aws_smithy_types::base64::encode(blob.as_ref()));
            return Ok(());
        }
        Mode::ThreeClients | Mode::SharedHttp => {
            bare.dynamodb();
            let ses = aws_sdk_ses::Client::new(&bare.sdk);
            let sns = aws_sdk_sns::Client::new(&bare.sdk);
            drop((ses, sns));
        }
    }
    lambda_http::run(Router::new().fallback(policy).with_state(bare)).await
}
