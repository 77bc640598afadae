//! The agent's side of an OTP-guarded change: read the challenge a `PATCH` answered with,
//! have its code sent (manual rules) or sent again, and verify the code the customer gives.
//! Only the agent who asked sees or answers a challenge; anyone else gets 404.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use portico::domain::otp::Channel;
use portico::error::Problem;
use portico::http::json::parse_json;
use portico::http::{ApiJson, Staff};
use portico::records::otp::{self, ChallengeView, SendKind, Verified};
use portico::{ApiError, AppState};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// One of the challenge's `channels`; default: the first.
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// Send and resend, whose body is optional: none, or `{"channel": …}`.
async fn send_as(
    state: &AppState,
    agent: ulid::Ulid,
    id: &str,
    body: &[u8],
    kind: SendKind,
) -> Result<Json<ChallengeView>, ApiError> {
    let request =
        if body.iter().all(u8::is_ascii_whitespace) { SendRequest::default() } else { parse_json(body)? };
    Ok(Json(otp::send(state, agent, id, request.channel, kind).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OtpCode)]
pub struct VerifyRequest {
    /// The code the customer received.
    #[schema(pattern = "^[0-9A-Za-z]{4,10}$")]
    pub code: String,
}

#[utoipa::path(get, path = "/otp/challenges/{id}", tag = "otp", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ChallengeView, description = "Status, tries and resends left, the last send; never the code"),
        (status = 404, body = Problem, description = "No such challenge, or another agent's")))]
pub async fn get_challenge(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path(id): Path<String>,
) -> Result<Json<ChallengeView>, ApiError> {
    Ok(Json(otp::status(&state, claims.sub, &id).await?))
}

#[utoipa::path(post, path = "/otp/challenges/{id}/send", tag = "otp", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = SendRequest,
    responses((status = 200, body = ChallengeView, description = "The first code of a manual challenge is sent"),
        (status = 400, body = Problem, description = "`validation_failed`: no recipient for that channel"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`otp_already_sent` (use resend), `otp_used`"),
        (status = 429, body = Problem, description = "`rate_limited`: 30 s between codes of a challenge, 5 codes per recipient per 10 minutes"),
        (status = 502, body = Problem, description = "`otp_delivery_failed`: the provider refused the send; the challenge stays resendable")))]
pub async fn send_code(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ChallengeView>, ApiError> {
    send_as(&state, claims.sub, &id, &body, SendKind::First).await
}

#[utoipa::path(post, path = "/otp/challenges/{id}/resend", tag = "otp", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = SendRequest,
    responses((status = 200, body = ChallengeView, description = "A new code is sent; the old one no longer works"),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`otp_resends_exhausted` (waiting does not help), `otp_not_sent`, `otp_used`"),
        (status = 429, body = Problem, description = "`rate_limited`, with Retry-After"),
        (status = 502, body = Problem, description = "`otp_delivery_failed`")))]
pub async fn resend_code(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ChallengeView>, ApiError> {
    send_as(&state, claims.sub, &id, &body, SendKind::Resend).await
}

#[utoipa::path(post, path = "/otp/challenges/{id}/verify", tag = "otp", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = VerifyRequest,
    responses((status = 200, body = Verified, description = "The change is applied (`origin: otp:<challenge id>`); the challenge is spent"),
        (status = 400, body = Problem, description = "`validation_failed`: not a code"),
        (status = 404, body = Problem, description = "No such challenge, another agent's, or a record no longer in reach"),
        (status = 409, body = Problem, description = "`otp_used`, `otp_not_sent`, `value_taken`"),
        (status = 410, body = Problem, description = "`otp_expired`"),
        (status = 412, body = Problem, description = "`version_mismatch`: the record changed since the change was asked"),
        (status = 422, body = Problem, description = "`otp_invalid`, with `attempts_left`"),
        (status = 423, body = Problem, description = "`otp_locked`: too many wrong codes")))]
pub async fn verify_code(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<Json<Verified>, ApiError> {
    Ok(Json(otp::verify(&state, &claims, &id, &request.code).await?))
}
