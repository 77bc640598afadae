//! Text people choose that Portico writes into mail (names, company names, labels): it must not
//! carry what turns a mail from the company's domain into an attacker's message — control and
//! bidirectional-override characters (which reorder what a reader sees) and URLs. A plain domain
//! stays valid ("Booking.com" is a company); mail templates keep such text from becoming a link
//! (`notify::templates`).

/// Why a text may not go into mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DisplayTextError {
    #[error("must not contain control or text-direction characters")]
    ControlCharacter,
    #[error("must not contain a web address or link")]
    Link,
}

/// Checks a trimmed display text.
pub fn check_display_text(text: &str) -> Result<(), DisplayTextError> {
    let reorders =
        |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
    if text.chars().any(|c| c.is_control() || reorders(c)) {
        return Err(DisplayTextError::ControlCharacter);
    }
    let lower = text.to_lowercase();
    let schemes = ["://", "http:", "https:", "mailto:", "javascript:", "data:", "tel:", "www."];
    if schemes.iter().any(|scheme| lower.contains(scheme)) {
        return Err(DisplayTextError::Link);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_names_and_links_are_refused() {
        for fine in
            ["Ann Lee", "Booking.com", "Müller & Söhne GmbH", "O'Brien", "Şahin Lojistik A.Ş.", "東京"]
        {
            assert_eq!(check_display_text(fine), Ok(()), "{fine}");
        }
        for link in ["https://evil.example", "Click www.evil.example", "mailto:x@y", "HTTP://X", "a://b"] {
            assert_eq!(check_display_text(link), Err(DisplayTextError::Link), "{link}");
        }
        for control in ["Ann\nLee", "Ann\u{0}", "Ann\u{202E}eeL", "\u{2066}x", "tab\there"] {
            assert_eq!(check_display_text(control), Err(DisplayTextError::ControlCharacter), "{control:?}");
        }
    }
}
