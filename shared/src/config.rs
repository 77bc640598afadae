//! `Config::from_env`: the one place that reads environment variables.

use std::time::Duration;

use thiserror::Error;

/// Answers that must not tell whether an account exists take at least this long by default
/// (above the time of the slowest path, a registration that hashes a password).
pub const DEFAULT_ENUMERATION_FLOOR: Duration = Duration::from_millis(300);

/// The argon2id cost of new password hashes. Verification reads the cost from each stored hash
/// (its PHC string), so hashes made at any cost stay verifiable when this changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl PasswordCost {
    /// OWASP's minimum for argon2id (m = 19456 KiB, t = 2, p = 1): the default, and the least
    /// the environment may set.
    pub const OWASP_MINIMUM: Self = Self { memory_kib: 19_456, iterations: 2, parallelism: 1 };

    /// Any cost argon2 accepts (memory ≥ 8 KiB per lane, t ≥ 1, p ≥ 1). Only code can choose a
    /// cost below [`Self::OWASP_MINIMUM`] (tests do, to hash fast); the environment cannot.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, String> {
        argon2::Params::new(memory_kib, iterations, parallelism, None).map_err(|e| e.to_string())?;
        Ok(Self { memory_kib, iterations, parallelism })
    }

    /// argon2's parameters for this cost.
    pub fn params(&self) -> argon2::Params {
        argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .unwrap_or(argon2::Params::DEFAULT)
    }

    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }
}

impl Default for PasswordCost {
    fn default() -> Self {
        Self::OWASP_MINIMUM
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where WhatsApp codes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppSender {
    /// The linked number's id (`phone-number-id-…`).
    pub phone_number_id: String,
    /// The approved authentication template (`WHATSAPP_TEMPLATE`, default `portico_otp`), with
    /// one body parameter and a copy-code button, in each language codes are sent in.
    pub template: String,
    /// Meta's Cloud API version (`WHATSAPP_META_API_VERSION`, default `v20.0`).
    pub meta_api_version: String,
}

/// Which Secrets Manager secret holds the master secret (its value is read at cold start by
/// [`crate::auth::master_secret::read`], never from the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterSecretId {
    /// Its ARN or name (`PORTICO_SECRET_ID`).
    pub secret_id: String,
    /// The version to read (`PORTICO_SECRET_VERSION`, a version id); unset: `AWSCURRENT`. A
    /// rotation deploys the new version's id, so every running copy starts afresh on it.
    pub version_id: Option<String>,
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
    /// The sender id SMS carry where the destination country allows one (`SMS_SENDER_ID`, 1–11
    /// letters or digits with at least one letter; unset: the carrier's number).
    pub sms_sender_id: Option<String>,
    /// WhatsApp sending through AWS End User Messaging Social (`WHATSAPP_PHONE_NUMBER_ID`;
    /// unset: OTP rules' WhatsApp channel is skipped for their other channels).
    pub whatsapp: Option<WhatsAppSender>,
    /// Base URL of the public API, used in mailed links (`PUBLIC_BASE_URL`).
    pub public_base_url: String,
    /// The Secrets Manager secret (≥ 32 bytes) from which JWT, token-hash and cursor keys are
    /// derived.
    pub master_secret: MasterSecretId,
    /// `iss` of issued JWTs (`JWT_ISSUER`, default `portico`).
    pub jwt_issuer: String,
    /// `aud` of issued access tokens (`JWT_AUDIENCE`, default `portico-api`).
    pub jwt_audience: String,
    /// Least response time of answers that must not reveal whether an account exists
    /// (`ENUMERATION_FLOOR_MS`; default and least 300 ms: the environment may raise it only).
    pub enumeration_floor: Duration,
    /// argon2id cost of new password hashes (`ARGON2_MEMORY_KIB`, `ARGON2_ITERATIONS`,
    /// `ARGON2_PARALLELISM`; default and least OWASP's m = 19456, t = 2, p = 1).
    pub password_cost: PasswordCost,
    /// Registrations an hour from one source IP (`REGISTRATIONS_PER_IP_PER_HOUR`, default 20)
    /// and from its network, /24 or /64 (`REGISTRATIONS_PER_NETWORK_PER_HOUR`, default 100).
    pub registrations_per_ip: u32,
    pub registrations_per_network: u32,
    /// Whether workflow webhooks may go to plain `http` and to loopback or private addresses
    /// (`WEBHOOKS_ALLOW_LOCAL=true`: the local stack and tests); never in AWS.
    pub webhooks_allow_local: bool,
    /// The Lambda functions workflow rules may invoke (`FUNCTION_ACTION_ARNS`, comma-separated:
    /// the stack parameter the functions' role is granted `lambda:InvokeFunction` on).
    pub function_action_arns: Vec<String>,
    /// Where Lambda `Invoke` calls go instead of AWS (`LAMBDA_ENDPOINT_URL`: the local stack's
    /// and the tests' loopback target; moto runs no functions).
    pub lambda_endpoint_url: Option<String>,
}

impl Config {
    /// Where workflow actions may send events.
    pub fn action_targets(&self) -> crate::domain::workflow::ActionTargets<'_> {
        crate::domain::workflow::ActionTargets {
            allow_local: self.webhooks_allow_local,
            lambda_arns: &self.function_action_arns,
        }
    }

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

        // The secret's value never travels in the environment (anyone allowed
        // `lambda:GetFunctionConfiguration` reads that): a stale setting fails loudly instead of
        // being ignored.
        if lookup("PORTICO_SECRET").is_some() {
            return Err(ConfigError::Invalid {
                name: "PORTICO_SECRET",
                reason: "is not read: set PORTICO_SECRET_ID to the Secrets Manager secret instead".into(),
            });
        }
        let master_secret = MasterSecretId {
            secret_id: required("PORTICO_SECRET_ID")?,
            version_id: optional("PORTICO_SECRET_VERSION"),
        };
        let public_base_url = required("PUBLIC_BASE_URL")?.trim_end_matches('/').to_owned();
        if !(public_base_url.starts_with("https://") || public_base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_BASE_URL",
                reason: "must be an http(s) URL".into(),
            });
        }

        let number = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            optional(name).map_or(Ok(default), |value| {
                value
                    .trim()
                    .parse()
                    .map_err(|_| ConfigError::Invalid { name, reason: "must be a whole number".into() })
            })
        };
        // Costs the environment may raise but never lower below their defaults.
        let at_least = |name: &'static str, minimum: u32| -> Result<u32, ConfigError> {
            let value = number(name, minimum)?;
            if value < minimum {
                return Err(ConfigError::Invalid { name, reason: format!("must be at least {minimum}") });
            }
            Ok(value)
        };
        let floor_ms = at_least("ENUMERATION_FLOOR_MS", floor_millis(DEFAULT_ENUMERATION_FLOOR))?;
        let minimum = PasswordCost::OWASP_MINIMUM;
        let password_cost = PasswordCost::new(
            at_least("ARGON2_MEMORY_KIB", minimum.memory_kib)?,
            at_least("ARGON2_ITERATIONS", minimum.iterations)?,
            at_least("ARGON2_PARALLELISM", minimum.parallelism)?,
        )
        .map_err(|reason| ConfigError::Invalid { name: "ARGON2_*", reason })?;

        Ok(Self {
            table_name: required("TABLE_NAME")?,
            region: optional("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            aws_endpoint_url: optional("AWS_ENDPOINT_URL"),
            mail_sender: required("MAIL_SENDER")?,
            sms_sender_id: optional("SMS_SENDER_ID")
                .filter(|id| !id.is_empty())
                .map(|id| {
                    let valid = (1..=11).contains(&id.len())
                        && id.chars().all(|c| c.is_ascii_alphanumeric())
                        && id.chars().any(|c| c.is_ascii_alphabetic());
                    if valid {
                        Ok(id)
                    } else {
                        Err(ConfigError::Invalid {
                            name: "SMS_SENDER_ID",
                            reason: "must be 1 to 11 letters or digits, at least one a letter".into(),
                        })
                    }
                })
                .transpose()?,
            whatsapp: optional("WHATSAPP_PHONE_NUMBER_ID").filter(|id| !id.is_empty()).map(
                |phone_number_id| WhatsAppSender {
                    phone_number_id,
                    template: optional("WHATSAPP_TEMPLATE").unwrap_or_else(|| "portico_otp".into()),
                    meta_api_version: optional("WHATSAPP_META_API_VERSION").unwrap_or_else(|| "v20.0".into()),
                },
            ),
            public_base_url,
            master_secret,
            jwt_issuer: optional("JWT_ISSUER").unwrap_or_else(|| "portico".into()),
            jwt_audience: optional("JWT_AUDIENCE").unwrap_or_else(|| "portico-api".into()),
            enumeration_floor: Duration::from_millis(floor_ms.into()),
            registrations_per_ip: number("REGISTRATIONS_PER_IP_PER_HOUR", 20)?,
            registrations_per_network: number("REGISTRATIONS_PER_NETWORK_PER_HOUR", 100)?,
            webhooks_allow_local: optional("WEBHOOKS_ALLOW_LOCAL").is_some_and(|flag| flag.trim() == "true"),
            function_action_arns: optional("FUNCTION_ACTION_ARNS")
                .map(|arns| {
                    arns.split(',').map(str::trim).filter(|arn| !arn.is_empty()).map(str::to_owned).collect()
                })
                .unwrap_or_default(),
            lambda_endpoint_url: optional("LAMBDA_ENDPOINT_URL").filter(|url| !url.is_empty()),
            password_cost,
        })
    }
}

fn floor_millis(floor: Duration) -> u32 {
    u32::try_from(floor.as_millis()).unwrap_or(u32::MAX)
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
        ("PORTICO_SECRET_ID", "portico/master-secret"),
    ];

    #[test]
    fn reads_required_and_defaults() {
        let config = Config::from_lookup(lookup(&BASE)).expect("valid config");
        assert_eq!(config.table_name, "portico");
        assert_eq!(config.public_base_url, "https://api.example.com");
        assert_eq!(config.jwt_issuer, "portico");
        assert_eq!(config.aws_endpoint_url, None);
        assert_eq!(config.enumeration_floor, Duration::from_millis(300));
        assert_eq!(
            config.password_cost,
            PasswordCost::new(19_456, 2, 1).expect("valid"),
            "OWASP's minimum for argon2id"
        );
    }

    #[test]
    fn the_environment_may_raise_costs_but_never_lower_them() {
        let with = |extra: &[(&str, &str)]| {
            let vars: Vec<(&str, &str)> = BASE.iter().chain(extra).copied().collect();
            Config::from_lookup(lookup(&vars))
        };
        let raised = with(&[
            ("ENUMERATION_FLOOR_MS", "450"),
            ("ARGON2_MEMORY_KIB", "65536"),
            ("ARGON2_ITERATIONS", "3"),
            ("ARGON2_PARALLELISM", "2"),
        ])
        .expect("valid config");
        assert_eq!(raised.enumeration_floor, Duration::from_millis(450));
        assert_eq!(raised.password_cost, PasswordCost::new(65_536, 3, 2).expect("valid"));
        for cheap in [
            ("ENUMERATION_FLOOR_MS", "0"),
            ("ARGON2_MEMORY_KIB", "8"),
            ("ARGON2_ITERATIONS", "1"),
            ("ARGON2_PARALLELISM", "0"),
            ("ARGON2_ITERATIONS", "two"),
        ] {
            assert!(matches!(with(&[cheap]), Err(ConfigError::Invalid { .. })), "{cheap:?} must be refused");
        }
    }

    #[test]
    fn names_the_secret_and_never_takes_its_value() {
        let config = Config::from_lookup(lookup(&BASE)).expect("valid config");
        assert_eq!(
            config.master_secret,
            MasterSecretId { secret_id: "portico/master-secret".into(), version_id: None }
        );
        let vars: Vec<_> = BASE.iter().copied().chain([("PORTICO_SECRET_VERSION", "v-2")]).collect();
        let pinned = Config::from_lookup(lookup(&vars)).expect("valid config");
        assert_eq!(pinned.master_secret.version_id.as_deref(), Some("v-2"));

        let missing = Config::from_lookup(lookup(&BASE[..3])).unwrap_err();
        assert!(matches!(missing, ConfigError::Missing("PORTICO_SECRET_ID")));
        let vars: Vec<_> =
            BASE.iter().copied().chain([("PORTICO_SECRET", "0123456789abcdef0123456789abcdef")]).collect();
        let plain = Config::from_lookup(lookup(&vars)).unwrap_err();
        assert!(matches!(plain, ConfigError::Invalid { name: "PORTICO_SECRET", .. }), "{plain}");
    }
}
