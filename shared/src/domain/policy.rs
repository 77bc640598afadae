//! The registration policy (SPEC §1) and the decisions it drives.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::{AccountStatus, AccountType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// No approval: accounts become active by themselves.
    None,
    /// Every account waits for an admin.
    All,
    /// Only `account_type = company` waits for an admin.
    Companies,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationMode {
    /// No sign-in until the mailed code or link is confirmed.
    Required,
    /// A code is mailed; sign-in works meanwhile and the account shows as unverified.
    Optional,
    /// No verification mail.
    None,
}

/// The admin-editable registration policy document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationPolicy {
    /// Mail the customer a confirmation after registering.
    pub notify_on_registration: bool,
    pub admin_approval: ApprovalMode,
    /// Signing in from a device not used before needs confirmation by e-mail.
    pub device_confirmation: bool,
    pub email_verification: VerificationMode,
    /// Mail staff who may approve when an account waits for approval.
    #[serde(default = "default_true")]
    pub notify_admins: bool,
    /// Keep the lifecycle labels Lead → Prospect → Customer automatically.
    #[serde(default)]
    pub auto_lifecycle: bool,
    /// Keep the account's trusted devices when its password is reset by mail. Off by default:
    /// a reset often follows a compromise, so every device must confirm again.
    #[serde(default)]
    pub keep_devices_on_password_reset: bool,
}

fn default_true() -> bool {
    true
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            notify_on_registration: true,
            admin_approval: ApprovalMode::None,
            device_confirmation: false,
            email_verification: VerificationMode::Required,
            notify_admins: true,
            auto_lifecycle: false,
            keep_devices_on_password_reset: false,
        }
    }
}

/// What a newly registered customer has to do next, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStep {
    VerifyEmail,
    AwaitApproval,
    SignIn,
}

impl RegistrationPolicy {
    pub fn requires_approval(&self, account_type: AccountType) -> bool {
        match self.admin_approval {
            ApprovalMode::None => false,
            ApprovalMode::All => true,
            ApprovalMode::Companies => account_type == AccountType::Company,
        }
    }

    /// Whether a verification code is mailed at registration.
    pub fn sends_verification(&self) -> bool {
        self.email_verification != VerificationMode::None
    }

    pub fn initial_status(&self, account_type: AccountType) -> AccountStatus {
        if self.email_verification == VerificationMode::Required {
            AccountStatus::PendingVerification
        } else if self.requires_approval(account_type) {
            AccountStatus::PendingApproval
        } else {
            AccountStatus::Active
        }
    }

    /// The steps ahead of a customer of `account_type`; they depend only on the policy and the
    /// request, never on whether the e-mail was already registered.
    pub fn steps(&self, account_type: AccountType) -> Vec<RegistrationStep> {
        let mut steps = Vec::with_capacity(3);
        if self.email_verification == VerificationMode::Required {
            steps.push(RegistrationStep::VerifyEmail);
        }
        if self.requires_approval(account_type) {
            steps.push(RegistrationStep::AwaitApproval);
        }
        steps.push(RegistrationStep::SignIn);
        steps
    }
}

/// The state an account moves to when its e-mail is confirmed.
pub fn status_after_verification(current: AccountStatus, requires_approval: bool) -> AccountStatus {
    match current {
        AccountStatus::PendingVerification if requires_approval => AccountStatus::PendingApproval,
        AccountStatus::PendingVerification => AccountStatus::Active,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccountStatus::*;
    use AccountType::*;
    use RegistrationStep::*;

    fn policy(approval: ApprovalMode, verification: VerificationMode) -> RegistrationPolicy {
        RegistrationPolicy {
            admin_approval: approval,
            email_verification: verification,
            ..Default::default()
        }
    }

    #[test]
    fn approval_mode_picks_account_types() {
        let companies = policy(ApprovalMode::Companies, VerificationMode::None);
        assert!(companies.requires_approval(Company));
        assert!(!companies.requires_approval(Person));
        assert!(policy(ApprovalMode::All, VerificationMode::None).requires_approval(Person));
        assert!(!policy(ApprovalMode::None, VerificationMode::None).requires_approval(Company));
    }

    #[test]
    fn initial_status_for_every_combination() {
        use ApprovalMode as A;
        use VerificationMode as V;
        let cases = [
            (A::None, V::Required, Person, PendingVerification),
            (A::None, V::Optional, Person, Active),
            (A::None, V::None, Company, Active),
            (A::All, V::Required, Person, PendingVerification),
            (A::All, V::Optional, Person, PendingApproval),
            (A::All, V::None, Company, PendingApproval),
            (A::Companies, V::Optional, Person, Active),
            (A::Companies, V::Optional, Company, PendingApproval),
            (A::Companies, V::Required, Company, PendingVerification),
        ];
        for (approval, verification, account_type, expected) in cases {
            assert_eq!(
                policy(approval, verification).initial_status(account_type),
                expected,
                "{approval:?} {verification:?} {account_type:?}"
            );
        }
    }

    #[test]
    fn steps_follow_policy() {
        assert_eq!(
            policy(ApprovalMode::All, VerificationMode::Required).steps(Person),
            vec![VerifyEmail, AwaitApproval, SignIn]
        );
        assert_eq!(policy(ApprovalMode::Companies, VerificationMode::Optional).steps(Person), vec![SignIn]);
    }

    #[test]
    fn verification_moves_only_pending_accounts() {
        assert_eq!(status_after_verification(PendingVerification, true), PendingApproval);
        assert_eq!(status_after_verification(PendingVerification, false), Active);
        assert_eq!(status_after_verification(Active, true), Active);
        assert_eq!(status_after_verification(Rejected, false), Rejected);
    }

    #[test]
    fn policy_refuses_unknown_fields() {
        let json = r#"{"notify_on_registration":true,"admin_approval":"all","device_confirmation":false,"email_verification":"none","surprise":1}"#;
        assert!(serde_json::from_str::<RegistrationPolicy>(json).is_err());
    }
}
