//! Random one-time secrets: numeric codes people type, and URL-safe tokens for links.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A code of `digits` decimal digits, uniformly drawn (leading zeros kept).
pub fn numeric_code(digits: usize) -> String {
    (0..digits).map(|_| char::from(b'0' + rand::random_range(0..10u8))).collect()
}

/// 256 random bits, base64url: unguessable link and refresh tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_requested_length_and_digits() {
        for _ in 0..100 {
            let code = numeric_code(6);
            assert_eq!(code.len(), 6);
            assert!(code.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn codes_use_every_digit() {
        let seen: std::collections::BTreeSet<char> =
            (0..200).flat_map(|_| numeric_code(6).into_bytes()).map(char::from).collect();
        assert_eq!(seen.len(), 10);
    }

    #[test]
    fn tokens_are_url_safe_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, random_token());
    }
}
