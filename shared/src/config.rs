//! `Config::from_env`: the one place that reads environment variables.

use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

/// The master secret must carry at least 256 bits; every key Portico uses is derived from it.
const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Settings of one Portico process, read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The single DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// AWS region (`AWS_REGION`, set by Lambda).
    pub region: String,
    /// Endpoint override for every AWS client (`AWS_ENDPOINT_URL`): moto locally, LocalStack, or unset for AWS.
    pub aws_endpoint_url: Option<String>,
    /// Verified SES identity mails are sent from (`MAIL_SENDER`).
    pub mail_sender: String,
    /// Base URL of the public API, used in mailed links (`PUBLIC_BASE_URL`).
    pub public_base_url: String,
    /// Master secret (`PORTICO_SECRET`, ≥ 32 bytes) from which JWT, token-hash and cursor keys are derived.
    pub master_secret: SecretString,
    /// `iss` of issued JWTs (`JWT_ISSUER`, default `portico`).
    pub jwt_issuer: String,
    /// `aud` of issued access tokens (`JWT_AUDIENCE`, default `portico-api`).
    pub jwt_audience: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass their own values without touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name).filter(|value| !value.trim().is_empty()).ok_or(ConfigError::Missing(name))
        };
        let optional = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let master_secret = required("PORTICO_SECRET")?;
        if master_secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name: "PORTICO_SECRET",
                reason: format!("must be at least {MIN_SECRET_BYTES} bytes"),
            });
        }
        let public_base_url = required("PUBLIC_BASE_URL")?.trim_end_matches('/').to_owned();
        if !(public_base_url.starts_with("https://") || public_base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_BASE_URL",
                reason: "must be an http(s) URL".into(),
            });
        }

        Ok(Self {
            table_name: required("TABLE_NAME")?,
            region: optional("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            aws_endpoint_url: optional("AWS_ENDPOINT_URL"),
            mail_sender: required("MAIL_SENDER")?,
            public_base_url,
            master_secret: SecretString::from(master_secret),
            jwt_issuer: optional("JWT_ISSUER").unwrap_or_else(|| "portico".into()),
            jwt_audience: optional("JWT_AUDIENCE").unwrap_or_else(|| "portico-api".into()),
        })
    }

    pub(crate) fn master_secret_bytes(&self) -> &[u8] {
        self.master_secret.expose_secret().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 4] = [
        ("TABLE_NAME", "portico"),
        ("MAIL_SENDER", "no-reply@example.com"),
        ("PUBLIC_BASE_URL", "https://api.example.com/"),
        ("PORTICO_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    #[test]
    fn reads_required_and_defaults() {
        let config = Config::from_lookup(lookup(&BASE)).expect("valid config");
        assert_eq!(config.table_name, "portico");
        assert_eq!(config.public_base_url, "https://api.example.com");
        assert_eq!(config.jwt_issuer, "portico");
        assert_eq!(config.aws_endpoint_url, None);
    }

    #[test]
    fn refuses_missing_and_short_secret() {
        let missing = Config::from_lookup(lookup(&BASE[..3])).unwrap_err();
        assert!(matches!(missing, ConfigError::Missing("PORTICO_SECRET")));
        let mut short = BASE;
        short[3] = ("PORTICO_SECRET", "too-short");
        let err = Config::from_lookup(lookup(&short)).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "PORTICO_SECRET", .. }));
    }
}
