//! Accounts of customers and staff, their states, and who may sign in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;

use super::contact::{Email, Phone};
use super::locale::Locale;

/// Account states of SPEC §1: `pending_verification` → `pending_approval` → `active`,
/// plus `rejected` and `disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    PendingVerification,
    PendingApproval,
    Active,
    Rejected,
    Disabled,
}

impl AccountStatus {
    pub const ALL: [AccountStatus; 5] =
        [Self::PendingVerification, Self::PendingApproval, Self::Active, Self::Rejected, Self::Disabled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingVerification => "pending_verification",
            Self::PendingApproval => "pending_approval",
            Self::Active => "active",
            Self::Rejected => "rejected",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == input)
    }

    /// Why an account in this state may not sign in, after its password was checked.
    pub fn sign_in_refusal(self) -> Option<SignInRefusal> {
        match self {
            Self::Active => None,
            Self::PendingVerification => Some(SignInRefusal::EmailNotVerified),
            Self::PendingApproval => Some(SignInRefusal::ApprovalPending),
            Self::Rejected => Some(SignInRefusal::AccountRejected),
            Self::Disabled => Some(SignInRefusal::AccountDisabled),
        }
    }
}

/// Reasons a correct password still does not sign in. Told only after the password matched,
/// so they reveal nothing to someone who does not know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    EmailNotVerified,
    ApprovalPending,
    AccountRejected,
    AccountDisabled,
}

impl SignInRefusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::EmailNotVerified => "email_not_verified",
            Self::ApprovalPending => "approval_pending",
            Self::AccountRejected => "account_rejected",
            Self::AccountDisabled => "account_disabled",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::EmailNotVerified => "Confirm your e-mail address first; we have sent you a code.",
            Self::ApprovalPending => "Your account is waiting for approval by an administrator.",
            Self::AccountRejected => "Your registration was not approved.",
            Self::AccountDisabled => "This account is disabled.",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    Person,
    Company,
}

/// Customers use the portal; staff use the CRM and the admin page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Customer,
    Staff,
}

impl AccountKind {
    /// As stored (the serde name), for conditions on the `kind` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Staff => "staff",
        }
    }
}

/// An argon2id PHC string. Its `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: Ulid,
    pub kind: AccountKind,
    pub email: Email,
    pub password_hash: PasswordHash,
    pub name: String,
    pub account_type: AccountType,
    pub company_name: Option<String>,
    pub phone: Option<Phone>,
    pub locale: Locale,
    pub status: AccountStatus,
    pub email_verified: bool,
    /// Decided at registration from the policy then in force, so a later policy change does
    /// not strand accounts half-way.
    pub requires_approval: bool,
    pub rejection_reason: Option<String>,
    /// Staff role ids; empty for customers.
    pub roles: Vec<String>,
    /// Projects a staff member works in (they see those projects' contact fields).
    pub projects: Vec<Ulid>,
    /// Ids of labels attached to this customer.
    pub labels: Vec<Ulid>,
    /// Raised by every credential change; trusted devices and sessions of older versions stop working.
    pub trust_version: u64,
    /// The `contacts` record a customer is linked to once active (what the portal shows them).
    pub contact_id: Option<Ulid>,
    /// The customer's lifecycle stage (its built-in label is among `labels`).
    pub lifecycle: Option<super::lifecycle::Stage>,
    /// The last sign-in, or change by a person to the customer's contact or its records.
    pub last_activity_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Account {
    /// A new staff member: active and verified at once (an administrator vouches for them).
    pub fn new_staff(
        email: Email,
        name: String,
        password_hash: PasswordHash,
        roles: Vec<String>,
        projects: Vec<Ulid>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Ulid::generate(),
            kind: AccountKind::Staff,
            email,
            password_hash,
            name,
            account_type: AccountType::Person,
            company_name: None,
            phone: None,
            locale: Locale::En,
            status: AccountStatus::Active,
            email_verified: true,
            requires_approval: false,
            rejection_reason: None,
            roles,
            projects,
            labels: Vec::new(),
            trust_version: 0,
            contact_id: None,
            lifecycle: None,
            last_activity_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// What sign-in needs about an account, kept under its e-mail address so that one read by
/// address finds it. Every write that changes these fields changes them on the account too,
/// in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub account_id: Ulid,
    pub kind: AccountKind,
    pub status: AccountStatus,
    pub password_hash: PasswordHash,
    pub roles: Vec<String>,
    pub projects: Vec<Ulid>,
    pub trust_version: u64,
    /// "Not me" was reported: the password is refused until a reset sets a new one.
    pub password_reset_required: bool,
}
