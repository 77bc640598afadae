//! Labels that classify customers (SPEC §1).

use serde::{Deserialize, Serialize};
use thiserror::Error;
use ulid::Ulid;
use utoipa::ToSchema;

pub const MAX_LABEL_NAME_CHARS: usize = 64;
pub const MAX_LABEL_DESCRIPTION_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be a colour in the form #rrggbb")]
pub struct ColourError;

/// A colour `#rrggbb`, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "#1e90ff")]
pub struct Colour(String);

impl Colour {
    pub fn parse(input: &str) -> Result<Self, ColourError> {
        let hex = input.strip_prefix('#').ok_or(ColourError)?;
        if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Self(format!("#{}", hex.to_ascii_lowercase())))
        } else {
            Err(ColourError)
        }
    }
}

impl TryFrom<String> for Colour {
    type Error = ColourError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Colour> for String {
    fn from(colour: Colour) -> Self {
        colour.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub id: Ulid,
    pub name: String,
    pub description: String,
    pub colour: Colour,
    /// How many customers carry the label; a label in use can't be deleted.
    pub usage: u64,
    /// The lifecycle stage whose built-in label this is: kept by rules, never deleted or renamed.
    pub stage: Option<super::lifecycle::Stage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LabelNameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_LABEL_NAME_CHARS} characters")]
    TooLong,
    #[error("{0}")]
    Unsafe(#[from] super::display_text::DisplayTextError),
}

/// Trims a label name and checks its length. Names are unique ignoring case.
pub fn parse_label_name(input: &str) -> Result<String, LabelNameError> {
    let name = input.trim();
    if name.is_empty() {
        Err(LabelNameError::Empty)
    } else if name.chars().count() > MAX_LABEL_NAME_CHARS {
        Err(LabelNameError::TooLong)
    } else {
        super::display_text::check_display_text(name)?;
        Ok(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours() {
        assert_eq!(Colour::parse("#1E90FF").map(String::from), Ok("#1e90ff".into()));
        for bad in ["1e90ff", "#1e90f", "#1e90ffa", "#gggggg", ""] {
            assert_eq!(Colour::parse(bad), Err(ColourError), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(parse_label_name("  VIP "), Ok("VIP".into()));
        assert_eq!(parse_label_name("   "), Err(LabelNameError::Empty));
        assert_eq!(parse_label_name(&"x".repeat(65)), Err(LabelNameError::TooLong));
    }
}
