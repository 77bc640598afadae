//! `AppState`: built once per cold start and shared by every request of a function.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::auth::Keys;
use crate::config::{Config, ConfigError};
use crate::notify::Notifier;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub notifier: Notifier,
    pub keys: Arc<Keys>,
}

impl AppState {
    /// Reads the environment and builds the AWS clients; a bad setting fails the cold start,
    /// not a request.
    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::new(Config::from_env()?).await)
    }

    /// One `SdkConfig` (region and endpoint explicit, credentials from the default chain)
    /// shared by every client.
    pub async fn new(config: Config) -> Self {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.region.clone()));
        if let Some(endpoint) = &config.aws_endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        Self::with_sdk_config(config, &loader.load().await)
    }

    /// Builds the state on given AWS settings (the local stack and tests bring their own).
    pub fn with_sdk_config(config: Config, sdk: &SdkConfig) -> Self {
        let keys = Keys::derive(config.master_secret_bytes(), &config.jwt_issuer, &config.jwt_audience);
        Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), config.table_name.as_str()),
            notifier: Notifier::new(
                aws_sdk_ses::Client::new(sdk),
                aws_sdk_sns::Client::new(sdk),
                config.mail_sender.as_str(),
            ),
            keys: Arc::new(keys),
            config: Arc::new(config),
        }
    }

    /// An absolute link into Portico's public API, for mails.
    pub fn link(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.config.public_base_url)
    }
}
