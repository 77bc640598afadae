//! Customer registration (SPEC §1): policy, sign-up, e-mail verification and its mailed link.

mod links;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use portico::auth::challenge::{ChallengeKind, Issued};
use portico::auth::keys::HashPurpose;
use portico::domain::challenge::{self, Answered, Challenge, ChallengeState};
use portico::domain::password::check_new_password;
use portico::domain::policy::{RegistrationStep, status_after_verification};
use portico::domain::{
    Account, AccountKind, AccountStatus, AccountType, ApprovalMode, Email, Locale, Phone, RegistrationPolicy,
    VerificationMode,
};
use portico::error::{FieldError, Problem};
use portico::http::device::device_label;
use portico::http::page::LinkKind;
use portico::http::{ApiJson, ClientIp, DeviceId, pad_to};
use portico::notify::MailTemplate;
use portico::routes;
use portico::store::accounts::Registered;
use portico::store::challenges::ChallengeAt;
use portico::store::rate_limit::{Cooldown, RateDecision, RateLimit};
use portico::store::sessions::TrustedDevice;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

const MAX_NAME_CHARS: usize = 200;

/// Mail to one account unasked (resends, "someone tried to register") at most once a minute…
const ACCOUNT_MAIL_COOLDOWN: Cooldown = Cooldown { scope: "account-mail", secs: 60 };
/// Registrations mailed to one mailbox under another spelling of it (`victim+1@`) a day.
const REGISTRATION_MAIL_PER_MAILBOX: RateLimit =
    RateLimit { scope: "mailbox-registrations-1d", max: 5, window_secs: 86_400 };
/// …and ten times a day.
const ACCOUNT_MAIL_PER_DAY: RateLimit = RateLimit { scope: "account-mail-1d", max: 10, window_secs: 86_400 };

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_policy))
        .routes(routes!(register))
        .routes(routes!(verify))
        .routes(routes!(resend_verification))
        .merge(links::api())
}

/// The routes, waiting for their state: a cold start builds them while it reads the state.
pub fn routes() -> Router<AppState> {
    portico::http::with_defaults(api().split_for_parts().0)
}

pub fn router(state: AppState) -> Router {
    routes().with_state(state)
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// Which steps registration takes under the current policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicySummary {
    pub email_verification: VerificationMode,
    pub admin_approval: ApprovalMode,
    pub device_confirmation: bool,
    /// The steps for each account type, in order.
    pub steps: StepsByType,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepsByType {
    pub person: Vec<RegistrationStep>,
    pub company: Vec<RegistrationStep>,
}

#[utoipa::path(get, path = "/registrations/policy", tag = "registration",
    responses((status = 200, body = PolicySummary)))]
async fn get_policy(State(state): State<AppState>) -> Result<Json<PolicySummary>, ApiError> {
    let policy = state.registration_policy().await?;
    Ok(Json(PolicySummary {
        email_verification: policy.email_verification,
        admin_approval: policy.admin_approval,
        device_confirmation: policy.device_confirmation,
        steps: StepsByType {
            person: policy.steps(AccountType::Person),
            company: policy.steps(AccountType::Company),
        },
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 12 to 128 characters.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    /// 1 to 200 characters, no control characters or web addresses.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f][^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f]*$"
    )]
    pub name: String,
    pub account_type: AccountType,
    /// Required for `company` accounts, refused for `person`.
    pub company_name: Option<String>,
    /// E.164, e.g. `+420601234567`.
    #[schema(pattern = "^\\+[1-9][0-9]{7,14}$")]
    pub phone: Option<String>,
    /// BCP 47 tag; mails use de, cs, tr or en (the fallback).
    pub locale: Option<String>,
}

/// The same answer whether the address was new or already registered.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationAccepted {
    /// Always `received`.
    pub status: &'static str,
    pub next: Vec<RegistrationStep>,
}

/// A registration request whose every field is valid.
struct NewRegistration {
    email: Email,
    password: String,
    name: String,
    account_type: AccountType,
    company_name: Option<String>,
    phone: Option<Phone>,
    locale: Locale,
}

fn bounded_text(field: &str, value: &str, errors: &mut Vec<FieldError>) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if trimmed.chars().count() > MAX_NAME_CHARS {
        errors.push(FieldError::new(field, format!("must be at most {MAX_NAME_CHARS} characters")));
    } else if let Err(unsafe_text) = portico::domain::display_text::check_display_text(trimmed) {
        // Names go into mail sent from the company's domain.
        errors.push(FieldError::new(field, unsafe_text.to_string()));
    }
    trimmed.to_owned()
}

impl TryFrom<RegistrationRequest> for NewRegistration {
    type Error = ApiError;

    fn try_from(request: RegistrationRequest) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let email = Email::parse(&request.email)
            .map_err(|e| errors.push(FieldError::new("email", e.to_string())))
            .ok();
        if let Err(rule) = check_new_password(&request.password, &request.email) {
            errors.push(FieldError::new("password", rule.to_string()));
        }
        let name = bounded_text("name", &request.name, &mut errors);
        let company_name = match (request.account_type, request.company_name.as_deref()) {
            (AccountType::Company, Some(company)) => Some(bounded_text("company_name", company, &mut errors)),
            (AccountType::Company, None) => {
                errors.push(FieldError::new("company_name", "is required for company accounts"));
                None
            }
            (AccountType::Person, Some(_)) => {
                errors.push(FieldError::new("company_name", "is only for company accounts"));
                None
            }
            (AccountType::Person, None) => None,
        };
        let phone = request
            .phone
            .as_deref()
            .map(Phone::parse)
            .transpose()
            .map_err(|e| errors.push(FieldError::new("phone", e.to_string())))
            .ok()
            .flatten();
        match email {
            Some(email) if errors.is_empty() => Ok(Self {
                email,
                password: request.password,
                name,
                account_type: request.account_type,
                company_name,
                phone,
                locale: request.locale.as_deref().map(Locale::from_tag).unwrap_or_default(),
            }),
            _ => Err(ApiError::validation(errors)),
        }
    }
}

const VERIFICATION: ChallengeKind = ChallengeKind::EMAIL_VERIFICATION;

/// A fresh verification challenge and the secrets to mail (never stored). Codes are hashed with
/// their account: the same six digits hash differently per account; the link names the account.
fn issue_challenge(state: &AppState, account_id: Ulid, now: DateTime<Utc>) -> Issued {
    VERIFICATION.issue(&state.keys, &account_id.to_string(), account_id, now)
}

async fn send_verification_mail(state: &AppState, account: &Account, issued: &Issued) {
    let token = issued.link_token.as_deref().unwrap_or_default();
    let link = state.link(&format!("{}?token={token}", LinkKind::VerifyEmail.path()));
    let mail = MailTemplate::VerifyEmail { name: &account.name, code: &issued.code, link: &link };
    state.notifier.send_mail_logged(&account.email, &mail.render(account.locale)).await;
}

#[utoipa::path(post, path = "/registrations", tag = "registration", request_body = RegistrationRequest,
    params(("X-Device-Id" = Option<String>, Header, description = "The registering client's device id; that device is trusted for sign-in")),
    responses(
        (status = 202, body = RegistrationAccepted, description = "Received (the same for a new and an already registered address)"),
        (status = 400, body = Problem, description = "`validation_failed`; names and company names may not carry links or control characters"),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 429, body = Problem, description = "`rate_limited`: too many registrations from the source IP (20 an hour) or its network (100 an hour)")))]
async fn register(
    State(state): State<AppState>,
    device: Option<DeviceId>,
    client_ip: ClientIp,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RegistrationRequest>,
) -> Result<(StatusCode, Json<RegistrationAccepted>), ApiError> {
    let registration = NewRegistration::try_from(request)?;
    limit_registrations(&state, &client_ip).await?;
    let started = tokio::time::Instant::now();
    let result = store_registration(&state, registration, device, &headers).await;
    pad_to(started, state.config.enumeration_floor).await;
    result.map(|next| (StatusCode::ACCEPTED, Json(RegistrationAccepted { status: "received", next })))
}

/// Counts a registration against its source IP and network; 429 past either limit. Says nothing
/// about the address, so it answers before the enumeration padding.
async fn limit_registrations(state: &AppState, client_ip: &ClientIp) -> Result<(), ApiError> {
    let now = Utc::now();
    let limits = [
        (
            RateLimit {
                scope: "registrations-ip",
                max: state.config.registrations_per_ip,
                window_secs: 3600,
            },
            client_ip.0.clone(),
        ),
        (
            RateLimit {
                scope: "registrations-network",
                max: state.config.registrations_per_network,
                window_secs: 3600,
            },
            client_ip.network(),
        ),
    ];
    for (limit, subject) in limits {
        if let RateDecision::Limited { retry_after_secs } =
            state.store.hit_rate_limit(limit, &subject, now).await?
        {
            return Err(ApiError::too_many_requests("registrations from your network", retry_after_secs));
        }
    }
    Ok(())
}

/// Stores a new account (or warns the owner of an existing one) and sends the mails the policy
/// asks for; returns the steps ahead, which never depend on whether the address was taken.
async fn store_registration(
    state: &AppState,
    registration: NewRegistration,
    device: Option<DeviceId>,
    headers: &HeaderMap,
) -> Result<Vec<RegistrationStep>, ApiError> {
    let policy = state.registration_policy().await?;
    let now = Utc::now();
    let account = Account {
        id: Ulid::generate(),
        kind: AccountKind::Customer,
        password_hash: state
            .passwords
            .hash_blocking(registration.password)
            .await
            .map_err(ApiError::internal)?,
        email: registration.email,
        name: registration.name,
        account_type: registration.account_type,
        company_name: registration.company_name,
        phone: registration.phone,
        locale: registration.locale,
        status: policy.initial_status(registration.account_type),
        email_verified: false,
        requires_approval: policy.requires_approval(registration.account_type),
        rejection_reason: None,
        roles: Vec::new(),
        projects: Vec::new(),
        labels: Vec::new(),
        trust_version: 0,
        contact_id: None,
        lifecycle: None,
        last_activity_at: None,
        created_at: now,
        updated_at: now,
    };
    let issued = policy.sends_verification().then(|| issue_challenge(state, account.id, now));
    // The device that registers is the account's first trusted device.
    let first_device = device.map(|DeviceId(device)| TrustedDevice {
        device_hash: state.keys.device_hash(account.id, &device),
        label: device_label(headers),
        trust_version: account.trust_version,
        first_seen: now,
        last_seen: now,
    });
    let challenge = issued.as_ref().map(|issued| &issued.challenge);
    match state.store.create_account(&account, challenge, first_device.as_ref()).await? {
        Registered::Created => {
            tracing::info!(account_id = %account.id, status = account.status.as_str(), "account registered");
            announce_registration(state, &policy, &account, issued.as_ref()).await?;
        }
        Registered::EmailTaken => warn_existing_owner(state, &account.email).await?,
    }
    Ok(policy.steps(account.account_type))
}

/// The mails a new registration triggers under `policy`.
async fn announce_registration(
    state: &AppState,
    policy: &RegistrationPolicy,
    account: &Account,
    issued: Option<&Issued>,
) -> Result<(), ApiError> {
    // `victim+1@`, `victim+2@` … are new accounts but one mailbox: past the limit the accounts
    // are still created (the answer must not differ) and the mails are left unsent.
    // The mailbox's own spelling is never held back (its owner registering), and nothing is
    // counted when no mail would go.
    let mailbox = account.email.mailbox();
    let variant = account.email.as_str() != mailbox;
    let mails = issued.is_some() || policy.notify_on_registration;
    let mail_allowed = !(variant && mails)
        || state
            .store
            .hit_rate_limit(
                REGISTRATION_MAIL_PER_MAILBOX,
                &state.keys.keyed_hash(HashPurpose::Mailbox, &mailbox),
                Utc::now(),
            )
            .await?
            == RateDecision::Allowed;
    if !mail_allowed {
        tracing::warn!(account_id = %account.id, "registration mails to this mailbox over the daily limit: not sent");
    }
    if let Some(issued) = issued.filter(|_| mail_allowed) {
        send_verification_mail(state, account, issued).await;
    }
    if policy.notify_on_registration && mail_allowed {
        let mail = MailTemplate::RegistrationReceived {
            name: &account.name,
            awaiting_approval: account.requires_approval,
        };
        state.notifier.send_mail_logged(&account.email, &mail.render(account.locale)).await;
    }
    // Approvers are mailed from the table's stream (`functions/workflows`) once the account
    // waits: the answer's time does not grow with their number, and a retry mails no one twice.
    Ok(())
}

/// Tells the owner of an already registered address that someone tried to register it, at most
/// once a minute, instead of telling the requester anything.
async fn warn_existing_owner(state: &AppState, email: &Email) -> Result<(), ApiError> {
    let Some(owner) = state.store.account_by_email(email).await? else { return Ok(()) };
    if !may_mail_account(state, owner.id).await? {
        return Ok(());
    }
    let mail = MailTemplate::AlreadyRegistered { name: &owner.name };
    state.notifier.send_mail_logged(&owner.email, &mail.render(owner.locale)).await;
    Ok(())
}

/// Counts an unasked mail to `account_id` against both limits.
async fn may_mail_account(state: &AppState, account_id: Ulid) -> Result<bool, ApiError> {
    let now = Utc::now();
    let subject = account_id.to_string();
    let allowed = state.store.start_cooldown(ACCOUNT_MAIL_COOLDOWN, &subject, now).await?
        == RateDecision::Allowed
        && state.store.hit_rate_limit(ACCOUNT_MAIL_PER_DAY, &subject, now).await? == RateDecision::Allowed;
    if !allowed {
        tracing::info!(account_id = %account_id, "unasked mail suppressed by rate limit");
    }
    Ok(allowed)
}

/// `{email, code}` as typed by the customer, or `{token}` from the mailed link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged, expecting = "either {email, code} or {token}")]
pub enum VerifyRequest {
    Code(VerifyByCode),
    Link(VerifyByLink),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyByCode {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyByLink {
    /// The `token` of the mailed link.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    pub status: AccountStatus,
    pub email_verified: bool,
}

/// The one answer to a code that does not verify, whatever the reason: an unknown address, an
/// address already verified, a code expired, locked or wrong all read alike, so the answer tells
/// nothing about whether (or in which state) an account exists.
fn wrong_code() -> ApiError {
    ApiError::bad_request(
        "invalid_code",
        "The code is wrong, expired or used up; ask for a new one if you need to.",
    )
}

#[utoipa::path(post, path = "/registrations/verify", tag = "registration", request_body = VerifyRequest,
    responses((status = 200, body = Verified), (status = 400, body = Problem)))]
async fn verify(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<Json<Verified>, ApiError> {
    match request {
        VerifyRequest::Link(VerifyByLink { token }) => verify_link(&state, &token).await.map(Json),
        VerifyRequest::Code(VerifyByCode { email, code }) => {
            // Padded like every answer that could tell whether an address has an account.
            let started = tokio::time::Instant::now();
            let verified = verify_code(&state, &email, &code).await;
            pad_to(started, state.config.enumeration_floor).await;
            verified.map(Json)
        }
    }
}

async fn verify_code(state: &AppState, email: &str, code: &str) -> Result<Verified, ApiError> {
    let email = Email::parse(email).map_err(|e| ApiError::invalid_field("email", e.to_string()))?;
    let code = VERIFICATION.read_code(code).map_err(|message| ApiError::invalid_field("code", message))?;
    let Some(account_id) = state.store.account_id_by_email(&email).await? else { return Err(wrong_code()) };
    let (account, challenge) = state.store.account_with_email_challenge(account_id).await?;
    let Some(account) = account else { return Err(wrong_code()) };
    let challenge = open_challenge(challenge).map_err(|_| wrong_code())?;
    if !VERIFICATION.code_matches(&state.keys, &account.id.to_string(), &code, &challenge) {
        state.store.count_wrong_try(ChallengeAt::EmailVerification(account.id), &challenge).await?;
        return Err(wrong_code());
    }
    complete_verification(state, account, &challenge, Answered::Code).await
}

pub(crate) async fn verify_link(state: &AppState, token: &str) -> Result<Verified, ApiError> {
    let invalid = || ApiError::bad_request("invalid_token", "The link is invalid or no longer valid.");
    let account_id = challenge::link_token_id(token).ok_or_else(invalid)?;
    let (account, challenge) = state.store.account_with_email_challenge(account_id).await?;
    let Some(account) = account else { return Err(invalid()) };
    let challenge = open_challenge(challenge).map_err(|_| invalid())?;
    if !VERIFICATION.link_matches(&state.keys, token, &challenge) {
        return Err(invalid());
    }
    complete_verification(state, account, &challenge, Answered::Link).await
}

/// The account's challenge (read with the account) if it can still be answered; otherwise
/// the state it is in (the callers answer all of them alike).
fn open_challenge(challenge: Option<Challenge>) -> Result<Challenge, ChallengeState> {
    match (ChallengeState::of(challenge.as_ref(), Utc::now()), challenge) {
        (ChallengeState::Open, Some(challenge)) => Ok(challenge),
        (ChallengeState::Open, None) => Err(ChallengeState::Spent),
        (state, _) => Err(state),
    }
}

async fn complete_verification(
    state: &AppState,
    account: Account,
    challenge: &Challenge,
    answered: Answered,
) -> Result<Verified, ApiError> {
    let next = status_after_verification(account.status, account.requires_approval);
    if !state.store.confirm_email(&account, challenge, answered, next, Utc::now()).await? {
        return Err(wrong_code());
    }
    tracing::info!(account_id = %account.id, status = next.as_str(), "e-mail verified");
    if next == AccountStatus::Active && account.status != next {
        let active = Account { status: next, email_verified: true, ..account.clone() };
        portico::records::portal::link_logged(&state.store, &active, None).await;
    }
    Ok(Verified { status: next, email_verified: true })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

#[utoipa::path(post, path = "/registrations/verify/resend", tag = "registration", request_body = ResendRequest,
    responses((status = 202, description = "Always accepted; a mail goes out only to an unverified account, at most once a minute")))]
async fn resend_verification(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ResendRequest>,
) -> Result<StatusCode, ApiError> {
    let email = Email::parse(&request.email).map_err(|e| ApiError::invalid_field("email", e.to_string()))?;
    // Padded: whether a mail went out must not show in the time the answer takes.
    let started = tokio::time::Instant::now();
    let resent = resend_to(&state, &email).await;
    pad_to(started, state.config.enumeration_floor).await;
    resent.map(|()| StatusCode::ACCEPTED)
}

/// Mails a new code to `email` if it belongs to an account still waiting for one.
async fn resend_to(state: &AppState, email: &Email) -> Result<(), ApiError> {
    let Some(account) = state.store.account_by_email(email).await? else { return Ok(()) };
    let waiting = !account.email_verified
        && matches!(
            account.status,
            AccountStatus::PendingVerification | AccountStatus::PendingApproval | AccountStatus::Active
        );
    if waiting && may_mail_account(state, account.id).await? {
        let issued = issue_challenge(state, account.id, Utc::now());
        state.store.put_email_challenge(account.id, &issued.challenge).await?;
        send_verification_mail(state, &account, &issued).await;
    }
    Ok(())
}
