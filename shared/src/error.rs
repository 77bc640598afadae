//! `ApiError`: the one error every handler returns, rendered as RFC 9457 problem+json.
//!
//! Client errors carry a safe message and a stable `code`; server errors keep their cause as
//! `source` for the log and render a generic body, so nothing internal reaches a client.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One invalid input field: a JSON path (`company_name`, `rows[3].email`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// The problem+json body (RFC 9457) with Portico's extension members `code` and `errors`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:portico:problem:<code>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable error code.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Members a problem type adds (`challenge_id`, `attempts_left` …), documented per code.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    fields: Vec<FieldError>,
    retry_after_secs: Option<u64>,
    /// Boxed: most problems have none, and every `Result<_, ApiError>` carries the size.
    extensions: Option<Box<serde_json::Map<String, serde_json::Value>>>,
    #[source]
    source: Option<BoxError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after_secs: None,
            extensions: None,
            source: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 400 `validation_failed` with the list of offending fields.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        Self { fields, ..Self::bad_request("validation_failed", "The request has invalid fields.") }
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn unauthorized(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 403 `forbidden`: the caller's roles don't allow this.
    pub fn not_permitted() -> Self {
        Self::forbidden("forbidden", "Your role does not allow this.")
    }

    /// A cursor that was altered, or belongs to another list.
    pub fn invalid_cursor() -> Self {
        Self::bad_request("invalid_cursor", "The cursor is invalid; start again without it.")
    }

    /// 409 `value_taken`: another record holds this unique field's value. The value itself is
    /// never echoed, as it may be masked for the caller.
    pub fn value_taken(field: &str) -> Self {
        Self {
            fields: vec![FieldError::new(format!("fields.{field}"), "another record has this value")],
            ..Self::conflict("value_taken", format!("Another record has this value for {field}."))
        }
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 412 `version_mismatch`: the resource changed since the version the caller sent.
    pub fn version_mismatch(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, "version_mismatch", message)
    }

    /// 429 naming what is limited (`"new-device mails to this account"`), with Retry-After.
    pub fn too_many_requests(what: &str, retry_after_secs: u64) -> Self {
        let retry_after_secs = retry_after_secs.max(1);
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("Too many {what}; try again in {retry_after_secs} s."),
            )
        }
    }

    /// 503: a dependency is throttling or unreachable; the client may retry.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self {
            source: Some(source.into()),
            retry_after_secs: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The service is busy; try again shortly.",
            )
        }
    }

    /// 500: the cause goes to the log only.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "An internal error occurred.")
        }
    }

    /// The same problem with extension members beside `code` (an object's members; anything
    /// else is ignored). Members named like the standard ones are dropped, not overwritten.
    pub fn with_extensions(mut self, members: impl serde::Serialize) -> Self {
        if let Ok(serde_json::Value::Object(members)) = serde_json::to_value(members) {
            const RESERVED: [&str; 6] = ["type", "title", "status", "detail", "code", "errors"];
            self.extensions
                .get_or_insert_default()
                .extend(members.into_iter().filter(|(name, _)| !RESERVED.contains(&name.as_str())));
        }
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }

    /// What the problem says to the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:portico:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.message.to_string(),
            code: self.code.to_owned(),
            errors: self.fields.clone(),
            extensions: self.extensions.as_deref().cloned().unwrap_or_default(),
        }
    }

    fn log(&self) {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), code = self.code, cause = %CauseChain(self), "request failed");
        } else {
            tracing::warn!(status = self.status.as_u16(), code = self.code, detail = %self.message, "request refused");
        }
    }
}

/// Displays an error with every `source()` below it, for the log.
pub(crate) struct CauseChain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for CauseChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            write!(f, ": {cause}")?;
            next = cause.source();
        }
        Ok(())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Fallback for unknown routes, so even a typo in a path gets problem+json.
pub async fn route_not_found() -> ApiError {
    ApiError::not_found("No such route.")
}

/// Fallback for a known path with a method it does not serve.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This route does not accept that method.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_sit_beside_the_standard_members_and_never_replace_them() {
        let error = ApiError::conflict("otp_used", "Used.")
            .with_extensions(serde_json::json!({"challenge_id": "c1", "code": "forged", "status": 200}))
            .with_extensions(serde_json::json!({"attempts_left": 2}))
            .with_extensions("not an object");
        let problem = serde_json::to_value(error.problem()).expect("json");
        assert_eq!(problem["code"], "otp_used");
        assert_eq!(problem["status"], 409);
        assert_eq!(
            (problem["challenge_id"].as_str(), problem["attempts_left"].as_u64()),
            (Some("c1"), Some(2))
        );
        let plain = serde_json::to_value(ApiError::not_found("No.").problem()).expect("json");
        assert_eq!(plain.as_object().map(|o| o.len()), Some(5), "{plain}");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let error = ApiError::internal(std::io::Error::other("table secret-table missing"));
        let problem = error.problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret-table"));
        assert!(CauseChain(&error).to_string().contains("secret-table"));
    }

    #[test]
    fn validation_lists_fields() {
        let problem = ApiError::invalid_field("email", "is not an e-mail address").problem();
        assert_eq!(problem.code, "validation_failed");
        assert_eq!(problem.kind, "urn:portico:problem:validation_failed");
        assert_eq!(problem.errors, vec![FieldError::new("email", "is not an e-mail address")]);
    }

    #[test]
    fn rate_limit_sets_retry_after() {
        let error = ApiError::too_many_requests("failed sign-ins for this account", 30);
        assert_eq!(error.message(), "Too many failed sign-ins for this account; try again in 30 s.");
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "30");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    }
}
