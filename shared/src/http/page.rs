//! Small HTML pages behind mailed links: no script, no external resources, strict CSP.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A page with `title` and `body` (HTML the caller built from trusted parts only).
pub fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}button{{font-size:1.1rem;padding:.6rem 1.2rem}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    );
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(html),
    )
        .into_response()
}

/// Link tokens are `<ulid>.<base64url>`; anything else is never echoed into a page.
pub fn is_well_formed_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 128
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The page a GET of a mailed link shows: what will happen, and a button that POSTs the token.
/// A GET never acts, so mail scanners that open links spend nothing.
pub fn confirm_page(title: &str, explanation: &str, action: &str, button: &str, token: &str) -> Response {
    if !is_well_formed_token(token) {
        return invalid_link_page();
    }
    page(
        title,
        &format!(
            "<p>{explanation}</p><form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\"><button type=\"submit\">{button}</button></form>"
        ),
    )
}

pub fn invalid_link_page() -> Response {
    page("Link not valid", "<p>This link is not valid, was already used, or has expired.</p>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_that_could_inject_markup_are_refused() {
        assert!(is_well_formed_token("01KAB.abc-_123"));
        for bad in ["", "a\"><script>", "a b", &"a".repeat(129)] {
            assert!(!is_well_formed_token(bad), "{bad}");
        }
    }
}
