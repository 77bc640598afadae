//! `AppState`: built once per cold start and shared by every request of a function.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedCredentialsProvider;

use crate::domain::RegistrationPolicy;
use crate::store::StoreError;

use crate::auth::Keys;
use crate::auth::master_secret::{self, MasterSecretError};
use crate::auth::password::Passwords;
use crate::config::{Config, ConfigError};
use crate::notify::Notifier;
use crate::store::Store;
use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub notifier: Notifier,
    pub keys: Arc<Keys>,
    /// Password hashing at the configured cost.
    pub passwords: Arc<Passwords>,
    /// The AWS settings every client is built from (functions build the clients only they use).
    pub sdk: SdkConfig,
    policy_cache: Arc<Mutex<Option<(Instant, RegistrationPolicy)>>>,
}

/// Why a cold start failed: a setting, or the master secret.
#[derive(Debug, Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    MasterSecret(#[from] MasterSecretError),
}

/// How long a call to DynamoDB, SES, SNS or End User Messaging Social may take: a connection in
/// 1 s, an attempt in 2 s, the whole operation (the SDK's retries included) in 4 s — below the
/// functions' 10 s timeout, so a stalled dependency answers 503 problem+json, not API
/// Gateway's bare 503 at the function timeout.
pub fn aws_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(4))
        .build()
}

/// How long a function keeps the registration policy before reading it again: a saved change
/// reaches every running copy within this time (at once in the copy that saved it).
const POLICY_CACHE_TTL: Duration = Duration::from_secs(30);

impl AppState {
    /// Reads the environment, the master secret (from Secrets Manager) and builds the AWS
    /// clients; a bad setting or an unreadable secret fails the cold start, not a request (and is
    /// logged, naming the secret, never its value). This is the functions' start on Lambda,
    /// which gives them their role's credentials in the environment: the `SdkConfig` is built
    /// directly, not by aws-config's loader, whose provider chains and profile files cost about a
    /// millisecond of every cold start and a megabyte of every binary (BENCHMARKS.md, "Cold
    /// start"). Tools that need the default credential chain use [`Self::new`].
    pub async fn from_env() -> Result<Self, InitError> {
        let config = Config::from_env().inspect_err(|error| tracing::error!(%error, "cold start failed"))?;
        let credentials = EnvironmentVariableCredentialsProvider::new();
        let mut sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .timeout_config(aws_timeouts())
            .credentials_provider(SharedCredentialsProvider::new(credentials));
        if let Some(endpoint) = &config.aws_endpoint_url {
            sdk = sdk.endpoint_url(endpoint);
        }
        Self::build(config, &sdk.build())
            .await
            .inspect_err(|error| tracing::error!(%error, "cold start failed"))
            .map_err(InitError::from)
    }

    /// One `SdkConfig` (region and endpoint explicit, credentials from the default chain)
    /// shared by every client. Only the DynamoDB client is built here; the notifier builds its
    /// clients when it first sends. For tools run by an operator (`portico-local create-admin`).
    pub async fn new(config: Config) -> Result<Self, MasterSecretError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .timeout_config(aws_timeouts());
        if let Some(endpoint) = &config.aws_endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        Self::build(config, &loader.load().await).await
    }

    /// Builds the state on given AWS settings (the local stack and tests bring their own): reads
    /// the master secret `config` names through them, as a cold start does.
    pub async fn build(config: Config, sdk: &SdkConfig) -> Result<Self, MasterSecretError> {
        let secret = master_secret::read(sdk, &config.master_secret).await?;
        Ok(Self::with_master_secret(config, sdk, &secret))
    }

    /// Builds the state on given AWS settings with a master secret read already (a test that
    /// points the clients at a stalled endpoint).
    pub fn with_master_secret(config: Config, sdk: &SdkConfig, secret: &SecretString) -> Self {
        let keys = Keys::derive(secret.expose_secret().as_bytes(), &config.jwt_issuer, &config.jwt_audience);
        Self {
            store: Store::new(
                aws_sdk_dynamodb::Client::from_conf(
                    aws_sdk_dynamodb::config::Builder::from(sdk)
                        .interceptor(crate::store::request_count::CountRequests)
                        .build(),
                ),
                config.table_name.as_str(),
            ),
            notifier: Notifier::new(sdk, config.mail_sender.as_str())
                .with_sms_sender_id(config.sms_sender_id.as_deref())
                .with_whatsapp(config.whatsapp.clone()),
            keys: Arc::new(keys),
            passwords: Arc::new(Passwords::new(config.password_cost)),
            sdk: sdk.clone(),
            config: Arc::new(config),
            policy_cache: Arc::default(),
        }
    }

    /// The registration policy, from a short-lived cache: most requests need it, few change it.
    pub async fn registration_policy(&self) -> Result<RegistrationPolicy, StoreError> {
        let cached = self.policy_cache.lock().ok().and_then(|cache| *cache);
        if let Some((read_at, policy)) = cached
            && read_at.elapsed() < POLICY_CACHE_TTL
        {
            return Ok(policy);
        }
        let policy = self.store.registration_policy().await?;
        self.remember_policy(policy);
        Ok(policy)
    }

    /// Caches a policy just read or saved.
    pub fn remember_policy(&self, policy: RegistrationPolicy) {
        if let Ok(mut cache) = self.policy_cache.lock() {
            *cache = Some((Instant::now(), policy));
        }
    }

    /// Drops the cached policy: the next request reads it again (tests measure that read).
    pub fn forget_policy(&self) {
        if let Ok(mut cache) = self.policy_cache.lock() {
            *cache = None;
        }
    }

    /// The same state on another store handle (tests count its requests).
    pub fn with_store(self, store: Store) -> Self {
        Self { store, ..self }
    }

    /// The same state with another notifier (tests count its SES and SNS requests).
    pub fn with_notifier(self, notifier: Notifier) -> Self {
        Self { notifier, ..self }
    }

    /// An absolute link into Portico's public API, for mails.
    pub fn link(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.config.public_base_url)
    }
}
