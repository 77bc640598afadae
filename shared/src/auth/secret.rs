//! Random one-time secrets: codes people type, and URL-safe tokens for links.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::challenge::CodeSpec;

/// A code of `spec`'s shape, each symbol drawn uniformly from its alphabet by the thread's
/// CSPRNG (leading zeros kept).
pub fn code(spec: CodeSpec) -> String {
    let size = spec.alphabet().symbols().len();
    spec.code_from(std::iter::repeat_with(|| rand::random_range(0..size)))
}

/// 256 random bits, base64url: unguessable link and refresh tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::challenge::Alphabet;

    /// How often each symbol turns up in `draws` codes of `spec`.
    fn counts(spec: CodeSpec, draws: usize) -> BTreeMap<char, usize> {
        let mut counts = BTreeMap::new();
        for _ in 0..draws {
            let drawn = code(spec);
            assert_eq!(drawn.len(), spec.length(), "{drawn}");
            assert_eq!(spec.read(&drawn).as_deref(), Some(drawn.as_str()), "{drawn} reads as itself");
            for symbol in drawn.chars() {
                *counts.entry(symbol).or_default() += 1;
            }
        }
        counts
    }

    #[test]
    fn digit_codes_use_every_digit_about_equally() {
        // 6,000 symbols: 600 expected per digit, sd ≈ 23; 450..750 is > 6 sd either side.
        let counts = counts(CodeSpec::SIX_DIGITS, 1000);
        assert_eq!(counts.len(), 10, "{counts:?}");
        assert!(counts.values().all(|&n| (450..750).contains(&n)), "{counts:?}");
    }

    #[test]
    fn base32_codes_use_every_symbol_about_equally_and_no_look_alike() {
        // 8,000 symbols: 250 expected per symbol, sd ≈ 15.6; 150..350 is > 6 sd either side.
        let spec = CodeSpec::new(Alphabet::Base32, 8).expect("spec");
        let counts = counts(spec, 1000);
        assert_eq!(counts.len(), 32, "{counts:?}");
        assert!(counts.values().all(|&n| (150..350).contains(&n)), "{counts:?}");
        assert!(!counts.keys().any(|c| "ILOU".contains(*c) || c.is_ascii_lowercase()));
    }

    #[test]
    fn every_length_from_four_to_ten() {
        for length in CodeSpec::MIN_LENGTH..=CodeSpec::MAX_LENGTH {
            for alphabet in [Alphabet::Digits, Alphabet::Base32] {
                assert_eq!(code(CodeSpec::new(alphabet, length).expect("spec")).len(), length);
            }
        }
    }

    #[test]
    fn tokens_are_url_safe_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, random_token());
    }
}
