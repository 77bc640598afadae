//! Every key Portico uses, derived from the one master secret with HKDF-SHA256, so a deployment
//! has one secret to store and rotate, and no key serves two purposes.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::jwt::JwtKeys;

type HmacSha256 = Hmac<Sha256>;

/// What a keyed hash is for; part of the hashed input, so a hash made for one purpose never
/// verifies for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashPurpose {
    EmailVerificationCode,
    EmailVerificationLink,
    RefreshToken,
    DeviceId,
    DeviceConfirmationCode,
    DeviceConfirmationLink,
    PasswordReset,
    EmailChangeCode,
    NotMe,
    OtpCode,
    /// The subject of an OTP recipient's send counter: the number or address never sits in a key.
    OtpRecipient,
    /// The subject of a mailbox's mail counter (`Email::mailbox`).
    Mailbox,
    /// A workflow rule's webhook signing secret (of its id): derived, never stored.
    WebhookSecret,
    /// The subject of an address's password attempts (whether or not an account has it).
    PasswordAttempts,
}

impl HashPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::EmailVerificationCode => b"email-verification-code",
            Self::EmailVerificationLink => b"email-verification-link",
            Self::RefreshToken => b"refresh-token",
            Self::DeviceId => b"device-id",
            Self::DeviceConfirmationCode => b"device-confirmation-code",
            Self::DeviceConfirmationLink => b"device-confirmation-link",
            Self::PasswordReset => b"password-reset",
            Self::EmailChangeCode => b"email-change-code",
            Self::NotMe => b"not-me",
            Self::OtpCode => b"otp-code",
            Self::OtpRecipient => b"otp-recipient",
            Self::Mailbox => b"mailbox",
            Self::WebhookSecret => b"webhook-secret",
            Self::PasswordAttempts => b"password-attempts",
        }
    }
}

pub struct Keys {
    pub jwt: JwtKeys,
    token_hash_key: [u8; 32],
    cursor_key: [u8; 32],
    cursor_sealing_key: LessSafeKey,
}

impl Keys {
    pub fn derive(master_secret: &[u8], issuer: &str, audience: &str) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(b"portico/v1"), master_secret);
        let expand = |info: &[u8]| {
            let mut key = [0u8; 32];
            // 32 bytes is far below HKDF-SHA256's 8160-byte output limit, so this cannot fail.
            let _ = hkdf.expand(info, &mut key);
            key
        };
        Self {
            jwt: JwtKeys::new(&expand(b"jwt-hs256"), issuer, audience),
            token_hash_key: expand(b"token-hash"),
            cursor_key: expand(b"cursor-signing"),
            cursor_sealing_key: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &expand(b"cursor-sealing"))
                    .unwrap_or_else(|_| unreachable!("AES-256-GCM takes a 32-byte key")),
            ),
        }
    }

    /// HMAC-SHA256 of `value` for `purpose`, base64url: what the store keeps instead of a code or token.
    pub fn keyed_hash(&self, purpose: HashPurpose, value: &str) -> String {
        URL_SAFE_NO_PAD.encode(Self::mac(&self.token_hash_key, &[purpose.label(), b"\0", value.as_bytes()]))
    }

    /// The stored form of a client's device id: keyed, and bound to the account, so the same
    /// device shows up under different ids in different accounts.
    pub fn device_hash(&self, account_id: ulid::Ulid, device_id: &str) -> String {
        self.keyed_hash(HashPurpose::DeviceId, &format!("{account_id}:{device_id}"))
    }

    /// Constant-time check of `value` against a stored keyed hash.
    pub fn verify_keyed_hash(&self, purpose: HashPurpose, value: &str, stored: &str) -> bool {
        let Ok(expected) = URL_SAFE_NO_PAD.decode(stored) else { return false };
        let mut mac = Self::keyed(&self.token_hash_key);
        for part in [purpose.label(), b"\0", value.as_bytes()] {
            mac.update(part);
        }
        mac.verify_slice(&expected).is_ok()
    }

    /// The secret workflow rule `rule_id` signs its webhooks with: derived from the master secret,
    /// so it is stored nowhere; shown to the admin once, when the rule is created.
    pub fn webhook_secret(&self, rule_id: ulid::Ulid) -> String {
        format!("whsec_{}", self.keyed_hash(HashPurpose::WebhookSecret, &rule_id.to_string()))
    }

    /// `Webhook-Signature` of `body` sent at `timestamp` (Unix seconds) with `secret`:
    /// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
    pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = Self::mac_with(secret.as_bytes(), &[timestamp.to_string().as_bytes(), b".", body]);
        let hex: String = tag.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("t={timestamp},v1={hex}")
    }

    /// Signs an opaque pagination cursor: `payload.tag`.
    pub fn sign_cursor(&self, payload: &[u8]) -> String {
        let tag = Self::mac(&self.cursor_key, &[payload]);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
    }

    /// Seals `payload` into an opaque cursor for `context` (AES-256-GCM, a random nonce): its
    /// content can't be read — index keys may carry field values the holder must not see —
    /// and it opens only for the same context (the customer and module a portal list is for).
    pub fn seal_cursor(&self, payload: &[u8], context: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        // The system's random source failing leaves no safe way to continue.
        aws_lc_rs::rand::fill(&mut nonce).unwrap_or_else(|_| panic!("the system random source failed"));
        let mut sealed = payload.to_vec();
        let tag = self
            .cursor_sealing_key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut sealed)
            .unwrap_or_else(|_| unreachable!("a cursor is far below AES-GCM's message limit"));
        let mut token = nonce.to_vec();
        token.extend_from_slice(&sealed);
        token.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The payload of a cursor made by `seal_cursor` for `context`, or `None` if it was altered
    /// or made for another context.
    pub fn open_sealed_cursor(&self, cursor: &str, context: &[u8]) -> Option<Vec<u8>> {
        let token = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if token.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = token.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let opened = self.cursor_sealing_key.open_in_place(nonce, Aad::from(context), &mut sealed).ok()?;
        Some(opened.to_vec())
    }

    /// The payload of a cursor made by `sign_cursor`, or `None` if it was altered.
    pub fn open_cursor(&self, cursor: &str) -> Option<Vec<u8>> {
        let (payload, tag) = cursor.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = Self::keyed(&self.cursor_key);
        mac.update(&payload);
        mac.verify_slice(&tag).ok()?;
        Some(payload)
    }

    fn keyed(key: &[u8; 32]) -> HmacSha256 {
        // HMAC accepts keys of any length.
        <HmacSha256 as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    fn mac(key: &[u8; 32], parts: &[&[u8]]) -> Vec<u8> {
        Self::mac_with(key, parts)
    }

    fn mac_with(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC accepts keys of any length.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::derive(b"0123456789abcdef0123456789abcdef", "portico", "portico-api")
    }

    #[test]
    fn keyed_hash_verifies_only_same_purpose_and_value() {
        let keys = keys();
        let hash = keys.keyed_hash(HashPurpose::EmailVerificationCode, "123456");
        assert!(keys.verify_keyed_hash(HashPurpose::EmailVerificationCode, "123456", &hash));
        assert!(!keys.verify_keyed_hash(HashPurpose::EmailVerificationCode, "123457", &hash));
        assert!(!keys.verify_keyed_hash(HashPurpose::RefreshToken, "123456", &hash));
        assert!(!keys.verify_keyed_hash(HashPurpose::EmailVerificationCode, "123456", "not base64!"));
    }

    #[test]
    fn different_secrets_give_different_hashes() {
        let other = Keys::derive(b"fedcba9876543210fedcba9876543210", "portico", "portico-api");
        assert_ne!(
            keys().keyed_hash(HashPurpose::DeviceId, "device"),
            other.keyed_hash(HashPurpose::DeviceId, "device")
        );
    }

    #[test]
    fn cursor_round_trip_and_tamper() {
        let keys = keys();
        let cursor = keys.sign_cursor(br#"{"PK":"A"}"#);
        assert_eq!(keys.open_cursor(&cursor).as_deref(), Some(&br#"{"PK":"A"}"#[..]));
        let (payload, tag) = cursor.split_once('.').unwrap_or_default();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(br#"{"PK":"B"}"#));
        assert_ne!(payload, URL_SAFE_NO_PAD.encode(br#"{"PK":"B"}"#));
        assert_eq!(keys.open_cursor(&forged), None);
        assert_eq!(keys.open_cursor("garbage"), None);
    }

    #[test]
    fn sealed_cursors_hide_their_payload_and_open_only_in_their_context() {
        let keys = Keys::derive(&[7; 32], "portico", "portico-api");
        let payload = br#"{"GSI8PK":"KEY#products#region#cz"}"#;
        let cursor = keys.seal_cursor(payload, b"customer-a/products");
        assert!(
            !String::from_utf8_lossy(&URL_SAFE_NO_PAD.decode(&cursor).unwrap_or_default()).contains("region")
        );
        assert_eq!(keys.open_sealed_cursor(&cursor, b"customer-a/products").as_deref(), Some(&payload[..]));
        assert_eq!(keys.open_sealed_cursor(&cursor, b"customer-b/products"), None);
        assert_eq!(keys.open_sealed_cursor(&cursor, b"customer-a/quotes"), None);
        assert_ne!(
            keys.seal_cursor(payload, b"c"),
            keys.seal_cursor(payload, b"c"),
            "a fresh nonce each time"
        );
        let mut tampered = URL_SAFE_NO_PAD.decode(&cursor).unwrap_or_default();
        if let Some(byte) = tampered.get_mut(14) {
            *byte ^= 1;
        }
        assert_eq!(keys.open_sealed_cursor(&URL_SAFE_NO_PAD.encode(tampered), b"customer-a/products"), None);
        assert_eq!(keys.open_sealed_cursor("short", b"customer-a/products"), None);
    }

    #[test]
    fn webhook_signatures_follow_the_documented_recipe() {
        // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let known = Keys::mac_with(b"Jefe", &[b"what do ya ", b"want for nothing?"]);
        let hex = |bytes: &[u8]| bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>();
        assert_eq!(hex(&known), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // The signed text is "<timestamp>.<body>".
        let signature = Keys::webhook_signature("Jefe", 1_795_000_000, b"{}");
        assert_eq!(
            signature,
            format!("t=1795000000,v1={}", hex(&Keys::mac_with(b"Jefe", &[b"1795000000.{}"])))
        );
        let keys = Keys::derive(&[7; 32], "portico", "portico-api");
        let rule = ulid::Ulid::from_parts(1, 2);
        assert_eq!(keys.webhook_secret(rule), keys.webhook_secret(rule));
        assert_ne!(keys.webhook_secret(rule), keys.webhook_secret(ulid::Ulid::from_parts(1, 3)));
    }
}
