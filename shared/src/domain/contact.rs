//! E-mail addresses and phone numbers, validated once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

/// RFC 5321 caps a forward path at 254 characters.
const MAX_EMAIL_LEN: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailError {
    #[error("is not a valid e-mail address")]
    Invalid,
    #[error("is longer than {MAX_EMAIL_LEN} characters")]
    TooLong,
}

/// A syntactically valid e-mail address in one canonical form, so that one mailbox is one
/// account (the uniqueness guard is keyed by this form): the domain in ASCII (IDNA: `exämple.com`
/// becomes `xn--exmple-cua.com`, as mail servers see it), the local part in Unicode NFC, both
/// in lower case. Quoted local parts (`"a b"@x`) are refused: no customer types them, and their
/// many spellings of one mailbox would defeat the uniqueness guard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let address = email_address::EmailAddress::from_str(trimmed).map_err(|_| EmailError::Invalid)?;
        // Display names ("Ann <ann@x>") and dotless domains are not addresses a customer types.
        if address.display_part() != "" || address.local_part().starts_with('"') {
            return Err(EmailError::Invalid);
        }
        let domain = idna::domain_to_ascii(address.domain()).map_err(|_| EmailError::Invalid)?;
        if !domain.contains('.') || domain.starts_with('[') {
            return Err(EmailError::Invalid);
        }
        let local: String = address.local_part().nfc().collect::<String>().to_lowercase();
        let email = format!("{local}@{domain}");
        if email.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mailbox the address delivers to, as far as providers are known to fold addresses:
    /// lower case, without a `+tag`, and for Gmail without dots (`A.nn+x@googlemail.com` →
    /// `ann@gmail.com`). Limits on mail per mailbox count every spelling of it together.
    pub fn mailbox(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let local = local.split('+').next().unwrap_or(local).to_lowercase();
        let domain = domain.to_lowercase();
        match domain.as_str() {
            "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
            _ => format!("{local}@{domain}"),
        }
    }

    /// `a***@example.com`: enough for a person to recognise, too little to harvest.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("is not a phone number in E.164 form (+ and 8 to 15 digits)")]
pub struct PhoneError;

/// A phone number in E.164 form (`+420601234567`), the form SNS sends SMS to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        // People type spaces, dashes and brackets; E.164 has none of them.
        let compact: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
        let digits = compact.strip_prefix('+').ok_or(PhoneError)?;
        let valid = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if valid { Ok(Self(compact)) } else { Err(PhoneError) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> Self {
        phone.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spellings_of_one_mailbox_fold_together() {
        let mailbox = |text: &str| Email::parse(text).expect("address").mailbox();
        assert_eq!(mailbox("Victim+1@Example.com"), "victim@example.com");
        assert_eq!(mailbox("victim+2@example.com"), mailbox("victim@example.com"));
        assert_eq!(mailbox("A.nn+x@googlemail.com"), "ann@gmail.com");
        assert_ne!(mailbox("a.nn@example.com"), mailbox("ann@example.com"), "dots count elsewhere");
    }

    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("  Ann.Lee@Example.COM ").map(String::from),
            Ok("ann.lee@example.com".into())
        );
    }

    #[test]
    fn international_addresses_have_one_form() {
        // The domain as mail servers see it (IDNA), the local part composed (NFC).
        let ascii = Email::parse("ann@xn--exmple-cua.com").expect("punycode domain");
        assert_eq!(Email::parse("Ann@Exämple.com"), Ok(ascii.clone()));
        assert_eq!(ascii.as_str(), "ann@xn--exmple-cua.com");
        let composed = Email::parse("j\u{f6}rg@example.com").expect("composed");
        assert_eq!(Email::parse("jo\u{308}rg@example.com"), Ok(composed.clone()));
        assert_eq!(Email::parse("JÖRG@example.com"), Ok(composed));
        assert!(Email::parse("\"ann lee\"@example.com").is_err(), "quoted local parts are refused");
        assert!(Email::parse("ann@[192.0.2.1]").is_err(), "address literals are refused");
    }

    #[test]
    fn bad_emails_are_refused() {
        for input in
            ["", "ann", "ann@", "@example.com", "ann@localhost", "Ann <ann@example.com>", "a b@example.com"]
        {
            assert!(Email::parse(input).is_err(), "{input:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn masks_email() {
        assert_eq!(Email::parse("ann@example.com").map(|e| e.masked()), Ok("a***@example.com".into()));
    }

    #[test]
    fn phones_in_e164() {
        assert_eq!(Phone::parse("+420 601 234-567").map(String::from), Ok("+420601234567".into()));
        for input in ["601234567", "+0601234567", "+42", "+4206012345678901", "+42060123456a"] {
            assert!(Phone::parse(input).is_err(), "{input:?} should be refused");
        }
    }
}
