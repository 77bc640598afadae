//! Relative dates: `now`, `now-30d`, `now+2h`.
//!
//! They are kept symbolic after validation and resolved against the `now` handed to each
//! evaluation, so pure code never reads the clock and a stored rule keeps meaning "the last
//! 30 days" whenever it runs.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};

/// Largest amount accepted (`now-100000d`): far beyond any business use, and small enough
/// that resolving can never leave chrono's range for a realistic `now`.
pub const MAX_RELATIVE_AMOUNT: u32 = 100_000;

/// The unit of a relative date's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateUnit {
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
    /// `w`
    Weeks,
}

impl DateUnit {
    fn from_char(unit: char) -> Option<DateUnit> {
        match unit {
            'm' => Some(DateUnit::Minutes),
            'h' => Some(DateUnit::Hours),
            'd' => Some(DateUnit::Days),
            'w' => Some(DateUnit::Weeks),
            _ => None,
        }
    }

    fn as_char(self) -> char {
        match self {
            DateUnit::Minutes => 'm',
            DateUnit::Hours => 'h',
            DateUnit::Days => 'd',
            DateUnit::Weeks => 'w',
        }
    }

    fn minutes(self) -> i64 {
        match self {
            DateUnit::Minutes => 1,
            DateUnit::Hours => 60,
            DateUnit::Days => 24 * 60,
            DateUnit::Weeks => 7 * 24 * 60,
        }
    }

    /// Whether the unit is a whole number of days (the only units that make sense for date
    /// fields).
    pub fn is_whole_days(self) -> bool {
        matches!(self, DateUnit::Days | DateUnit::Weeks)
    }
}

/// `now` plus a signed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelativeDate {
    amount: i64,
    unit: DateUnit,
}

/// Why a text starting with `now` is not a relative date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelativeDateError {
    /// Not `now`, `now+<n><unit>` or `now-<n><unit>`.
    #[error("`{0}` is not a relative date: use `now`, or `now-30d` / `now+2h` with units m, h, d, w")]
    Malformed(String),
    /// The amount exceeds [`MAX_RELATIVE_AMOUNT`].
    #[error("`{0}` is too far away: at most {MAX_RELATIVE_AMOUNT} units")]
    TooLarge(String),
}

impl RelativeDate {
    /// `now` itself.
    pub const NOW: RelativeDate = RelativeDate { amount: 0, unit: DateUnit::Days };

    /// Whether `text` is meant as a relative date (starts with `now`), so a malformed one
    /// is reported as such instead of as a malformed absolute date.
    pub fn looks_relative(text: &str) -> bool {
        text.starts_with("now")
    }

    /// The unit of the offset.
    pub fn unit(&self) -> DateUnit {
        self.unit
    }

    /// The signed offset from `now`.
    pub fn offset(&self) -> TimeDelta {
        TimeDelta::seconds(self.offset_seconds())
    }

    /// The signed offset from `now`, in seconds.
    pub fn offset_seconds(&self) -> i64 {
        self.amount * self.unit.minutes() * 60
    }

    /// The instant this denotes at `now`. Saturates at chrono's limits instead of failing
    /// (unreachable for real clocks given [`MAX_RELATIVE_AMOUNT`]).
    pub fn resolve(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_add_signed(self.offset()).unwrap_or(if self.amount < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }
}

impl FromStr for RelativeDate {
    type Err = RelativeDateError;

    fn from_str(text: &str) -> Result<RelativeDate, RelativeDateError> {
        let malformed = || RelativeDateError::Malformed(text.to_owned());
        let rest = text.strip_prefix("now").ok_or_else(malformed)?;
        if rest.is_empty() {
            return Ok(RelativeDate::NOW);
        }
        let (sign, rest) = match rest.as_bytes().first() {
            Some(b'+') => (1, &rest[1..]),
            Some(b'-') => (-1, &rest[1..]),
            _ => return Err(malformed()),
        };
        let unit_char = rest.chars().last().ok_or_else(malformed)?;
        let unit = DateUnit::from_char(unit_char).ok_or_else(malformed)?;
        let digits = &rest[..rest.len() - unit_char.len_utf8()];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let amount: u32 = digits.parse().map_err(|_| RelativeDateError::TooLarge(text.to_owned()))?;
        if amount > MAX_RELATIVE_AMOUNT {
            return Err(RelativeDateError::TooLarge(text.to_owned()));
        }
        Ok(RelativeDate { amount: sign * i64::from(amount), unit })
    }
}

impl fmt::Display for RelativeDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.amount == 0 {
            return f.write_str("now");
        }
        let sign = if self.amount < 0 { '-' } else { '+' };
        write!(f, "now{sign}{}{}", self.amount.unsigned_abs(), self.unit.as_char())
    }
}
