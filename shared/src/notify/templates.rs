//! Mail texts in English, German, Czech and Turkish. The recipient's locale picks the language;
//! anything else reads English.

use crate::domain::Locale;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
}

/// Every mail Portico sends, with what it needs to say.
#[derive(Debug, Clone)]
pub enum MailTemplate<'a> {
    /// The code to type and the link to open to confirm an address.
    VerifyEmail {
        name: &'a str,
        code: &'a str,
        link: &'a str,
    },
    /// `notify_on_registration`: the registration arrived.
    RegistrationReceived {
        name: &'a str,
        awaiting_approval: bool,
    },
    /// Someone tried to register an address that already has an account.
    AlreadyRegistered {
        name: &'a str,
    },
    /// To staff who may approve: an account waits.
    ApprovalRequested {
        customer: &'a str,
        email: &'a str,
        queue_link: &'a str,
    },
    AccountApproved {
        name: &'a str,
        sign_in_link: &'a str,
    },
    AccountRejected {
        name: &'a str,
        reason: &'a str,
    },
    /// A sign-in from an unknown device waits for this code or link.
    ConfirmDevice {
        name: &'a str,
        device: &'a str,
        code: &'a str,
        link: &'a str,
        not_me_link: &'a str,
    },
    /// A device was trusted: always told, so an unexpected sign-in does not go unnoticed.
    NewDeviceSignIn {
        name: &'a str,
        device: &'a str,
        when: &'a str,
        not_me_link: &'a str,
    },
    /// The link to set a new password.
    PasswordReset {
        name: &'a str,
        link: &'a str,
    },
    /// The password was changed (by reset or by the signed-in user).
    PasswordChanged {
        name: &'a str,
    },
    /// To the new address of an e-mail change: the code that confirms it.
    EmailChangeCode {
        name: &'a str,
        code: &'a str,
    },
    /// To the old address: a change to `new_address` was requested, or has been completed.
    EmailChangeNotice {
        name: &'a str,
        new_address: &'a str,
        completed: bool,
    },
    /// To an address someone tried to move their account to, which has an account already.
    EmailInUse,
    /// A customer's one-time password for a change an agent makes with them (OTP rules).
    OtpCode {
        code: &'a str,
        minutes: u32,
    },
}

/// Text people chose (a name, a company, a device label) as it goes into mail: a zero-width
/// space after each `.`, `@` and `:` (and their full-width forms) keeps mail clients from
/// turning it into a link or an address, while it reads the same ("Booking.com" stays a name).
fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        out.push(c);
        if matches!(c, '.' | '@' | ':' | '．' | '。' | '｡' | '＠' | '：') {
            out.push('\u{200B}');
        }
    }
    out
}

impl MailTemplate<'_> {
    pub fn render(&self, locale: Locale) -> Mail {
        let (subject, text) = match self {
            Self::VerifyEmail { name, code, link } => verify_email(locale, &inert(name), code, link),
            Self::RegistrationReceived { name, awaiting_approval } => {
                registration_received(locale, &inert(name), *awaiting_approval)
            }
            Self::AlreadyRegistered { name } => already_registered(locale, &inert(name)),
            Self::ApprovalRequested { customer, email, queue_link } => {
                approval_requested(locale, &inert(customer), email, queue_link)
            }
            Self::AccountApproved { name, sign_in_link } => {
                account_approved(locale, &inert(name), sign_in_link)
            }
            // The reason is the administrator's own text.
            Self::AccountRejected { name, reason } => account_rejected(locale, &inert(name), reason),
            Self::ConfirmDevice { name, device, code, link, not_me_link } => with_not_me(
                confirm_device(locale, &inert(name), &inert(device), code, link),
                locale,
                not_me_link,
            ),
            Self::NewDeviceSignIn { name, device, when, not_me_link } => with_not_me(
                new_device_sign_in(locale, &inert(name), &inert(device), when),
                locale,
                not_me_link,
            ),
            Self::PasswordReset { name, link } => password_reset(locale, &inert(name), link),
            Self::PasswordChanged { name } => password_changed(locale, &inert(name)),
            Self::EmailChangeCode { name, code } => email_change_code(locale, &inert(name), code),
            Self::EmailChangeNotice { name, new_address, completed } => {
                email_change_notice(locale, &inert(name), new_address, *completed)
            }
            Self::EmailInUse => email_in_use(locale),
            Self::OtpCode { code, minutes } => otp_code(locale, code, *minutes),
        };
        Mail { subject, text }
    }
}

fn otp_code(locale: Locale, code: &str, minutes: u32) -> (String, String) {
    match locale {
        Locale::En => (
            "Your confirmation code".into(),
            format!(
                "Hello,\n\nyour confirmation code is {code}\n\nGive it only to the person with you who asked for it. It is valid for {minutes} minutes. If nobody asked you for a code, ignore this mail."
            ),
        ),
        Locale::De => (
            "Ihr Bestätigungscode".into(),
            format!(
                "Guten Tag,\n\nIhr Bestätigungscode lautet {code}\n\nGeben Sie ihn nur der Person vor Ort, die danach fragt. Er gilt {minutes} Minuten. Wenn niemand Sie nach einem Code gefragt hat, ignorieren Sie diese E-Mail."
            ),
        ),
        Locale::Cs => (
            "Váš potvrzovací kód".into(),
            format!(
                "Dobrý den,\n\nváš potvrzovací kód je {code}\n\nSdělte jej jen osobě na místě, která o něj žádá. Platí {minutes} minut. Pokud vás o kód nikdo nežádal, tento e-mail ignorujte."
            ),
        ),
        Locale::Tr => (
            "Onay kodunuz".into(),
            format!(
                "Merhaba,\n\nonay kodunuz {code}\n\nKodu yalnızca yanınızda olup isteyen kişiye verin. {minutes} dakika geçerlidir. Kimse sizden kod istemediyse bu e-postayı dikkate almayın."
            ),
        ),
    }
}

fn verify_email(locale: Locale, name: &str, code: &str, link: &str) -> (String, String) {
    match locale {
        Locale::En => (
            "Confirm your e-mail address".into(),
            format!(
                "Hello {name},\n\nyour confirmation code is {code}\n\nEnter it where you registered, or open this link:\n{link}\n\nThe code is valid for 24 hours. If you did not register, ignore this mail."
            ),
        ),
        Locale::De => (
            "Bestätigen Sie Ihre E-Mail-Adresse".into(),
            format!(
                "Hallo {name},\n\nIhr Bestätigungscode lautet {code}\n\nGeben Sie ihn bei der Registrierung ein oder öffnen Sie diesen Link:\n{link}\n\nDer Code gilt 24 Stunden. Wenn Sie sich nicht registriert haben, ignorieren Sie diese E-Mail."
            ),
        ),
        Locale::Cs => (
            "Potvrďte svou e-mailovou adresu".into(),
            format!(
                "Dobrý den, {name},\n\nváš potvrzovací kód je {code}\n\nZadejte jej tam, kde jste se registrovali, nebo otevřete tento odkaz:\n{link}\n\nKód platí 24 hodin. Pokud jste se neregistrovali, tento e-mail ignorujte."
            ),
        ),
        Locale::Tr => (
            "E-posta adresinizi doğrulayın".into(),
            format!(
                "Merhaba {name},\n\ndoğrulama kodunuz {code}\n\nKodu kayıt olduğunuz yere girin veya bu bağlantıyı açın:\n{link}\n\nKod 24 saat geçerlidir. Kayıt olmadıysanız bu e-postayı dikkate almayın."
            ),
        ),
    }
}

fn registration_received(locale: Locale, name: &str, awaiting_approval: bool) -> (String, String) {
    match (locale, awaiting_approval) {
        (Locale::En, false) => (
            "Your registration".into(),
            format!(
                "Hello {name},\n\nthank you for registering. You can sign in once your e-mail address is confirmed (where we asked for it)."
            ),
        ),
        (Locale::En, true) => (
            "Your registration".into(),
            format!(
                "Hello {name},\n\nthank you for registering. An administrator will review your account; we will write to you when it is approved."
            ),
        ),
        (Locale::De, false) => (
            "Ihre Registrierung".into(),
            format!(
                "Hallo {name},\n\nvielen Dank für Ihre Registrierung. Sie können sich anmelden, sobald Ihre E-Mail-Adresse bestätigt ist (sofern wir darum gebeten haben)."
            ),
        ),
        (Locale::De, true) => (
            "Ihre Registrierung".into(),
            format!(
                "Hallo {name},\n\nvielen Dank für Ihre Registrierung. Ein Administrator prüft Ihr Konto; wir schreiben Ihnen, sobald es freigegeben ist."
            ),
        ),
        (Locale::Cs, false) => (
            "Vaše registrace".into(),
            format!(
                "Dobrý den, {name},\n\nděkujeme za registraci. Přihlásit se můžete, jakmile bude vaše e-mailová adresa potvrzena (pokud jsme o to žádali)."
            ),
        ),
        (Locale::Cs, true) => (
            "Vaše registrace".into(),
            format!(
                "Dobrý den, {name},\n\nděkujeme za registraci. Váš účet zkontroluje administrátor; napíšeme vám, jakmile bude schválen."
            ),
        ),
        (Locale::Tr, false) => (
            "Kaydınız".into(),
            format!(
                "Merhaba {name},\n\nkaydınız için teşekkür ederiz. E-posta adresiniz doğrulandıktan sonra (istendiyse) giriş yapabilirsiniz."
            ),
        ),
        (Locale::Tr, true) => (
            "Kaydınız".into(),
            format!(
                "Merhaba {name},\n\nkaydınız için teşekkür ederiz. Hesabınızı bir yönetici inceleyecek; onaylandığında size yazacağız."
            ),
        ),
    }
}

fn already_registered(locale: Locale, name: &str) -> (String, String) {
    match locale {
        Locale::En => (
            "Someone tried to register with your address".into(),
            format!(
                "Hello {name},\n\nsomeone just tried to register a new account with this e-mail address, which already has an account. If it was you, sign in instead, or reset your password if you forgot it. If it was not you, you need not do anything."
            ),
        ),
        Locale::De => (
            "Registrierungsversuch mit Ihrer Adresse".into(),
            format!(
                "Hallo {name},\n\njemand hat gerade versucht, mit dieser E-Mail-Adresse ein neues Konto anzulegen; für sie besteht bereits ein Konto. Waren Sie das, melden Sie sich stattdessen an oder setzen Sie Ihr Passwort zurück. Andernfalls müssen Sie nichts tun."
            ),
        ),
        Locale::Cs => (
            "Pokus o registraci s vaší adresou".into(),
            format!(
                "Dobrý den, {name},\n\nněkdo se právě pokusil založit nový účet s touto e-mailovou adresou, ke které již účet existuje. Pokud jste to byli vy, přihlaste se, případně si obnovte heslo. Pokud ne, nemusíte nic dělat."
            ),
        ),
        Locale::Tr => (
            "Adresinizle kayıt denemesi".into(),
            format!(
                "Merhaba {name},\n\nbirisi az önce bu e-posta adresiyle yeni bir hesap oluşturmayı denedi; bu adresin zaten bir hesabı var. Siz iseniz bunun yerine giriş yapın veya şifrenizi sıfırlayın. Siz değilseniz bir şey yapmanıza gerek yok."
            ),
        ),
    }
}

fn approval_requested(locale: Locale, customer: &str, email: &str, queue_link: &str) -> (String, String) {
    match locale {
        Locale::En => (
            "A registration waits for approval".into(),
            format!(
                "{customer} <{email}> registered and waits for approval.\n\nApproval queue: {queue_link}"
            ),
        ),
        Locale::De => (
            "Eine Registrierung wartet auf Freigabe".into(),
            format!(
                "{customer} <{email}> hat sich registriert und wartet auf Freigabe.\n\nFreigabeliste: {queue_link}"
            ),
        ),
        Locale::Cs => (
            "Registrace čeká na schválení".into(),
            format!(
                "{customer} <{email}> se zaregistroval(a) a čeká na schválení.\n\nFronta ke schválení: {queue_link}"
            ),
        ),
        Locale::Tr => (
            "Bir kayıt onay bekliyor".into(),
            format!("{customer} <{email}> kayıt oldu ve onay bekliyor.\n\nOnay kuyruğu: {queue_link}"),
        ),
    }
}

fn account_approved(locale: Locale, name: &str, sign_in_link: &str) -> (String, String) {
    match locale {
        Locale::En => (
            "Your account is approved".into(),
            format!("Hello {name},\n\nyour account has been approved. You can sign in now:\n{sign_in_link}"),
        ),
        Locale::De => (
            "Ihr Konto ist freigegeben".into(),
            format!(
                "Hallo {name},\n\nIhr Konto wurde freigegeben. Sie können sich jetzt anmelden:\n{sign_in_link}"
            ),
        ),
        Locale::Cs => (
            "Váš účet byl schválen".into(),
            format!("Dobrý den, {name},\n\nváš účet byl schválen. Nyní se můžete přihlásit:\n{sign_in_link}"),
        ),
        Locale::Tr => (
            "Hesabınız onaylandı".into(),
            format!("Merhaba {name},\n\nhesabınız onaylandı. Artık giriş yapabilirsiniz:\n{sign_in_link}"),
        ),
    }
}

fn account_rejected(locale: Locale, name: &str, reason: &str) -> (String, String) {
    match locale {
        Locale::En => (
            "Your registration was not approved".into(),
            format!("Hello {name},\n\nyour registration was not approved.\n\nReason: {reason}"),
        ),
        Locale::De => (
            "Ihre Registrierung wurde nicht freigegeben".into(),
            format!("Hallo {name},\n\nIhre Registrierung wurde nicht freigegeben.\n\nBegründung: {reason}"),
        ),
        Locale::Cs => (
            "Vaše registrace nebyla schválena".into(),
            format!("Dobrý den, {name},\n\nvaše registrace nebyla schválena.\n\nDůvod: {reason}"),
        ),
        Locale::Tr => (
            "Kaydınız onaylanmadı".into(),
            format!("Merhaba {name},\n\nkaydınız onaylanmadı.\n\nGerekçe: {reason}"),
        ),
    }
}

/// Appends the "not me" link every device mail carries.
fn with_not_me((subject, text): (String, String), locale: Locale, link: &str) -> (String, String) {
    let line = match locale {
        Locale::En => "Not you? Secure your account here (signs out everywhere and starts a password reset):",
        Locale::De => {
            "Das waren nicht Sie? Sichern Sie hier Ihr Konto (meldet überall ab und startet das Zurücksetzen des Passworts):"
        }
        Locale::Cs => "Nebyli jste to vy? Zabezpečte zde svůj účet (odhlásí vše a zahájí obnovu hesla):",
        Locale::Tr => {
            "Siz değil misiniz? Hesabınızı buradan güvene alın (her yerden çıkış yapar ve şifre sıfırlamayı başlatır):"
        }
    };
    (subject, format!("{text}\n\n{line}\n{link}"))
}

fn confirm_device(locale: Locale, name: &str, device: &str, code: &str, link: &str) -> (String, String) {
    match locale {
        Locale::En => (
            "Confirm the sign-in from a new device".into(),
            format!(
                "Hello {name},\n\nsomeone signed in to your account with the right password from a device we do not know yet:\n{device}\n\nIf that was you, enter this code on that device: {code}\nor confirm here: {link}\n\nThe code is valid for 15 minutes. If it was not you, change your password."
            ),
        ),
        Locale::De => (
            "Anmeldung von einem neuen Gerät bestätigen".into(),
            format!(
                "Hallo {name},\n\njemand hat sich mit dem richtigen Passwort von einem uns noch unbekannten Gerät angemeldet:\n{device}\n\nWaren Sie das, geben Sie auf diesem Gerät den Code {code} ein\noder bestätigen Sie hier: {link}\n\nDer Code gilt 15 Minuten. Waren Sie es nicht, ändern Sie Ihr Passwort."
            ),
        ),
        Locale::Cs => (
            "Potvrďte přihlášení z nového zařízení".into(),
            format!(
                "Dobrý den, {name},\n\nněkdo se přihlásil správným heslem z zařízení, které zatím neznáme:\n{device}\n\nPokud jste to byli vy, zadejte na tomto zařízení kód {code}\nnebo potvrďte zde: {link}\n\nKód platí 15 minut. Pokud jste to nebyli vy, změňte si heslo."
            ),
        ),
        Locale::Tr => (
            "Yeni bir cihazdan girişi onaylayın".into(),
            format!(
                "Merhaba {name},\n\nbiri hesabınıza doğru şifreyle henüz tanımadığımız bir cihazdan giriş yaptı:\n{device}\n\nSiz iseniz o cihazda şu kodu girin: {code}\nveya buradan onaylayın: {link}\n\nKod 15 dakika geçerlidir. Siz değilseniz şifrenizi değiştirin."
            ),
        ),
    }
}

fn new_device_sign_in(locale: Locale, name: &str, device: &str, when: &str) -> (String, String) {
    match locale {
        Locale::En => (
            "New sign-in to your account".into(),
            format!(
                "Hello {name},\n\nyour account was signed in to from a new device:\n{device}\nat {when}.\n\nIf that was not you, change your password and remove the device under your account's devices."
            ),
        ),
        Locale::De => (
            "Neue Anmeldung bei Ihrem Konto".into(),
            format!(
                "Hallo {name},\n\nIhr Konto wurde soeben auf einem neuen Gerät angemeldet:\n{device}\num {when}.\n\nWaren Sie das nicht, ändern Sie Ihr Passwort und entfernen Sie das Gerät in Ihrer Geräteliste."
            ),
        ),
        Locale::Cs => (
            "Nové přihlášení k vašemu účtu".into(),
            format!(
                "Dobrý den, {name},\n\nk vašemu účtu se přihlásilo nové zařízení:\n{device}\nv {when}.\n\nPokud jste to nebyli vy, změňte si heslo a zařízení odeberte ze seznamu zařízení."
            ),
        ),
        Locale::Tr => (
            "Hesabınıza yeni giriş".into(),
            format!(
                "Merhaba {name},\n\nhesabınıza yeni bir cihazdan giriş yapıldı:\n{device}\nzaman: {when}.\n\nSiz değilseniz şifrenizi değiştirin ve cihazı cihaz listenizden kaldırın."
            ),
        ),
    }
}

fn password_reset(locale: Locale, name: &str, link: &str) -> (String, String) {
    match locale {
        Locale::En => (
            "Reset your password".into(),
            format!(
                "Hello {name},\n\nto choose a new password, open this link within 30 minutes:\n{link}\n\nIf you did not ask for this, ignore this mail; your password stays as it is."
            ),
        ),
        Locale::De => (
            "Passwort zurücksetzen".into(),
            format!(
                "Hallo {name},\n\num ein neues Passwort zu wählen, öffnen Sie innerhalb von 30 Minuten diesen Link:\n{link}\n\nHaben Sie das nicht angefordert, ignorieren Sie diese E-Mail; Ihr Passwort bleibt unverändert."
            ),
        ),
        Locale::Cs => (
            "Obnovení hesla".into(),
            format!(
                "Dobrý den, {name},\n\npro nastavení nového hesla otevřete do 30 minut tento odkaz:\n{link}\n\nPokud jste o to nežádali, e-mail ignorujte; vaše heslo zůstává beze změny."
            ),
        ),
        Locale::Tr => (
            "Şifrenizi sıfırlayın".into(),
            format!(
                "Merhaba {name},\n\nyeni bir şifre belirlemek için 30 dakika içinde bu bağlantıyı açın:\n{link}\n\nBunu siz istemediyseniz bu e-postayı dikkate almayın; şifreniz değişmez."
            ),
        ),
    }
}

fn password_changed(locale: Locale, name: &str) -> (String, String) {
    match locale {
        Locale::En => (
            "Your password was changed".into(),
            format!(
                "Hello {name},\n\nthe password of your account was just changed and your other sessions were signed out. If that was not you, reset your password at once."
            ),
        ),
        Locale::De => (
            "Ihr Passwort wurde geändert".into(),
            format!(
                "Hallo {name},\n\ndas Passwort Ihres Kontos wurde soeben geändert und Ihre anderen Sitzungen wurden abgemeldet. Waren Sie das nicht, setzen Sie Ihr Passwort sofort zurück."
            ),
        ),
        Locale::Cs => (
            "Vaše heslo bylo změněno".into(),
            format!(
                "Dobrý den, {name},\n\nheslo vašeho účtu bylo právě změněno a vaše ostatní relace byly odhlášeny. Pokud jste to nebyli vy, heslo si ihned obnovte."
            ),
        ),
        Locale::Tr => (
            "Şifreniz değiştirildi".into(),
            format!(
                "Merhaba {name},\n\nhesabınızın şifresi az önce değiştirildi ve diğer oturumlarınız kapatıldı. Siz değilseniz şifrenizi hemen sıfırlayın."
            ),
        ),
    }
}

fn email_change_code(locale: Locale, name: &str, code: &str) -> (String, String) {
    match locale {
        Locale::En => (
            "Confirm your new e-mail address".into(),
            format!(
                "Hello {name},\n\nto move your account to this address, enter this code: {code}\n\nThe code is valid for one hour. If you did not ask for this, ignore this mail."
            ),
        ),
        Locale::De => (
            "Bestätigen Sie Ihre neue E-Mail-Adresse".into(),
            format!(
                "Hallo {name},\n\num Ihr Konto auf diese Adresse umzustellen, geben Sie diesen Code ein: {code}\n\nDer Code gilt eine Stunde. Haben Sie das nicht angefordert, ignorieren Sie diese E-Mail."
            ),
        ),
        Locale::Cs => (
            "Potvrďte svou novou e-mailovou adresu".into(),
            format!(
                "Dobrý den, {name},\n\npro převedení účtu na tuto adresu zadejte tento kód: {code}\n\nKód platí jednu hodinu. Pokud jste o to nežádali, e-mail ignorujte."
            ),
        ),
        Locale::Tr => (
            "Yeni e-posta adresinizi doğrulayın".into(),
            format!(
                "Merhaba {name},\n\nhesabınızı bu adrese taşımak için şu kodu girin: {code}\n\nKod bir saat geçerlidir. Bunu siz istemediyseniz bu e-postayı dikkate almayın."
            ),
        ),
    }
}

fn email_change_notice(locale: Locale, name: &str, new_address: &str, completed: bool) -> (String, String) {
    match (locale, completed) {
        (Locale::En, false) => (
            "Your e-mail address is about to change".into(),
            format!(
                "Hello {name},\n\nsomeone signed in to your account asked to change its e-mail address to {new_address}. If that was not you, reset your password now."
            ),
        ),
        (Locale::En, true) => (
            "Your e-mail address was changed".into(),
            format!(
                "Hello {name},\n\nyour account now uses {new_address}; this address is no longer connected to it. If that was not you, contact us at once."
            ),
        ),
        (Locale::De, false) => (
            "Ihre E-Mail-Adresse soll geändert werden".into(),
            format!(
                "Hallo {name},\n\njemand, der bei Ihrem Konto angemeldet ist, möchte die E-Mail-Adresse auf {new_address} ändern. Waren Sie das nicht, setzen Sie jetzt Ihr Passwort zurück."
            ),
        ),
        (Locale::De, true) => (
            "Ihre E-Mail-Adresse wurde geändert".into(),
            format!(
                "Hallo {name},\n\nIhr Konto verwendet jetzt {new_address}; diese Adresse ist nicht mehr damit verbunden. Waren Sie das nicht, melden Sie sich sofort bei uns."
            ),
        ),
        (Locale::Cs, false) => (
            "Vaše e-mailová adresa se má změnit".into(),
            format!(
                "Dobrý den, {name},\n\nněkdo přihlášený k vašemu účtu požádal o změnu e-mailové adresy na {new_address}. Pokud jste to nebyli vy, ihned si obnovte heslo."
            ),
        ),
        (Locale::Cs, true) => (
            "Vaše e-mailová adresa byla změněna".into(),
            format!(
                "Dobrý den, {name},\n\nváš účet nyní používá {new_address}; tato adresa s ním již není spojena. Pokud jste to nebyli vy, ihned nás kontaktujte."
            ),
        ),
        (Locale::Tr, false) => (
            "E-posta adresiniz değiştirilmek üzere".into(),
            format!(
                "Merhaba {name},\n\nhesabınızda oturum açmış biri e-posta adresini {new_address} olarak değiştirmek istedi. Siz değilseniz şifrenizi hemen sıfırlayın."
            ),
        ),
        (Locale::Tr, true) => (
            "E-posta adresiniz değiştirildi".into(),
            format!(
                "Merhaba {name},\n\nhesabınız artık {new_address} adresini kullanıyor; bu adres artık hesaba bağlı değil. Siz değilseniz hemen bizimle iletişime geçin."
            ),
        ),
    }
}

fn email_in_use(locale: Locale) -> (String, String) {
    let (subject, text) = match locale {
        Locale::En => (
            "Someone tried to use your address",
            "Hello,\n\nsomeone tried to move another account to this e-mail address, which already has an account. You need not do anything.",
        ),
        Locale::De => (
            "Jemand wollte Ihre Adresse verwenden",
            "Hallo,\n\njemand wollte ein anderes Konto auf diese E-Mail-Adresse umstellen, für die bereits ein Konto besteht. Sie müssen nichts tun.",
        ),
        Locale::Cs => (
            "Někdo se pokusil použít vaši adresu",
            "Dobrý den,\n\nněkdo se pokusil převést jiný účet na tuto e-mailovou adresu, ke které již účet existuje. Nemusíte nic dělat.",
        ),
        Locale::Tr => (
            "Biri adresinizi kullanmaya çalıştı",
            "Merhaba,\n\nbiri başka bir hesabı, zaten bir hesabı olan bu e-posta adresine taşımaya çalıştı. Bir şey yapmanıza gerek yok.",
        ),
    };
    (subject.into(), text.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCALES: [Locale; 4] = [Locale::En, Locale::De, Locale::Cs, Locale::Tr];

    #[test]
    fn names_people_chose_never_become_links_and_portico_s_links_stay_links() {
        let template = MailTemplate::ApprovalRequested {
            customer: "Booking.com",
            email: "ann@booking.com",
            queue_link: "https://portico.example/admin/",
        };
        let mail = template.render(Locale::En);
        assert!(mail.text.contains("Booking.\u{200B}com"), "{}", mail.text);
        assert!(!mail.text.contains("Booking.com"), "no linkable domain left");
        assert!(mail.text.contains("https://portico.example/admin/"), "Portico's own link intact");
        let device = MailTemplate::NewDeviceSignIn {
            name: "Eve",
            device: "evil.example:443",
            when: "now",
            not_me_link: "https://portico.example/links/not-me?token=t",
        };
        let text = device.render(Locale::De).text;
        assert!(text.contains("evil.\u{200B}example:\u{200B}443"), "{text}");
        assert!(text.contains("https://portico.example/links/not-me?token=t"));
    }

    #[test]
    fn verification_mail_carries_code_and_link_in_every_language() {
        let template =
            MailTemplate::VerifyEmail { name: "Ann", code: "123456", link: "https://x/links/verify?token=t" };
        let subjects: std::collections::BTreeSet<String> =
            LOCALES.iter().map(|&locale| template.render(locale).subject).collect();
        assert_eq!(subjects.len(), 4, "each language has its own subject");
        for locale in LOCALES {
            let mail = template.render(locale);
            assert!(
                mail.text.contains("123456") && mail.text.contains("https://x/links/verify?token=t"),
                "{locale:?}"
            );
        }
    }

    #[test]
    fn rejection_carries_reason() {
        for locale in LOCALES {
            let mail =
                MailTemplate::AccountRejected { name: "Ann", reason: "unknown company" }.render(locale);
            assert!(mail.text.contains("unknown company"));
        }
    }
}
