//! The languages Portico writes mail in.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Supported message languages. Any other requested language falls back to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    De,
    Cs,
    Tr,
}

impl Locale {
    /// Picks the language of a BCP 47 tag (`de-AT` → German); unknown or malformed → English.
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "de" => Self::De,
            "cs" => Self::Cs,
            "tr" => Self::Tr,
            _ => Self::En,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_primary_language_and_falls_back() {
        assert_eq!(Locale::from_tag("de-AT"), Locale::De);
        assert_eq!(Locale::from_tag("CS"), Locale::Cs);
        assert_eq!(Locale::from_tag("tr_TR"), Locale::Tr);
        assert_eq!(Locale::from_tag("fr"), Locale::En);
        assert_eq!(Locale::from_tag(""), Locale::En);
    }
}
