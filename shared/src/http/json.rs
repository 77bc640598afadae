//! JSON bodies, form bodies and query strings that fail with problem+json: 415 for a wrong
//! content type, 413 above the size cap, 400 with the offending field's path for anything
//! malformed.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// A JSON request body deserialised into `T` (whose types use `deny_unknown_fields`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers().get(header::CONTENT_TYPE)) {
            return Err(unsupported_media_type("application/json"));
        }
        parse_json(&body_bytes(request, state).await?).map(Self)
    }
}

/// A form body (`application/x-www-form-urlencoded`, as a link page's button posts it)
/// deserialised into `T`, failing like `ApiJson`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiForm<T>(pub T);

impl<S, T> FromRequest<S> for ApiForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let essence = media_type(request.headers().get(header::CONTENT_TYPE));
        if essence.as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(unsupported_media_type("application/x-www-form-urlencoded"));
        }
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(payload_too_large()),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid_form",
                format!("The form is invalid: {}.", rejection.body_text()),
            )),
        }
    }
}

fn unsupported_media_type(expected: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("Send the body as {expected}."),
    )
}

/// The body, up to the router's cap (413 above it).
async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            payload_too_large()
        } else {
            ApiError::bad_request("unreadable_body", "The request body could not be read.")
        }
    })
}

fn payload_too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is too large.")
}

/// A content type's essence (`application/json` of `Application/JSON; charset=utf-8`).
fn media_type(content_type: Option<&header::HeaderValue>) -> Option<String> {
    let value = content_type.and_then(|value| value.to_str().ok())?;
    Some(value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(essence) = media_type(content_type) else { return false };
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses `bytes` as `T`, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body Portico takes is an object, but serde also reads a struct from an array of its
    // fields in order (`[null, null]`): no client means that, and the document does not allow it.
    if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::validation(vec![FieldError::new("body", "must be a JSON object")]));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = match result {
        Ok(value) => value,
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Data => ApiError::validation(vec![field_error(&path, &inner)]),
                _ => ApiError::bad_request("malformed_json", format!("The body is not valid JSON: {inner}.")),
            });
        }
    };
    deserializer.end().map_err(|error| {
        ApiError::bad_request("malformed_json", format!("The body is not valid JSON: {error}."))
    })?;
    Ok(value)
}

/// Turns a serde data error into `{field, message}`.
fn field_error(path: &str, error: &serde_json::Error) -> FieldError {
    let full = error.to_string();
    let location = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&location).unwrap_or(&full).to_owned();
    let parent = if path == "." { "" } else { path };
    // The path of a missing field is its parent object; name the field itself.
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    let field = match (missing, parent) {
        (Some(name), "") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "") => "body".to_owned(),
        (None, parent) => parent.to_owned(),
    };
    FieldError::new(field, message)
}

/// A query string deserialised into `T`; failures are 400 problem+json.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_from_str(query).map(Self)
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::bad_request("invalid_query", "The query string is malformed."))?,
    )
    .map(|axum::extract::Query(value)| value)
    .map_err(|rejection| {
        ApiError::bad_request(
            "invalid_query",
            format!("The query string is invalid: {}.", rejection.body_text()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        age: u8,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        colour: String,
    }

    fn fields(json: &str) -> Vec<FieldError> {
        parse_json::<Body>(json.as_bytes()).map(|_| Vec::new()).unwrap_or_else(|e| e.fields().to_vec())
    }

    #[test]
    fn names_missing_unknown_and_mistyped_fields() {
        assert_eq!(fields(r#"{"name":"a"}"#)[0].field, "age");
        assert_eq!(fields(r#"{"name":"a","age":1,"extra":true}"#)[0].field, "extra");
        assert_eq!(fields(r#"{"name":"a","age":"x"}"#)[0].field, "age");
        assert_eq!(fields(r#"{"name":"a","age":1,"inner":{"hue":"x"}}"#)[0].field, "inner.hue");
        assert!(!fields(r#"{"name":"a","age":300}"#)[0].message.contains("line"));
    }

    #[test]
    fn a_body_is_an_object_never_an_array_of_its_fields() {
        assert!(parse_json::<Body>(br#"{"name":"a","age":1,"inner":null}"#).is_ok());
        assert_eq!(fields(r#" ["a", 1, null]"#)[0].field, "body");
    }

    #[test]
    fn malformed_json_is_its_own_code() {
        let error = parse_json::<Body>(b"{\"name\":").unwrap_err();
        assert_eq!(error.code(), "malformed_json");
        let trailing = parse_json::<Body>(br#"{"name":"a","age":1} {}"#).unwrap_err();
        assert_eq!(trailing.code(), "malformed_json");
    }

    #[test]
    fn json_content_types() {
        let value = |s: &'static str| header::HeaderValue::from_static(s);
        assert!(is_json(Some(&value("application/json"))));
        assert!(is_json(Some(&value("Application/JSON; charset=utf-8"))));
        assert!(is_json(Some(&value("application/merge-patch+json"))));
        assert!(!is_json(Some(&value("text/plain"))));
        assert!(!is_json(None));
    }
}
