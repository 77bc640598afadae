//! Exact decimal numbers with DynamoDB's precision and range.
//!
//! DynamoDB stores numbers as decimals with up to 38 significant digits, positive
//! magnitudes from 1E-130 to below 1E+126. Comparing them as `f64` would make `0.1 + 0.2`
//! style rounding and integers above 2^53 behave differently in Rust than in a DynamoDB
//! filter, which would break the pushdown guarantee. [`Number`] therefore keeps the exact
//! decimal: a coefficient of at most 38 digits and a power-of-ten exponent.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// Most significant digits a number may have (DynamoDB's precision).
pub const MAX_DIGITS: u32 = 38;
/// Largest decimal exponent of the leading digit (DynamoDB: magnitudes below 1E+126).
const MAX_ADJUSTED_EXPONENT: i64 = 125;
/// Smallest decimal exponent of the leading digit (DynamoDB: magnitudes from 1E-130).
const MIN_ADJUSTED_EXPONENT: i64 = -130;

/// An exact decimal number: `coefficient × 10^exponent`.
///
/// The representation is normalised (no trailing zeros in the coefficient, zero is `0 × 10^0`),
/// so derived equality and hashing are numeric equality: `1.50 == 1.5`, `100 == 1E2`.
/// Ordering is numeric too. Construction refuses more than 38 significant digits and
/// magnitudes outside DynamoDB's range, so every `Number` can be stored in DynamoDB as is.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    coefficient: i128,
    exponent: i16,
    /// Digits of the coefficient, kept so comparisons need no logarithm.
    digits: u8,
}

/// Powers of ten up to 10^38, so comparisons scale coefficients without `pow`.
const POW10: [u128; 39] = {
    let mut table = [1u128; 39];
    let mut at = 1;
    while at < table.len() {
        table[at] = table[at - 1] * 10;
        at += 1;
    }
    table
};

/// Why a text is not a [`Number`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Not decimal notation (`12`, `-0.5`, `1.2e3`).
    #[error("`{0}` is not a decimal number")]
    Invalid(String),
    /// More significant digits than DynamoDB keeps.
    #[error("more than {MAX_DIGITS} significant digits")]
    TooPrecise,
    /// Magnitude outside 1E-130 ..< 1E+126.
    #[error("magnitude outside the range 1E-130 to 9.99E+125")]
    OutOfRange,
    /// NaN or an infinity.
    #[error("not a finite number")]
    NotFinite,
}

impl Number {
    /// Zero.
    pub const ZERO: Number = Number { coefficient: 0, exponent: 0, digits: 1 };

    /// Builds a number from a coefficient and exponent, normalising it.
    fn normalised(mut coefficient: i128, exponent: i64) -> Result<Number, NumberError> {
        if coefficient == 0 {
            return Ok(Number::ZERO);
        }
        let mut exponent = exponent;
        while coefficient % 10 == 0 {
            coefficient /= 10;
            exponent += 1;
        }
        let digits = digit_count(coefficient.unsigned_abs());
        if digits > MAX_DIGITS {
            return Err(NumberError::TooPrecise);
        }
        let adjusted = exponent + i64::from(digits) - 1;
        if !(MIN_ADJUSTED_EXPONENT..=MAX_ADJUSTED_EXPONENT).contains(&adjusted) {
            return Err(NumberError::OutOfRange);
        }
        let exponent = i16::try_from(exponent).map_err(|_| NumberError::OutOfRange)?;
        let digits = u8::try_from(digits).map_err(|_| NumberError::TooPrecise)?;
        Ok(Number { coefficient, exponent, digits })
    }

    /// Whether the number is an integer.
    pub fn is_integer(&self) -> bool {
        self.exponent >= 0
    }

    /// The value as `i64`, if it is an integer in range.
    pub fn to_i64(&self) -> Option<i64> {
        if !self.is_integer() {
            return None;
        }
        let scale = 10i128.checked_pow(u32::try_from(self.exponent).ok()?)?;
        i64::try_from(self.coefficient.checked_mul(scale)?).ok()
    }

    /// The nearest `f64` (may round).
    pub fn to_f64(&self) -> f64 {
        // Going through the decimal text gives correct rounding without hand-written maths.
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    /// The `f64` with exactly this value, if there is one.
    pub fn to_exact_f64(&self) -> Option<f64> {
        let float = self.to_f64();
        (Number::try_from(float).ok()? == *self).then_some(float)
    }

    /// Compares absolute values of two non-zero numbers.
    fn magnitude_cmp(&self, other: &Number) -> Ordering {
        let (a, b) = (self.coefficient.unsigned_abs(), other.coefficient.unsigned_abs());
        let a_adjusted = i32::from(self.exponent) + i32::from(self.digits);
        let b_adjusted = i32::from(other.exponent) + i32::from(other.digits);
        if a_adjusted != b_adjusted {
            return a_adjusted.cmp(&b_adjusted);
        }
        // Same position of the leading digit: widen the shorter coefficient to the longer
        // one's digit count (still at most 38 digits, so it fits in u128).
        let (a_digits, b_digits) = (usize::from(self.digits), usize::from(other.digits));
        match a_digits.cmp(&b_digits) {
            Ordering::Less => (a * POW10[b_digits - a_digits]).cmp(&b),
            Ordering::Greater => a.cmp(&(b * POW10[a_digits - b_digits])),
            Ordering::Equal => a.cmp(&b),
        }
    }
}

fn digit_count(value: u128) -> u32 {
    value.checked_ilog10().map_or(1, |log| log + 1)
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        if self.exponent == other.exponent {
            return self.coefficient.cmp(&other.coefficient);
        }
        let (a, b) = (self.coefficient.signum(), other.coefficient.signum());
        if a != b || a == 0 {
            return a.cmp(&b);
        }
        let magnitude = self.magnitude_cmp(other);
        if a > 0 { magnitude } else { magnitude.reverse() }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for Number {
    type Err = NumberError;

    /// Parses decimal notation: optional sign, digits with an optional point, optional
    /// exponent (`-12.50`, `.5`, `1e-3`, `7E+2`).
    fn from_str(text: &str) -> Result<Number, NumberError> {
        let invalid = || NumberError::Invalid(text.to_owned());
        let (negative, unsigned) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent_text) = match unsigned.find(['e', 'E']) {
            Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
            None => (unsigned, None),
        };
        let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if integer.len() + fraction.len() == 0 || !all_digits(integer) || !all_digits(fraction) {
            return Err(invalid());
        }
        let mut exponent = match exponent_text {
            Some(e) => parse_exponent(e).ok_or_else(invalid)?,
            None => 0,
        };
        exponent -= i64::try_from(fraction.len()).map_err(|_| NumberError::OutOfRange)?;

        let digits = integer.bytes().chain(fraction.bytes()).skip_while(|&b| b == b'0');
        let significant: Vec<u8> = digits.collect();
        let trailing_zeros = significant.iter().rev().take_while(|&&b| b == b'0').count();
        let significant = &significant[..significant.len() - trailing_zeros];
        if significant.is_empty() {
            return Ok(Number::ZERO);
        }
        if significant.len() > MAX_DIGITS as usize {
            return Err(NumberError::TooPrecise);
        }
        exponent += i64::try_from(trailing_zeros).map_err(|_| NumberError::OutOfRange)?;
        let magnitude = significant.iter().fold(0i128, |acc, &b| acc * 10 + i128::from(b - b'0'));
        Number::normalised(if negative { -magnitude } else { magnitude }, exponent)
    }
}

/// Parses an exponent, capped so that absurd exponents become "out of range" rather than
/// overflowing.
fn parse_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.trim_start_matches('0');
    let value: i64 = if magnitude.len() > 6 { 1_000_000 } else { magnitude.parse().unwrap_or(0) };
    Some(if negative { -value } else { value })
}

impl fmt::Display for Number {
    /// Plain decimal notation without an exponent (`1200`, `-0.005`), which DynamoDB and
    /// every JSON reader accept.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.coefficient < 0 {
            f.write_str("-")?;
        }
        let digits = self.coefficient.unsigned_abs().to_string();
        let exponent = i64::from(self.exponent);
        if exponent >= 0 {
            f.write_str(&digits)?;
            for _ in 0..exponent {
                f.write_str("0")?;
            }
            return Ok(());
        }
        let fraction_len = usize::try_from(-exponent).map_err(|_| fmt::Error)?;
        if digits.len() > fraction_len {
            let (integer, fraction) = digits.split_at(digits.len() - fraction_len);
            write!(f, "{integer}.{fraction}")
        } else {
            f.write_str("0.")?;
            for _ in 0..fraction_len - digits.len() {
                f.write_str("0")?;
            }
            f.write_str(&digits)
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        // Every i64 has at most 19 digits, well inside the 38-digit range.
        Number::normalised(i128::from(value), 0).unwrap_or(Number::ZERO)
    }
}

impl From<i32> for Number {
    fn from(value: i32) -> Number {
        Number::from(i64::from(value))
    }
}

impl From<u32> for Number {
    fn from(value: u32) -> Number {
        Number::from(i64::from(value))
    }
}

impl TryFrom<f64> for Number {
    type Error = NumberError;

    /// The exact decimal of the shortest text that reads back as this `f64` (`0.1` is 0.1,
    /// not 0.1000000000000000055…), which is what a person typed.
    fn try_from(value: f64) -> Result<Number, NumberError> {
        if !value.is_finite() {
            return Err(NumberError::NotFinite);
        }
        value.to_string().parse()
    }
}

impl TryFrom<&serde_json::Number> for Number {
    type Error = NumberError;

    fn try_from(value: &serde_json::Number) -> Result<Number, NumberError> {
        value.to_string().parse()
    }
}

impl Serialize for Number {
    /// A JSON number when one represents the value exactly (as `i64` or `f64`), otherwise
    /// its decimal text, so no reader silently sees a rounded amount.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(integer) = self.to_i64() {
            serializer.serialize_i64(integer)
        } else if let Some(float) = self.to_exact_f64() {
            serializer.serialize_f64(float)
        } else {
            serializer.collect_str(self)
        }
    }
}
