//! One-time challenges: a short code to type (and, for some kinds, a link token), stored only
//! as keyed hashes, that expire, lock after too many wrong tries and are spent by the write
//! they authorise. E-mail verification, device confirmation, e-mail change and OTP share this
//! model; issuing lives in `auth::challenge`, storing in `store::challenges`.

use chrono::{DateTime, Duration, Utc};

/// Wrong codes allowed before a challenge locks and a new one must be requested.
pub const MAX_CODE_ATTEMPTS: u32 = 5;
/// A "not me" link works for a week: people read mail late.
pub const NOT_ME_TTL: Duration = Duration::days(7);
pub const PASSWORD_RESET_TTL: Duration = Duration::minutes(30);

/// The symbols a code is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// `0`–`9`.
    Digits,
    /// Crockford's base 32: digits and upper-case letters without `I`, `L`, `O`, `U`, so no
    /// two symbols look alike; typed `o`, `i`, `l` read as `0`, `1`, `1`, and case is ignored.
    Base32,
}

impl Alphabet {
    pub const fn symbols(self) -> &'static [u8] {
        match self {
            Self::Digits => b"0123456789",
            Self::Base32 => b"0123456789ABCDEFGHJKMNPQRSTVWXYZ",
        }
    }

    /// The symbol a typed character stands for, if any.
    fn read(self, typed: char) -> Option<char> {
        let symbol = match (self, typed.to_ascii_uppercase()) {
            (Self::Base32, 'O') => '0',
            (Self::Base32, 'I' | 'L') => '1',
            (Self::Base32, other) => other,
            (Self::Digits, _) => typed,
        };
        (symbol.is_ascii() && self.symbols().contains(&(symbol as u8))).then_some(symbol)
    }
}

/// The shape of a code: its alphabet and length (4 to 10 symbols).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSpec {
    alphabet: Alphabet,
    length: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a code has {min} to {max} symbols", min = CodeSpec::MIN_LENGTH, max = CodeSpec::MAX_LENGTH)]
pub struct CodeLengthError;

impl CodeSpec {
    pub const MIN_LENGTH: usize = 4;
    pub const MAX_LENGTH: usize = 10;
    /// The codes mailed today: six digits.
    pub const SIX_DIGITS: Self = Self { alphabet: Alphabet::Digits, length: 6 };

    pub fn new(alphabet: Alphabet, length: usize) -> Result<Self, CodeLengthError> {
        if (Self::MIN_LENGTH..=Self::MAX_LENGTH).contains(&length) {
            Ok(Self { alphabet, length })
        } else {
            Err(CodeLengthError)
        }
    }

    pub fn alphabet(self) -> Alphabet {
        self.alphabet
    }

    pub fn length(self) -> usize {
        self.length
    }

    /// How hard a code is to guess in one try: `length × log2(alphabet size)` bits.
    pub fn entropy_bits(self) -> f64 {
        self.length as f64 * (self.alphabet.symbols().len() as f64).log2()
    }

    /// The code a person typed, in the form it was issued (`None` if it has the wrong shape).
    pub fn read(self, typed: &str) -> Option<String> {
        let code = typed.chars().map(|c| self.alphabet.read(c)).collect::<Option<String>>()?;
        (code.len() == self.length).then_some(code)
    }

    /// What a typed code must look like, for the field error.
    pub fn requirement(self) -> String {
        match self.alphabet {
            Alphabet::Digits => format!("must be {} digits", self.length),
            Alphabet::Base32 => format!("must be {} letters or digits", self.length),
        }
    }

    /// The code whose symbols are the alphabet's at `indices` (each taken modulo its size);
    /// `auth::challenge` draws the indices from a CSPRNG.
    pub fn code_from(self, indices: impl IntoIterator<Item = usize>) -> String {
        let symbols = self.alphabet.symbols();
        indices.into_iter().take(self.length).map(|i| char::from(symbols[i % symbols.len()])).collect()
    }
}

/// What a kind of challenge allows: the code's shape, how long it lives, how many wrong tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeRules {
    pub code: CodeSpec,
    pub ttl: Duration,
    pub max_attempts: u32,
}

impl ChallengeRules {
    pub const EMAIL_VERIFICATION: Self =
        Self { code: CodeSpec::SIX_DIGITS, ttl: Duration::hours(24), max_attempts: MAX_CODE_ATTEMPTS };
    pub const DEVICE_CONFIRMATION: Self =
        Self { code: CodeSpec::SIX_DIGITS, ttl: Duration::minutes(15), max_attempts: MAX_CODE_ATTEMPTS };
    pub const EMAIL_CHANGE: Self =
        Self { code: CodeSpec::SIX_DIGITS, ttl: Duration::hours(1), max_attempts: MAX_CODE_ATTEMPTS };
}

/// A challenge as stored: keyed hashes of its code and (optional) link token, never the secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub code_hash: String,
    pub link_hash: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub attempts: u32,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeState {
    Open,
    Expired,
    Locked,
    /// Spent by the write it authorised, replaced by a newer one, or never issued: gone.
    Spent,
}

/// Which part of a challenge was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    Code,
    Link,
}

impl ChallengeState {
    /// The state of the challenge as read (`None`: no such item).
    pub fn of(challenge: Option<&Challenge>, now: DateTime<Utc>) -> Self {
        challenge.map_or(Self::Spent, |challenge| challenge.state(now))
    }
}

impl Challenge {
    /// A new challenge under `rules`, issued at `now`.
    pub fn new(
        rules: ChallengeRules,
        code_hash: String,
        link_hash: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            code_hash,
            link_hash,
            expires_at: now + rules.ttl,
            attempts: 0,
            max_attempts: rules.max_attempts,
        }
    }

    pub fn state(&self, now: DateTime<Utc>) -> ChallengeState {
        if now >= self.expires_at {
            ChallengeState::Expired
        } else if self.attempts >= self.max_attempts {
            ChallengeState::Locked
        } else {
            ChallengeState::Open
        }
    }

    /// The challenge after one more wrong try: the counter never passes the limit (the store's
    /// counter is conditioned the same way, so concurrent guesses can't either).
    pub fn after_wrong_try(&self) -> Self {
        Self { attempts: (self.attempts + 1).min(self.max_attempts), ..self.clone() }
    }

    /// The stored hash that answering `part` proves, which the spending write is conditioned on.
    pub fn proof(&self, part: Answered) -> Option<&str> {
        match part {
            Answered::Code => Some(&self.code_hash),
            Answered::Link => self.link_hash.as_deref(),
        }
    }
}

/// A link token names what it confirms (an account, a device confirmation) so it can be looked
/// up without an index: `<id>.<random>`.
pub fn link_token(id: ulid::Ulid, random: &str) -> String {
    format!("{id}.{random}")
}

/// The id a link token names, if it has the right shape.
pub fn link_token_id(token: &str) -> Option<ulid::Ulid> {
    let (account, random) = token.split_once('.')?;
    if random.is_empty() {
        return None;
    }
    ulid::Ulid::from_string(account).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(attempts: u32, expires_in: Duration) -> Challenge {
        Challenge {
            code_hash: "c".into(),
            link_hash: Some("l".into()),
            expires_at: Utc::now() + expires_in,
            attempts,
            max_attempts: MAX_CODE_ATTEMPTS,
        }
    }

    #[test]
    fn states() {
        let now = Utc::now();
        assert_eq!(challenge(0, Duration::minutes(5)).state(now), ChallengeState::Open);
        assert_eq!(challenge(4, Duration::minutes(5)).state(now), ChallengeState::Open);
        assert_eq!(challenge(5, Duration::minutes(5)).state(now), ChallengeState::Locked);
        assert_eq!(challenge(0, Duration::minutes(-1)).state(now), ChallengeState::Expired);
        assert_eq!(challenge(5, Duration::minutes(-1)).state(now), ChallengeState::Expired);
        assert_eq!(ChallengeState::of(None, now), ChallengeState::Spent);
        assert_eq!(ChallengeState::of(Some(&challenge(1, Duration::minutes(5))), now), ChallengeState::Open);
    }

    #[test]
    fn wrong_tries_lock_at_the_limit_and_time_expires() {
        let issued_at = Utc::now();
        let rules = ChallengeRules { max_attempts: 3, ..ChallengeRules::DEVICE_CONFIRMATION };
        let mut challenge = Challenge::new(rules, "c".into(), None, issued_at);
        assert_eq!(challenge.expires_at, issued_at + Duration::minutes(15));
        for _ in 0..2 {
            challenge = challenge.after_wrong_try();
            assert_eq!(challenge.state(issued_at), ChallengeState::Open);
        }
        challenge = challenge.after_wrong_try();
        assert_eq!(challenge.state(issued_at), ChallengeState::Locked);
        assert_eq!(challenge.after_wrong_try().attempts, 3, "the counter stops at the limit");
        let fresh = Challenge::new(rules, "c".into(), None, issued_at);
        assert_eq!(fresh.state(issued_at + rules.ttl - Duration::seconds(1)), ChallengeState::Open);
        assert_eq!(fresh.state(issued_at + rules.ttl), ChallengeState::Expired);
    }

    #[test]
    fn a_proof_is_the_hash_of_the_answered_part() {
        let with_link = challenge(0, Duration::minutes(5));
        assert_eq!(with_link.proof(Answered::Code), Some("c"));
        assert_eq!(with_link.proof(Answered::Link), Some("l"));
        let code_only = Challenge { link_hash: None, ..with_link };
        assert_eq!(code_only.proof(Answered::Link), None);
    }

    #[test]
    fn entropy_figures() {
        let close = |a: f64, b: f64| (a - b).abs() < 0.01;
        assert!(close(CodeSpec::SIX_DIGITS.entropy_bits(), 19.93));
        assert!(close(CodeSpec::new(Alphabet::Digits, 4).expect("spec").entropy_bits(), 13.29));
        assert!(close(CodeSpec::new(Alphabet::Base32, 4).expect("spec").entropy_bits(), 20.0));
        assert!(close(CodeSpec::new(Alphabet::Base32, 10).expect("spec").entropy_bits(), 50.0));
        assert_eq!(Alphabet::Base32.symbols().len(), 32);
    }

    #[test]
    fn lengths_outside_four_to_ten_are_refused() {
        assert_eq!(CodeSpec::new(Alphabet::Digits, 3), Err(CodeLengthError));
        assert_eq!(CodeSpec::new(Alphabet::Base32, 11), Err(CodeLengthError));
        assert!(CodeSpec::new(Alphabet::Digits, 4).is_ok());
        assert!(CodeSpec::new(Alphabet::Base32, 10).is_ok());
    }

    #[test]
    fn typed_codes_are_read_in_their_issued_form() {
        let digits = CodeSpec::SIX_DIGITS;
        assert_eq!(digits.read("012345").as_deref(), Some("012345"));
        assert_eq!(digits.read("12345"), None);
        assert_eq!(digits.read("1234567"), None);
        assert_eq!(digits.read("12345a"), None);
        assert_eq!(digits.read("١٢٣٤٥٦"), None, "only ASCII digits");
        assert_eq!(digits.requirement(), "must be 6 digits");

        let base32 = CodeSpec::new(Alphabet::Base32, 5).expect("spec");
        assert_eq!(base32.read("7gk2z").as_deref(), Some("7GK2Z"));
        assert_eq!(base32.read("oIl9X").as_deref(), Some("0119X"), "look-alikes read as digits");
        assert_eq!(base32.read("ABCDU"), None, "U is not a symbol");
        assert_eq!(base32.read("ABCD"), None);
        assert_eq!(base32.requirement(), "must be 5 letters or digits");
    }

    #[test]
    fn codes_take_their_symbols_from_the_alphabet() {
        let spec = CodeSpec::new(Alphabet::Base32, 4).expect("spec");
        assert_eq!(spec.code_from([0, 10, 31, 32, 99]), "0AZ0");
        assert_eq!(CodeSpec::SIX_DIGITS.code_from(0..), "012345");
        let drawn = spec.code_from([17, 3, 30, 8]);
        assert_eq!(spec.read(&drawn), Some(drawn.clone()), "a drawn code reads as itself");
    }

    #[test]
    fn link_tokens_name_their_account() {
        let id = ulid::Ulid::generate();
        assert_eq!(link_token_id(&link_token(id, "abc")), Some(id));
        assert_eq!(link_token_id("nonsense"), None);
        assert_eq!(link_token_id(&format!("{id}.")), None);
        assert_eq!(link_token_id("01ARZ3NDEKTSV4RRFFQ69G5FA?.abc"), None);
    }
}
