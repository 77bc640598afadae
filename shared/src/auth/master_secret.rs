//! The master secret, read once per cold start from Secrets Manager (`GetSecretValue`), so its
//! value is never in the function's environment, where `lambda:GetFunctionConfiguration` would
//! show it. Locally and in tests the same call goes to moto.
//!
//! The read is bounded like every AWS call (the `SdkConfig`'s timeouts: `app::aws_timeouts` on
//! Lambda), and a failure names the secret and what went wrong, never the value.

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

use crate::config::MasterSecretId;

/// The master secret must carry at least 256 bits; every key Portico uses is derived from it.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Error)]
pub enum MasterSecretError {
    /// Secrets Manager answered with an error (no such secret or version, access denied, …).
    #[error("the master secret {secret_id} could not be read: {code}: {message}")]
    Refused { secret_id: String, code: String, message: String },
    /// No answer within the bound, or no connection.
    #[error("the master secret {secret_id} could not be read: Secrets Manager {what}")]
    Unavailable { secret_id: String, what: &'static str },
    /// It was read but cannot be Portico's master secret.
    #[error("the master secret {secret_id} is unusable: {reason}")]
    Unusable { secret_id: String, reason: String },
}

/// Reads the secret `id` names with the settings of `sdk` (its endpoint, credentials and timeouts).
pub async fn read(sdk: &SdkConfig, id: &MasterSecretId) -> Result<SecretString, MasterSecretError> {
    let secret_id = || id.secret_id.clone();
    let answer = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(&id.secret_id)
        .set_version_id(id.version_id.clone())
        .send()
        .await
        .map_err(|error| match &error {
            SdkError::ServiceError(service) => MasterSecretError::Refused {
                secret_id: secret_id(),
                code: service.err().code().unwrap_or("unknown").to_owned(),
                message: service.err().message().unwrap_or_default().to_owned(),
            },
            SdkError::TimeoutError(_) => {
                MasterSecretError::Unavailable { secret_id: secret_id(), what: "did not answer in time" }
            }
            SdkError::DispatchFailure(_) => {
                MasterSecretError::Unavailable { secret_id: secret_id(), what: "could not be reached" }
            }
            _ => MasterSecretError::Unavailable { secret_id: secret_id(), what: "sent no usable answer" },
        })?;
    let value = answer.secret_string.map(SecretString::from).ok_or_else(|| MasterSecretError::Unusable {
        secret_id: secret_id(),
        reason: "it holds no text (SecretString)".into(),
    })?;
    check(&value).map_err(|reason| MasterSecretError::Unusable { secret_id: secret_id(), reason })?;
    Ok(value)
}

/// A usable master secret: at least [`MIN_SECRET_BYTES`] bytes, not padded with blanks (a
/// pasted newline would silently become part of every key).
fn check(value: &SecretString) -> Result<(), String> {
    let text = value.expose_secret();
    if text.len() < MIN_SECRET_BYTES {
        return Err(format!("it is shorter than {MIN_SECRET_BYTES} bytes"));
    }
    if text.trim() != text {
        return Err("it starts or ends with white space".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_short_or_padded_values() {
        assert!(check(&SecretString::from("0123456789abcdef0123456789abcdef")).is_ok());
        assert!(check(&SecretString::from("too-short")).is_err());
        assert!(check(&SecretString::from("0123456789abcdef0123456789abcdef\n")).is_err());
    }

    #[test]
    fn errors_name_the_secret_not_its_value() {
        let error = MasterSecretError::Unusable {
            secret_id: "portico/master-secret".into(),
            reason: check(&SecretString::from("hunter2")).unwrap_err(),
        };
        let text = error.to_string();
        assert!(text.contains("portico/master-secret") && text.contains("shorter than 32 bytes"), "{text}");
        assert!(!text.contains("hunter2") && !format!("{error:?}").contains("hunter2"));
    }
}
