//! Sign-in decisions: throttling after failed passwords, device ids, and refresh-token shapes.

use ulid::Ulid;

/// Failed sign-ins an account may have in one hour (ASVS 4.0.3 2.2.1 asks for at most 100).
pub const MAX_FAILURES_PER_HOUR: u32 = 100;
/// Failures before delays start; each further failure doubles the wait, up to `MAX_DELAY_SECS`.
pub const FREE_FAILURES: u32 = 5;
pub const MAX_DELAY_SECS: i64 = 15 * 60;
pub const FAILURE_WINDOW_SECS: i64 = 3600;
/// Failed sign-ins one source IP may have in one hour, over all accounts.
pub const MAX_FAILURES_PER_IP_PER_HOUR: u32 = 300;

/// Failed sign-ins of one account in the current window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureRecord {
    /// Epoch seconds the window started.
    pub window_start: i64,
    pub count: u32,
    /// Epoch seconds of the latest failure.
    pub last_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    Allowed,
    Wait { retry_after_secs: u64 },
}

fn wait(secs: i64) -> Throttle {
    Throttle::Wait { retry_after_secs: u64::try_from(secs.max(1)).unwrap_or(1) }
}

impl FailureRecord {
    fn in_window(&self, now: i64) -> bool {
        now < self.window_start + FAILURE_WINDOW_SECS
    }

    /// Whether another attempt may be checked now.
    pub fn throttle(&self, now: i64) -> Throttle {
        if !self.in_window(now) || self.count < FREE_FAILURES {
            return Throttle::Allowed;
        }
        if self.count >= MAX_FAILURES_PER_HOUR {
            return wait(self.window_start + FAILURE_WINDOW_SECS - now);
        }
        let ready_at = self.last_at + delay_after(self.count);
        if now < ready_at { wait(ready_at - now) } else { Throttle::Allowed }
    }

    /// The record after one more failure at `now`.
    pub fn after_failure(&self, now: i64) -> Self {
        if self.in_window(now) {
            Self { count: self.count + 1, last_at: now, ..*self }
        } else {
            Self { window_start: now, count: 1, last_at: now }
        }
    }
}

/// The wait after `count` failures: none up to `FREE_FAILURES`, then 1 s, 2 s, 4 s, … capped.
pub fn delay_after(count: u32) -> i64 {
    match count.checked_sub(FREE_FAILURES) {
        None => 0,
        Some(extra) => 1i64.checked_shl(extra.min(20)).unwrap_or(MAX_DELAY_SECS).min(MAX_DELAY_SECS),
    }
}

/// A client's device id: 22–64 URL-safe characters (≥ 128 random bits in base64url).
pub fn is_valid_device_id(id: &str) -> bool {
    (22..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A refresh token names its session and generation so it is found without an index:
/// `<account>.<session>.<generation>.<secret>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub account_id: Ulid,
    pub session_id: Ulid,
    pub generation: u64,
    pub secret: String,
}

impl RefreshToken {
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let account_id = Ulid::from_string(parts.next()?).ok()?;
        let session_id = Ulid::from_string(parts.next()?).ok()?;
        let generation = parts.next()?.parse().ok()?;
        let secret = parts.next()?.to_owned();
        if secret.len() < 32 || parts.next().is_some() {
            return None;
        }
        Some(Self { account_id, session_id, generation, secret })
    }

    pub fn encode(&self) -> String {
        format!("{}.{}.{}.{}", self.account_id, self.session_id, self.generation, self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_failures_are_free_then_delays_double() {
        let now = 1_000_000;
        let mut record = FailureRecord::default();
        for _ in 0..FREE_FAILURES {
            assert_eq!(record.throttle(now), Throttle::Allowed);
            record = record.after_failure(now);
        }
        assert_eq!(record.throttle(now), Throttle::Wait { retry_after_secs: 1 });
        assert_eq!(record.throttle(now + 1), Throttle::Allowed);
        let record = record.after_failure(now + 1).after_failure(now + 1);
        assert_eq!(record.throttle(now + 1), Throttle::Wait { retry_after_secs: 4 });
        assert_eq!(delay_after(4), 0);
        assert_eq!(delay_after(6), 2);
        assert_eq!(delay_after(99), MAX_DELAY_SECS);
    }

    #[test]
    fn a_hundred_failures_block_until_the_window_ends() {
        let start = 5_000;
        let record = FailureRecord { window_start: start, count: MAX_FAILURES_PER_HOUR, last_at: start + 10 };
        assert_eq!(record.throttle(start + 3000), Throttle::Wait { retry_after_secs: 600 });
        assert_eq!(record.throttle(start + FAILURE_WINDOW_SECS), Throttle::Allowed);
        let fresh = record.after_failure(start + FAILURE_WINDOW_SECS);
        assert_eq!((fresh.count, fresh.window_start), (1, start + FAILURE_WINDOW_SECS));
    }

    #[test]
    fn device_ids() {
        assert!(is_valid_device_id("Zt0lq3n2cM7bH8dJ4kW9xQ"));
        assert!(!is_valid_device_id("short"));
        assert!(!is_valid_device_id(&"a".repeat(65)));
        assert!(!is_valid_device_id("has spaces in it, not url safe!!"));
    }

    #[test]
    fn refresh_tokens_round_trip_and_refuse_garbage() {
        let token = RefreshToken {
            account_id: Ulid::generate(),
            session_id: Ulid::generate(),
            generation: 7,
            secret: "s".repeat(43),
        };
        assert_eq!(RefreshToken::parse(&token.encode()), Some(token.clone()));
        for bad in [
            "",
            "a.b.c.d",
            &format!("{}.{}.x.{}", token.account_id, token.session_id, token.secret),
            &format!("{}.{}.1.short", token.account_id, token.session_id),
            &format!("{}.extra", token.encode()),
        ] {
            assert_eq!(RefreshToken::parse(bad), None, "{bad}");
        }
    }
}
