//! Rules for new passwords (NIST SP 800-63B §3.1.1.2): length only, no composition rules.
//!
//! Portico asks for 12 characters, not NIST's minimum of 8: the accounts guard customer data
//! and there is no second factor yet; a longer minimum costs users little with a password manager.
//! Passwords among the 100 000 most common ones are refused (`shared/data/README.md`).

use std::collections::HashSet;
use std::sync::OnceLock;

use thiserror::Error;

/// The common passwords long enough to pass the length rule, lower-cased, one per line.
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordRuleError {
    #[error("must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    #[error("must be at most {MAX_PASSWORD_CHARS} characters long")]
    TooLong,
    #[error("must not be one character repeated")]
    Repetitive,
    #[error("must not contain your e-mail address")]
    ContainsEmail,
    #[error("is one of the most common passwords; choose another")]
    Common,
}

fn is_common(password: &str) -> bool {
    static COMMON: OnceLock<HashSet<&'static str>> = OnceLock::new();
    COMMON.get_or_init(|| COMMON_PASSWORDS.lines().collect()).contains(password.to_lowercase().as_str())
}

/// Checks a new password against the rules; `email` is the account's address.
pub fn check_new_password(password: &str, email: &str) -> Result<(), PasswordRuleError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordRuleError::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordRuleError::TooLong);
    }
    let mut distinct = password.chars();
    let first = distinct.next();
    if distinct.all(|c| Some(c) == first) {
        return Err(PasswordRuleError::Repetitive);
    }
    let local_part = email.split('@').next().unwrap_or_default();
    if local_part.len() >= 4 && password.to_lowercase().contains(&local_part.to_lowercase()) {
        return Err(PasswordRuleError::ContainsEmail);
    }
    if is_common(password) {
        return Err(PasswordRuleError::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rules_count_characters() {
        assert_eq!(check_new_password("short", "a@b.cz"), Err(PasswordRuleError::TooShort));
        assert_eq!(check_new_password("ééééééééééé", "a@b.cz"), Err(PasswordRuleError::TooShort));
        assert_eq!(check_new_password(&"ab".repeat(65), "a@b.cz"), Err(PasswordRuleError::TooLong));
        assert_eq!(check_new_password("correct horse battery", "a@b.cz"), Ok(()));
    }

    #[test]
    fn refuses_common_passwords_ignoring_case() {
        assert_eq!(COMMON_PASSWORDS.lines().count(), 484);
        for common in ["qwertyuiopasdfghjkl", "1q2w3e4r5t6y", "QAZWSXEDCRFV"] {
            assert_eq!(check_new_password(common, "a@b.cz"), Err(PasswordRuleError::Common), "{common}");
        }
        assert_eq!(check_new_password("qwertyuiop asdf ghjkl", "a@b.cz"), Ok(()));
    }

    #[test]
    fn refuses_repetition_and_own_address() {
        assert_eq!(check_new_password("aaaaaaaaaaaaaa", "a@b.cz"), Err(PasswordRuleError::Repetitive));
        assert_eq!(
            check_new_password("MyNameIsJohnny!!", "johnny@example.com"),
            Err(PasswordRuleError::ContainsEmail)
        );
    }
}
