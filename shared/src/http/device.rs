//! `X-Device-Id`: the client's stable random device id, and a readable label for the device.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use crate::domain::signin::is_valid_device_id;
use crate::error::ApiError;

pub const DEVICE_ID_HEADER: &str = "x-device-id";
/// The label of a device whose User-Agent names no browser or system woothee knows.
pub const UNKNOWN_DEVICE: &str = "unknown device";

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

/// The browser and system of the request's User-Agent ("Firefox 128 on Windows"), so people
/// can recognise a device in mails and device lists.
pub fn device_label(headers: &HeaderMap) -> String {
    describe_user_agent(headers.get(USER_AGENT).and_then(|value| value.to_str().ok()).unwrap_or_default())
}

/// "Browser major-version on system", parsed by woothee (Project Woothee's dataset: a few dozen
/// regexes, each compiled at its first use, about 7 µs a parse). Only names from its dataset
/// and version digits come through, never the header's own text: whoever signs in chooses it,
/// and the label goes into mail sent to the account's owner.
pub fn describe_user_agent(agent: &str) -> String {
    let Some(parsed) = woothee::parser::Parser::new().parse(agent) else { return UNKNOWN_DEVICE.into() };
    let known = |name: &str| !name.is_empty() && name != woothee::woothee::VALUE_UNKNOWN;
    let browser = known(parsed.name).then(|| match major_version(parsed.version) {
        Some(major) => format!("{} {major}", browser_name(parsed.name)),
        None => browser_name(parsed.name).to_owned(),
    });
    let system = known(parsed.os).then(|| system_name(parsed.os, &parsed.os_version));
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser,
        (None, Some(system)) => format!("Unknown browser on {system}"),
        (None, None) => UNKNOWN_DEVICE.into(),
    }
}

/// The leading number of a version ("128" of "128.0.1"), if it is one.
fn major_version(version: &str) -> Option<&str> {
    let major = version.split('.').next().unwrap_or_default();
    (!major.is_empty() && major.len() <= 4 && major.bytes().all(|b| b.is_ascii_digit())).then_some(major)
}

fn browser_name(name: &str) -> &str {
    match name {
        "SamsungBrowser" => "Samsung Internet",
        other => other,
    }
}

/// The system as people call it. Windows 10 and 11 both send "Windows NT 10.0", and every
/// macOS since 11 sends "Mac OS X 10_15_7", so neither gets a version; Android's is real.
fn system_name(os: &str, os_version: &str) -> String {
    match os {
        "Windows 10" => "Windows".into(),
        "Mac OSX" => "macOS".into(),
        "Android" => match major_version(os_version) {
            Some(major) => format!("Android {major}"),
            None => "Android".into(),
        },
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// User-Agent strings as current browsers send them.
    #[test]
    fn names_browser_and_system_of_real_user_agents() {
        for (agent, label) in [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox 128 on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/126.0.0.0 Safari/537.36",
                "Chrome 126 on macOS",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                 Version/17.5 Safari/605.1.15",
                "Safari 17 on macOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
                "Edge 126 on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                 Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari 17 on iPhone",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/126.0.6478.122 Mobile Safari/537.36",
                "Chrome 126 on Android 14",
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) \
                 SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
                "Samsung Internet 25 on Android 13",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
                "Firefox 127 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
                "Internet Explorer 11 on Windows 7",
            ),
        ] {
            assert_eq!(describe_user_agent(agent), label, "{agent}");
        }
    }

    /// Text anyone can put in the header never reaches the label: only the dataset's names and
    /// version digits do.
    #[test]
    fn never_passes_on_the_header_text() {
        for agent in [
            "",
            "curl/8.5.0",
            "Click http://phish.example/login to keep your account",
            "Mozilla/5.0 (Windows NT 10.0) Firefox/128.0<script>alert(1)</script> visit phish.example",
            "Mozilla/5.0 (Linux; Android 14evil.example; x) Chrome/126.0 Mobile Safari/537.36",
            "DoCoMo/2.0 phish.example(c100;TB;W24H16)",
        ] {
            let label = describe_user_agent(agent);
            assert!(
                !label.contains("phish")
                    && !label.contains("evil")
                    && !label.contains('<')
                    && !label.contains("http"),
                "{agent:?} → {label:?}"
            );
        }
        assert_eq!(describe_user_agent(""), UNKNOWN_DEVICE);
    }
}
