//! `X-Device-Id`: the client's stable random device id, and a readable label for the device.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use crate::domain::signin::is_valid_device_id;
use crate::error::ApiError;

pub const DEVICE_ID_HEADER: &str = "x-device-id";
const MAX_LABEL_CHARS: usize = 120;

/// A well-formed `X-Device-Id` (22–64 URL-safe characters); anything else is 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(pub String);

fn invalid() -> ApiError {
    ApiError::bad_request(
        "invalid_device_id",
        "Send X-Device-Id: a random id of 22 to 64 URL-safe characters.",
    )
}

impl<S: Send + Sync> FromRequestParts<S> for DeviceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <Self as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await?.ok_or_else(invalid)
    }
}

/// Absent is fine (`None`); present but malformed is still 400.
impl<S: Send + Sync> OptionalFromRequestParts<S> for DeviceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        let Some(value) = parts.headers.get(DEVICE_ID_HEADER) else { return Ok(None) };
        match value.to_str() {
            Ok(id) if is_valid_device_id(id) => Ok(Some(Self(id.to_owned()))),
            _ => Err(invalid()),
        }
    }
}

/// The user agent, shortened, so people can recognise a device in mails and device lists.
pub fn device_label(headers: &HeaderMap) -> String {
    let agent = headers.get(USER_AGENT).and_then(|value| value.to_str().ok()).unwrap_or("unknown device");
    let label: String = agent.chars().filter(|c| !c.is_control()).take(MAX_LABEL_CHARS).collect();
    if label.trim().is_empty() { "unknown device".into() } else { label }
}
