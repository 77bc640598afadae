//! The pages behind mailed links: localized (from the browser's Accept-Language), no script,
//! no external resources, strict CSP. Mail scanners open every link in a mail, so a GET only
//! shows what will happen and a button; only the button's POST acts.

use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};

use crate::domain::Locale;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What a mailed link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    VerifyEmail,
    ConfirmDevice,
    ResetPassword,
    NotMe,
}

impl LinkKind {
    /// The path of its page (GET shows, POST acts).
    pub fn path(self) -> &'static str {
        match self {
            Self::VerifyEmail => "/links/verify-email",
            Self::ConfirmDevice => "/links/confirm-device",
            Self::ResetPassword => "/links/reset-password",
            Self::NotMe => "/links/not-me",
        }
    }
}

/// The language of the browser that opened the link.
pub fn locale_of(headers: &HeaderMap) -> Locale {
    let accepted =
        headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    Locale::from_tag(accepted.split([',', ';']).next().unwrap_or_default())
}

/// Link tokens are `<ulid>.<base64url>`; anything else is never echoed into a page.
pub fn is_well_formed_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 128
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn render(locale: Locale, title: &str, body: &str) -> Response {
    let lang = match locale {
        Locale::En => "en",
        Locale::De => "de",
        Locale::Cs => "cs",
        Locale::Tr => "tr",
    };
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}button{{font-size:1.1rem;padding:.6rem 1.2rem}}input{{font-size:1.1rem;width:100%}}</style>\
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

/// Title, explanation and button of the page a GET shows.
fn prompt(kind: LinkKind, locale: Locale) -> (&'static str, &'static str, &'static str) {
    use LinkKind::*;
    use Locale::*;
    match (kind, locale) {
        (VerifyEmail, En) => (
            "Confirm your e-mail address",
            "Press the button to confirm this e-mail address for your account.",
            "Confirm e-mail address",
        ),
        (VerifyEmail, De) => (
            "E-Mail-Adresse bestätigen",
            "Drücken Sie die Schaltfläche, um diese E-Mail-Adresse für Ihr Konto zu bestätigen.",
            "E-Mail-Adresse bestätigen",
        ),
        (VerifyEmail, Cs) => (
            "Potvrzení e-mailové adresy",
            "Stiskněte tlačítko a potvrďte tuto e-mailovou adresu pro svůj účet.",
            "Potvrdit e-mailovou adresu",
        ),
        (VerifyEmail, Tr) => (
            "E-posta adresinizi doğrulayın",
            "Bu e-posta adresini hesabınız için doğrulamak üzere düğmeye basın.",
            "E-posta adresini doğrula",
        ),
        (ConfirmDevice, En) => (
            "Confirm the new device",
            "Someone signed in to your account with your password from a new device. If that was you, press the button.",
            "Yes, it was me",
        ),
        (ConfirmDevice, De) => (
            "Neues Gerät bestätigen",
            "Jemand hat sich mit Ihrem Passwort von einem neuen Gerät angemeldet. Waren Sie das, drücken Sie die Schaltfläche.",
            "Ja, das war ich",
        ),
        (ConfirmDevice, Cs) => (
            "Potvrzení nového zařízení",
            "Někdo se přihlásil vaším heslem z nového zařízení. Pokud jste to byli vy, stiskněte tlačítko.",
            "Ano, byl(a) jsem to já",
        ),
        (ConfirmDevice, Tr) => (
            "Yeni cihazı onaylayın",
            "Biri şifrenizle yeni bir cihazdan giriş yaptı. Siz iseniz düğmeye basın.",
            "Evet, bendim",
        ),
        (ResetPassword, En) => (
            "Choose a new password",
            "Enter a new password (12 to 128 characters). All your sessions will be signed out.",
            "Set password",
        ),
        (ResetPassword, De) => (
            "Neues Passwort wählen",
            "Geben Sie ein neues Passwort ein (12 bis 128 Zeichen). Alle Ihre Sitzungen werden abgemeldet.",
            "Passwort setzen",
        ),
        (ResetPassword, Cs) => (
            "Zvolte nové heslo",
            "Zadejte nové heslo (12 až 128 znaků). Všechny vaše relace budou odhlášeny.",
            "Nastavit heslo",
        ),
        (ResetPassword, Tr) => (
            "Yeni bir şifre seçin",
            "Yeni bir şifre girin (12 ile 128 karakter). Tüm oturumlarınız kapatılacak.",
            "Şifreyi belirle",
        ),
        (NotMe, En) => (
            "This was not me",
            "Press the button to sign out every session, forget the device that signed in, and get a link to choose a new password.",
            "Secure my account",
        ),
        (NotMe, De) => (
            "Das war ich nicht",
            "Drücken Sie die Schaltfläche, um alle Sitzungen abzumelden, das angemeldete Gerät zu vergessen und einen Link für ein neues Passwort zu erhalten.",
            "Mein Konto sichern",
        ),
        (NotMe, Cs) => (
            "To jsem nebyl(a) já",
            "Stiskněte tlačítko: odhlásíme všechny relace, zapomeneme přihlášené zařízení a pošleme vám odkaz pro nové heslo.",
            "Zabezpečit účet",
        ),
        (NotMe, Tr) => (
            "Bu ben değildim",
            "Tüm oturumları kapatmak, giriş yapan cihazı unutmak ve yeni şifre bağlantısı almak için düğmeye basın.",
            "Hesabımı güvene al",
        ),
    }
}

/// Title and message of the page after a successful POST.
fn done(kind: LinkKind, locale: Locale) -> (&'static str, &'static str) {
    use LinkKind::*;
    use Locale::*;
    match (kind, locale) {
        (VerifyEmail, En) => ("E-mail address confirmed", "Thank you. You can close this page and sign in."),
        (VerifyEmail, De) => {
            ("E-Mail-Adresse bestätigt", "Vielen Dank. Sie können diese Seite schließen und sich anmelden.")
        }
        (VerifyEmail, Cs) => {
            ("E-mailová adresa potvrzena", "Děkujeme. Tuto stránku můžete zavřít a přihlásit se.")
        }
        (VerifyEmail, Tr) => {
            ("E-posta adresi doğrulandı", "Teşekkürler. Bu sayfayı kapatıp giriş yapabilirsiniz.")
        }
        (ConfirmDevice, En) => {
            ("Device confirmed", "Thank you. Sign in again on that device; it will not ask again.")
        }
        (ConfirmDevice, De) => (
            "Gerät bestätigt",
            "Vielen Dank. Melden Sie sich auf dem Gerät erneut an; es wird nicht wieder gefragt.",
        ),
        (ConfirmDevice, Cs) => {
            ("Zařízení potvrzeno", "Děkujeme. Přihlaste se na zařízení znovu; už se nebude ptát.")
        }
        (ConfirmDevice, Tr) => {
            ("Cihaz onaylandı", "Teşekkürler. O cihazda yeniden giriş yapın; bir daha sorulmayacak.")
        }
        (ResetPassword, En) => {
            ("Password changed", "Your password is set. Sign in with it; other sessions were signed out.")
        }
        (ResetPassword, De) => (
            "Passwort geändert",
            "Ihr Passwort ist gesetzt. Melden Sie sich damit an; andere Sitzungen wurden abgemeldet.",
        ),
        (ResetPassword, Cs) => {
            ("Heslo změněno", "Vaše heslo je nastaveno. Přihlaste se jím; ostatní relace byly odhlášeny.")
        }
        (ResetPassword, Tr) => {
            ("Şifre değiştirildi", "Şifreniz belirlendi. Onunla giriş yapın; diğer oturumlar kapatıldı.")
        }
        (NotMe, En) => (
            "Your account is secured",
            "Every session was signed out and the device forgotten. We sent you a link to choose a new password.",
        ),
        (NotMe, De) => (
            "Ihr Konto ist gesichert",
            "Alle Sitzungen wurden abgemeldet und das Gerät vergessen. Wir haben Ihnen einen Link für ein neues Passwort geschickt.",
        ),
        (NotMe, Cs) => (
            "Váš účet je zabezpečen",
            "Všechny relace byly odhlášeny a zařízení zapomenuto. Poslali jsme vám odkaz pro nové heslo.",
        ),
        (NotMe, Tr) => (
            "Hesabınız güvende",
            "Tüm oturumlar kapatıldı ve cihaz unutuldu. Size yeni şifre için bir bağlantı gönderdik.",
        ),
    }
}

/// The page a GET of a mailed link shows: what will happen, and a form that POSTs the token
/// (with a new-password field for resets). It changes nothing.
pub fn prompt_page(kind: LinkKind, locale: Locale, token: &str) -> Response {
    if !is_well_formed_token(token) {
        return invalid_link_page(locale);
    }
    let (title, explanation, button) = prompt(kind, locale);
    let password = if kind == LinkKind::ResetPassword {
        "<p><input type=\"password\" name=\"new_password\" minlength=\"12\" maxlength=\"128\" required autocomplete=\"new-password\"></p>"
    } else {
        ""
    };
    let action = kind.path();
    render(
        locale,
        title,
        &format!(
            "<p>{explanation}</p><form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">{password}<button type=\"submit\">{button}</button></form>"
        ),
    )
}

/// The page after the link's action succeeded.
pub fn done_page(kind: LinkKind, locale: Locale) -> Response {
    let (title, message) = done(kind, locale);
    render(locale, title, &format!("<p>{message}</p>"))
}

/// The page after a link's POST: done, or "not valid" for any client error (spent, expired,
/// unknown — told apart in the API, not on a page a stranger may see); server errors stay errors.
pub fn outcome_page(kind: LinkKind, locale: Locale, outcome: Result<(), crate::ApiError>) -> Response {
    match outcome {
        Ok(()) => done_page(kind, locale),
        Err(error) if error.status().is_client_error() => invalid_link_page(locale),
        Err(error) => error.into_response(),
    }
}

pub fn invalid_link_page(locale: Locale) -> Response {
    let (title, message) = match locale {
        Locale::En => ("Link not valid", "This link is not valid, was already used, or has expired."),
        Locale::De => {
            ("Link ungültig", "Dieser Link ist ungültig, wurde bereits verwendet oder ist abgelaufen.")
        }
        Locale::Cs => ("Neplatný odkaz", "Tento odkaz je neplatný, již byl použit nebo vypršel."),
        Locale::Tr => ("Bağlantı geçersiz", "Bu bağlantı geçersiz, zaten kullanılmış veya süresi dolmuş."),
    };
    render(locale, title, &format!("<p>{message}</p>"))
}

/// A refused new password: says which rule, and how to go on.
pub fn password_refused_page(locale: Locale, reason: &str) -> Response {
    let (title, advice) = match locale {
        Locale::En => ("Password not accepted", "Go back and choose another."),
        Locale::De => ("Passwort nicht akzeptiert", "Gehen Sie zurück und wählen Sie ein anderes."),
        Locale::Cs => ("Heslo nebylo přijato", "Vraťte se a zvolte jiné."),
        Locale::Tr => ("Şifre kabul edilmedi", "Geri dönün ve başka bir şifre seçin."),
    };
    render(locale, title, &format!("<p>{reason}</p><p>{advice}</p>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_that_could_inject_markup_are_refused() {
        assert!(is_well_formed_token("01KAB.abc-_123"));
        for bad in ["", "a\"><script>", "a b", &"a".repeat(129)] {
            assert!(!is_well_formed_token(bad), "{bad}");
        }
    }

    #[test]
    fn pages_follow_the_browser_language() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("cs-CZ,cs;q=0.9,en;q=0.8"));
        assert_eq!(locale_of(&headers), Locale::Cs);
        assert_eq!(locale_of(&HeaderMap::new()), Locale::En);
    }

    #[test]
    fn every_kind_has_distinct_texts_in_every_language() {
        for kind in [LinkKind::VerifyEmail, LinkKind::ConfirmDevice, LinkKind::ResetPassword, LinkKind::NotMe]
        {
            let titles: std::collections::BTreeSet<_> = [Locale::En, Locale::De, Locale::Cs, Locale::Tr]
                .map(|locale| prompt(kind, locale).0)
                .into_iter()
                .collect();
            assert_eq!(titles.len(), 4, "{kind:?}");
        }
    }
}
