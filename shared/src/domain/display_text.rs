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
    // Besides C0/C1 controls: line and paragraph separators (fake lines in a text mail),
    // direction marks and overrides, and invisible format characters.
    let invisible = |c: char| {
        matches!(c,
            '\u{2028}' | '\u{2029}' | '\u{061C}' | '\u{180E}' | '\u{FEFF}'
            | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}')
    };
    if text.chars().any(|c| c.is_control() || invisible(c)) {
        return Err(DisplayTextError::ControlCharacter);
    }
    let lower = text.to_lowercase();
    // Only what makes a link: "Hotel: Adler" and "Big Data: Ltd" stay names.
    let schemes = ["://", "http:", "https:", "mailto:", "javascript:", "www."];
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
        for fine in [
            "Ann Lee",
            "Booking.com",
            "Müller & Söhne GmbH",
            "O'Brien",
            "Şahin Lojistik A.Ş.",
            "東京",
            "Hotel: Adler",
            "Big Data: Ltd",
        ] {
            assert_eq!(check_display_text(fine), Ok(()), "{fine}");
        }
        for link in ["https://evil.example", "Click www.evil.example", "mailto:x@y", "HTTP://X", "a://b"] {
            assert_eq!(check_display_text(link), Err(DisplayTextError::Link), "{link}");
        }
        for control in [
            "Ann\nLee",
            "Ann\u{0}",
            "Ann\u{202E}eeL",
            "\u{2066}x",
            "tab\there",
            "Ann\u{2028}Fake",
            "a\u{200B}b",
            "x\u{061C}y",
        ] {
            assert_eq!(check_display_text(control), Err(DisplayTextError::ControlCharacter), "{control:?}");
        }
    }
}
