//! OTP-guarded record changes (SPEC §3, issue 14): a change an OTP rule holds back opens a
//! challenge; the customer's code, typed by the agent who asked, applies exactly that change.
//!
//! - **Ask** (`open`): the agent's `PATCH` tripped a rule. The same change asked again while its
//!   challenge is open answers with that challenge (no new code, no new send); anything else
//!   opens a new one, and a code goes out at once unless the rule sends on request.
//! - **Send** (`send`): a code for a challenge of a `manual` rule, or a new one (`resend`), up
//!   to the rule's resends, once per 30 s, and at most 5 per recipient per 10 minutes.
//! - **Verify** (`verify`): one try is counted before the code is compared, so parallel guesses
//!   never check more codes than the limit; the right code applies the change, spends the
//!   challenge (kept as evidence) and drops the agent's pointer, in one write set conditioned on
//!   the challenge and on the record's version.
//!
//! Codes come from the CSPRNG and are stored only as keyed hashes bound to their challenge.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Map, Value as JsonValue};
use ulid::Ulid;
use utoipa::ToSchema;

use super::{Caller, GuardedChange, Need, RecordError, RecordView, View, custom_fields};
use crate::auth::challenge::ChallengeKind;
use crate::auth::keys::HashPurpose;
use crate::criteria::{FieldSchema, Value};
use crate::domain::challenge::{Challenge, ChallengeRules, ChallengeState, CodeSpec};
use crate::domain::modules::{self, Origin, field_json};
use crate::domain::otp::{self, Channel, RecipientField, SendMode};
use crate::domain::{Email, Phone};
use crate::error::CauseChain;
use crate::notify::templates::MailTemplate;
use crate::store::otp_challenges::{OtpChallenge, OtpStatus, SPEND, SendRecord};
use crate::store::rate_limit::{RateDecision, RateLimit};
use crate::{ApiError, AppState};

/// Codes to one recipient, across challenges (Twilio Verify's limit).
const RECIPIENT_SENDS: RateLimit = RateLimit { scope: "otp-recipient", max: 5, window_secs: 600 };
/// Between two codes of one challenge.
const RESEND_INTERVAL: Duration = Duration::seconds(30);
/// Tries at the codes of one record, across challenges and agents: a new challenge (another
/// change, or after a lock) brings new codes, but no new budget of guesses.
const TRIES_PER_RECORD: RateLimit = RateLimit { scope: "otp-tries", max: 20, window_secs: 3600 };

/// A challenge as the agent sees it: never the code.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeView {
    pub challenge_id: String,
    pub module: String,
    pub record_id: String,
    /// `pending` or `verified`; `expired` and `locked` are pending challenges past their time or
    /// their tries.
    pub status: &'static str,
    /// The channel of the last send (or the one a manual send would use).
    pub channel: Channel,
    /// Where the code went, mostly hidden: `+49•••••12`, `p•••@example.com`.
    pub recipient_hint: String,
    /// The channels the challenge can send through, in the rule's order.
    pub channels: Vec<Channel>,
    #[serde(with = "crate::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
    pub send_mode: SendMode,
    pub resends_left: u32,
    pub attempts_left: u32,
    /// The last send: when, through what, and whether the provider took it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub last_send: Option<SendRecord>,
}

/// What the verify endpoint answers: the record as changed, and the spent challenge.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OtpVerified)]
pub struct Verified {
    pub record: RecordView,
    pub challenge: ChallengeView,
}

fn view_of(challenge: &Challenge, otp: &OtpChallenge, now: DateTime<Utc>) -> ChallengeView {
    let status = match (otp.status, challenge.state(now)) {
        (OtpStatus::Verified, _) => "verified",
        (OtpStatus::Pending, ChallengeState::Expired) => "expired",
        (OtpStatus::Pending, ChallengeState::Locked) => "locked",
        (OtpStatus::Pending, _) => "pending",
    };
    let (channel, recipient_hint) = match &otp.last_send {
        Some(send) => (send.channel, send.recipient_hint.clone()),
        None => otp
            .recipients
            .first()
            .map(|(channel, recipient)| (*channel, otp::recipient_hint(*channel, recipient)))
            .unwrap_or((Channel::Sms, String::new())),
    };
    ChallengeView {
        challenge_id: otp.id.to_string(),
        module: otp.module.clone(),
        record_id: otp.record_id.to_string(),
        status,
        channel,
        recipient_hint,
        channels: otp.recipients.iter().map(|(channel, _)| *channel).collect(),
        expires_at: challenge.expires_at,
        send_mode: otp.send_mode,
        resends_left: otp.resends_left(),
        attempts_left: challenge.max_attempts.saturating_sub(challenge.attempts),
        last_send: otp.last_send.clone(),
    }
}

/// The 428 that answers a guarded change: `otp_required` with the challenge.
fn required(view: ChallengeView) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_REQUIRED,
        "otp_required",
        "This change needs the customer's one-time password: verify the challenge to apply it.",
    )
    .with_extensions(view)
}

fn kind(otp: &OtpChallenge) -> Result<ChallengeKind, ApiError> {
    let code = CodeSpec::new(otp.otp.alphabet(), usize::from(otp.otp.length)).map_err(ApiError::internal)?;
    let rules = ChallengeRules {
        code,
        ttl: Duration::seconds(i64::from(otp.otp.validity_seconds)),
        max_attempts: otp.otp.max_attempts,
    };
    Ok(ChallengeKind { rules, code: HashPurpose::OtpCode, link: None })
}

/// The change as the challenge keeps it: field → JSON as the API writes it.
fn change_json(view: &View<'_>, values: &BTreeMap<String, Value>) -> Map<String, JsonValue> {
    values
        .iter()
        .map(|(field, value)| {
            let json = match (value, view.schema.field_type(field)) {
                (Value::Null, _) | (_, None) => JsonValue::Null,
                (value, Some(field_type)) => field_json(field_type, value),
            };
            (field.clone(), json)
        })
        .collect()
}

/// Answers a change `RecordError::OtpRequired` held back: the open challenge for the same
/// change, or a new one (sent at once in automatic mode). Always an error response: 428 with
/// the challenge, or why none could be opened.
pub async fn open(state: &AppState, view: &View<'_>, guarded: GuardedChange) -> ApiError {
    match open_challenge(state, view, guarded).await {
        Ok(challenge) => required(challenge),
        Err(error) => error,
    }
}

async fn open_challenge(
    state: &AppState,
    view: &View<'_>,
    guarded: GuardedChange,
) -> Result<ChallengeView, ApiError> {
    let store = &state.store;
    let module = view.module();
    let Some(agent) = view.caller.account_id() else {
        return Err(RecordError::OtpRequired(Box::new(guarded)).into());
    };
    let now = crate::time::now();
    let change = change_json(view, &guarded.values);
    let record = &guarded.record;
    let pointer = store.open_otp_challenge(module.name, record.id, agent).await?;
    // The pointer's own expiry is the first code's; a resend moves the challenge's on.
    if let Some(pointer) = &pointer
        && let Some((challenge, otp)) = store.otp_challenge(pointer.challenge_id).await?
    {
        let same = otp.status == OtpStatus::Pending
            && otp.rule_id == guarded.rule_id
            && otp.unlocked_rules() == guarded.tripped
            && otp.version == record.version
            && otp.change == change
            && otp.owner_id == guarded.owner;
        if same && challenge.state(now) == ChallengeState::Open {
            return Ok(view_of(&challenge, &otp, now));
        }
    }

    let rule = &guarded.rule.definition;
    let recipients = recipients(state, &guarded).await?;
    if recipients.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp_no_recipient",
            format!(
                "The rule \"{}\" sends the code by {}, but the record has no recipient for it; fill in the customer's contact details first.",
                rule.name,
                rule.channels
                    .iter()
                    .map(|c| format!("{c:?}").to_lowercase())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ));
    }
    let mut otp = OtpChallenge {
        id: Ulid::generate(),
        rule_id: guarded.rule_id,
        unlocks: guarded.tripped.clone(),
        module: module.name.to_owned(),
        record_id: record.id,
        agent_id: agent,
        version: record.version,
        change,
        owner_id: guarded.owner,
        otp: rule.otp,
        recipients,
        locale: rule.locale,
        send_mode: rule.send_mode,
        status: OtpStatus::Pending,
        issued: 0,
        last_send: None,
        created_at: now,
        verified_at: None,
    };
    let kind = kind(&otp)?;
    // A manual challenge holds no code until the agent asks for one.
    let (challenge, code) = match rule.send_mode {
        SendMode::Automatic => {
            let issued = kind.issue(&state.keys, &otp.id.to_string(), otp.id, now);
            otp.issued = 1;
            (issued.challenge, Some(issued.code))
        }
        SendMode::Manual => (Challenge::new(kind.rules, String::new(), None, now), None),
    };
    let (channel, recipient) = otp.recipients[0].clone();
    if code.is_some() {
        limit_recipient(state, &recipient, now).await?;
        // Stored with the challenge before the send, so the 30 s between codes run from now.
        otp.last_send = Some(SendRecord {
            channel,
            recipient_hint: otp::recipient_hint(channel, &recipient),
            at: now,
            delivered: false,
        });
    }
    if !store.open_otp(&challenge, &otp, pointer.map(|p| p.challenge_id)).await? {
        return Err(ApiError::conflict(
            "conflict",
            "Another request of yours opened a challenge for this record at the same time; retry.",
        ));
    }
    tracing::info!(challenge_id = %otp.id, rule_id = %otp.rule_id, module = module.name, record_id = %record.id, agent = %agent, "otp challenge opened");
    if let Some(code) = code {
        deliver(state, &mut otp, &challenge.code_hash, channel, &recipient, &code, now).await?;
    }
    Ok(view_of(&challenge, &otp, now))
}

/// Each channel of the rule with a recipient on the record (or its contact), in order; WhatsApp
/// only where a sending number is configured. Recipients are built-in fields (rules are
/// validated so), which no role masks.
async fn recipients(state: &AppState, guarded: &GuardedChange) -> Result<Vec<(Channel, String)>, ApiError> {
    let rule = &guarded.rule;
    let contacts = modules::contacts();
    let mut contact = None;
    let mut found = Vec::new();
    for channel in &rule.definition.channels {
        if *channel == Channel::Whatsapp && !state.notifier.sends_whatsapp() {
            tracing::warn!(rule = %guarded.rule_id, "WhatsApp is not configured; the rule's other channels are used");
            continue;
        }
        let Some(field) = rule.recipients.get(channel) else { continue };
        let value = match field {
            RecipientField::Record(name) => guarded.record.fields.get(name).cloned(),
            // A rule of another module that sends to this contact's field (changing it moves
            // where that rule's codes go): the contact is the record.
            RecipientField::Contact(name) if guarded.record.module.name == "contacts" => {
                guarded.record.fields.get(name).cloned()
            }
            RecipientField::Contact(name) => {
                if contact.is_none() {
                    let id = match guarded.record.fields.get("contact_id") {
                        Some(Value::String(id)) => Ulid::from_string(id).ok(),
                        _ => None,
                    };
                    contact = Some(match id {
                        Some(id) => state.store.record(contacts, id, &contacts.fields).await?,
                        None => None,
                    });
                }
                contact.as_ref().and_then(Option::as_ref).and_then(|c| c.fields.get(name).cloned())
            }
        };
        let Some(Value::String(text)) = value else { continue };
        let usable = match channel {
            Channel::Sms | Channel::Whatsapp => Phone::parse(&text).is_ok(),
            Channel::Email => Email::parse(&text).is_ok(),
        };
        if usable {
            found.push((*channel, text));
        }
    }
    Ok(found)
}

/// Counts a send to `recipient`; 429 past 5 in 10 minutes.
async fn limit_recipient(state: &AppState, recipient: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let subject = state.keys.keyed_hash(HashPurpose::OtpRecipient, recipient);
    match state.store.hit_rate_limit(RECIPIENT_SENDS, &subject, now).await? {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after_secs } => {
            Err(ApiError::too_many_requests("codes sent to this recipient", retry_after_secs))
        }
    }
}

/// Sends `code` and records the outcome on the challenge; 502 `otp_delivery_failed` (with the
/// challenge id) when the provider refused it: the challenge stays, resendable.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    state: &AppState,
    otp: &mut OtpChallenge,
    code_hash: &str,
    channel: Channel,
    recipient: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let minutes = otp.otp.validity_seconds.div_ceil(60);
    let outcome: Result<(), String> = match channel {
        Channel::Sms => match Phone::parse(recipient) {
            Ok(phone) => state
                .notifier
                .send_sms(&phone, &otp::code_message(otp.locale, code, minutes))
                .await
                .map_err(|error| CauseChain(&error).to_string()),
            Err(_) => Err("not a phone number".into()),
        },
        Channel::Email => match Email::parse(recipient) {
            Ok(email) => {
                let mail = MailTemplate::OtpCode { code, minutes }.render(otp.locale);
                state.notifier.send_mail(&email, &mail).await.map_err(|error| CauseChain(&error).to_string())
            }
            Err(_) => Err("not an e-mail address".into()),
        },
        Channel::Whatsapp => match Phone::parse(recipient) {
            Ok(phone) => state
                .notifier
                .send_whatsapp_code(&phone, code, otp.locale)
                .await
                .map_err(|error| CauseChain(&error).to_string()),
            Err(_) => Err("not a phone number".into()),
        },
    };
    let sent = outcome.is_ok();
    let send = SendRecord {
        channel,
        recipient_hint: otp::recipient_hint(channel, recipient),
        at: now,
        delivered: sent,
    };
    state.store.record_otp_send(otp.id, code_hash, &send).await?;
    otp.last_send = Some(send);
    if sent {
        tracing::info!(challenge_id = %otp.id, channel = ?channel, "otp code sent");
        Ok(())
    } else {
        // The provider's error names no code (it never sees one back).
        let cause = outcome.err().unwrap_or_default();
        tracing::error!(challenge_id = %otp.id, channel = ?channel, %cause, "otp code not delivered");
        Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "otp_delivery_failed",
            "The code could not be sent; send it again, or through another channel.",
        )
        .with_extensions(serde_json::json!({"challenge_id": otp.id.to_string()})))
    }
}

/// The agent's challenge `id`; 404 for anyone else's, as for one that does not exist.
async fn agents_challenge(
    state: &AppState,
    agent: Ulid,
    id: &str,
) -> Result<(Challenge, OtpChallenge), ApiError> {
    let not_found = || ApiError::not_found("No such challenge.");
    let id = Ulid::from_string(id).map_err(|_| not_found())?;
    match state.store.otp_challenge(id).await? {
        Some((challenge, otp)) if otp.agent_id == agent => Ok((challenge, otp)),
        _ => Err(not_found()),
    }
}

/// `GET /otp/challenges/{id}`.
pub async fn status(state: &AppState, agent: Ulid, id: &str) -> Result<ChallengeView, ApiError> {
    let (challenge, otp) = agents_challenge(state, agent, id).await?;
    Ok(view_of(&challenge, &otp, crate::time::now()))
}

/// Whether a send asks for the first code of a manual challenge or for a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendKind {
    First,
    Resend,
}

/// `POST /otp/challenges/{id}/send` (`First`) and `/resend` (`Resend`): a new code through
/// `channel` (default: the first the challenge has), the old one dead.
pub async fn send(
    state: &AppState,
    agent: Ulid,
    id: &str,
    channel: Option<Channel>,
    send_kind: SendKind,
) -> Result<ChallengeView, ApiError> {
    let now = crate::time::now();
    let (challenge, otp) = agents_challenge(state, agent, id).await?;
    if otp.status == OtpStatus::Verified {
        return Err(used());
    }
    match send_kind {
        SendKind::First if otp.issued > 0 => {
            return Err(ApiError::conflict(
                "otp_already_sent",
                "A code was sent already; ask for a new one with resend.",
            ));
        }
        SendKind::Resend if otp.issued == 0 => {
            return Err(ApiError::conflict(
                "otp_not_sent",
                "No code was sent yet; send the first one with send.",
            ));
        }
        _ => {}
    }
    if otp.issued > otp.otp.max_resends {
        return Err(ApiError::conflict(
            "otp_resends_exhausted",
            "No new codes are left for this challenge; change the record again to start a new one.",
        ));
    }
    let (channel, recipient) = match channel {
        None => default_channel(&otp),
        Some(wanted) => otp.recipients.iter().find(|(c, _)| *c == wanted).cloned().ok_or_else(|| {
            ApiError::invalid_field("channel", "the challenge has no recipient for this channel")
        })?,
    };
    // 30 s from the last code, whichever way it went out. The stored send moves with the new
    // code (`reissue_otp` is conditioned on the hash read), so racing resends can't both pass.
    if let Some(last) = &otp.last_send {
        let wait = (last.at + RESEND_INTERVAL - now).num_seconds();
        if wait > 0 {
            return Err(ApiError::too_many_requests("codes for this challenge", wait.unsigned_abs()));
        }
    }
    limit_recipient(state, &recipient, now).await?;
    let kind = kind(&otp)?;
    let issued = kind.issue(&state.keys, &otp.id.to_string(), otp.id, now);
    let pending = SendRecord {
        channel,
        recipient_hint: otp::recipient_hint(channel, &recipient),
        at: now,
        delivered: false,
    };
    let Some(mut stored) =
        state.store.reissue_otp(&otp, &challenge.code_hash, &issued.challenge, &pending).await?
    else {
        return Err(ApiError::conflict(
            "conflict",
            "The challenge was answered or given a new code meanwhile; read it again.",
        ));
    };
    deliver(state, &mut stored, &issued.challenge.code_hash, channel, &recipient, &issued.code, now).await?;
    Ok(view_of(&issued.challenge, &stored, now))
}

/// Where a new code goes when the agent names no channel: where the last one went, unless it
/// failed or went by WhatsApp (whose delivery nobody confirms), then the next channel.
fn default_channel(otp: &OtpChallenge) -> (Channel, String) {
    let first = otp.recipients[0].clone();
    let Some(last) = &otp.last_send else { return first };
    let position = otp.recipients.iter().position(|(channel, _)| *channel == last.channel);
    let move_on = !last.delivered || last.channel == Channel::Whatsapp;
    match position {
        Some(at) if !move_on => otp.recipients[at].clone(),
        Some(at) => otp.recipients.get(at + 1).cloned().unwrap_or_else(|| otp.recipients[at].clone()),
        None => first,
    }
}

fn used() -> ApiError {
    ApiError::conflict("otp_used", "This challenge was verified already; its change is applied.")
}

/// `POST /otp/challenges/{id}/verify`: the agent's `code` for their challenge.
pub async fn verify(
    state: &AppState,
    claims: &crate::auth::AccessClaims,
    id: &str,
    code: &str,
) -> Result<Verified, ApiError> {
    let agent = claims.sub;
    let typed = code.trim();
    if !(CodeSpec::MIN_LENGTH..=CodeSpec::MAX_LENGTH).contains(&typed.chars().count())
        || !typed.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ApiError::invalid_field(
            "code",
            "must be the 4 to 10 letters or digits sent to the customer",
        ));
    }
    let challenge_id = Ulid::from_string(id).map_err(|_| ApiError::not_found("No such challenge."))?;
    let now = crate::time::now();
    let Some((challenge, otp)) = state.store.count_otp_try(challenge_id, agent, now).await? else {
        return Err(why_not_counted(state, agent, id, now).await);
    };
    // Per record, whoever tries: agents who share a record share its budget.
    let tries = format!("{}:{}", otp.module, otp.record_id);
    if let RateDecision::Limited { retry_after_secs } =
        state.store.hit_rate_limit(TRIES_PER_RECORD, &tries, now).await?
    {
        return Err(ApiError::too_many_requests("codes tried for this record", retry_after_secs));
    }
    let kind = kind(&otp)?;
    let attempts_left = challenge.max_attempts.saturating_sub(challenge.attempts);
    let matches = kind
        .read_code(typed)
        .is_ok_and(|code| kind.code_matches(&state.keys, &otp.id.to_string(), &code, &challenge));
    if !matches {
        tracing::warn!(challenge_id = %otp.id, attempts_left, "otp code wrong");
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "otp_invalid", "The code is not right.")
            .with_extensions(serde_json::json!({"attempts_left": attempts_left})));
    }

    // The agent's rights as their access token carries them, as on every records request.
    let caller = Caller::staff(claims, Origin::Otp(otp.id));
    let module = caller.module(&otp.module, Need::Write)?;
    let custom = custom_fields(&state.store, module).await?;
    let view = View::new(&caller, module, &custom);
    let values = view.parse_write(&otp.change)?;
    let spend = state.store.otp_spend(&otp, &challenge.code_hash, now)?;
    let record = match view
        .change_verified(
            &state.store,
            otp.record_id,
            otp.version,
            &values,
            otp.owner_id,
            &otp.unlocked_rules(),
            spend,
        )
        .await
    {
        Ok(record) => record,
        Err(RecordError::ItemsFailed(cancellation)) if cancellation.failed(SPEND) => {
            return Err(why_not_counted(state, agent, id, now).await);
        }
        // A concurrent verify of the same code that won has moved the record on: say so.
        Err(RecordError::VersionMismatch { current }) => {
            return Err(match agents_challenge(state, agent, id).await {
                Ok((_, stored)) if stored.status == OtpStatus::Verified => used(),
                _ => RecordError::VersionMismatch { current }.into(),
            });
        }
        Err(error) => return Err(error.into()),
    };
    tracing::info!(challenge_id = %otp.id, module = module.name, record_id = %record.id, version = record.version, agent = %agent, "otp verified; change applied");
    let spent = OtpChallenge { status: OtpStatus::Verified, verified_at: Some(now), ..otp };
    let mut challenge_view = view_of(&challenge, &spent, now);
    challenge_view.attempts_left = attempts_left;
    Ok(Verified { record: view.render(&record), challenge: challenge_view })
}

/// Why a try was not counted (or its spend did not hold): gone or not the caller's (404),
/// verified (409), never sent (409), expired (410), locked (423).
async fn why_not_counted(state: &AppState, agent: Ulid, id: &str, now: DateTime<Utc>) -> ApiError {
    let (challenge, otp) = match agents_challenge(state, agent, id).await {
        Ok(found) => found,
        Err(error) => return error,
    };
    if otp.status == OtpStatus::Verified {
        return used();
    }
    if challenge.code_hash.is_empty() {
        return ApiError::conflict("otp_not_sent", "No code was sent yet; send one first.");
    }
    match challenge.state(now) {
        ChallengeState::Expired => ApiError::new(
            StatusCode::GONE,
            "otp_expired",
            "The code has expired; ask for a new one with resend.",
        ),
        ChallengeState::Locked => ApiError::new(
            StatusCode::LOCKED,
            "otp_locked",
            "Too many wrong codes; ask for a new one with resend.",
        ),
        _ => ApiError::conflict("conflict", "The challenge changed meanwhile; try again."),
    }
}
