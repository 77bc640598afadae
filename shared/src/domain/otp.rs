//! OTP rules (SPEC §3, seed 000): which record changes need the customer's one-time password,
//! what the code looks like, how it reaches the customer. Pure: validated when saved, with a
//! path to every error, and evaluated against a change without I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::criteria::{
    self, Criteria, EvalContext, FieldSchema, FieldType, Record, ValidatedCriteria, ValidationContext, Value,
};
use crate::domain::Locale;
use crate::domain::challenge::Alphabet;
use crate::domain::modules::{self, Module, field_json, parse_field};

pub const MIN_CODE_LENGTH: u8 = 4;
pub const MAX_CODE_LENGTH: u8 = 10;
pub const MIN_VALIDITY_SECONDS: u32 = 60;
pub const MAX_VALIDITY_SECONDS: u32 = 600;
pub const MAX_NAME_CHARS: usize = 100;
/// Below this a code is guessable in too few tries: the entropy of 6 digits (19.9 bits), the
/// least ASVS 5.0 6.5.4 accepts (or 4 base-32 characters, 20 bits). Such a rule is saved, with
/// a warning.
pub const WEAK_CODE_BITS: f64 = 19.9;

/// How the code is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
    Whatsapp,
}

impl Channel {
    /// The field type a recipient of this channel must have.
    fn recipient_type(self) -> FieldType {
        match self {
            Self::Sms | Self::Whatsapp => FieldType::Phone,
            Self::Email => FieldType::Email,
        }
    }
}

/// Whether the code goes out as soon as the change is tried, or when the agent asks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SendMode {
    #[default]
    Automatic,
    Manual,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CodeKind {
    #[default]
    Numeric,
    Alphanumeric,
}

/// What the one-time password looks like and how long and how often it may be tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CodeOptions {
    #[serde(rename = "type")]
    pub kind: CodeKind,
    /// 4–10 characters.
    pub length: u8,
    /// 60–600 seconds (default 300).
    pub validity_seconds: u32,
    /// New codes the agent may ask for (default 3).
    pub max_resends: u32,
    /// Wrong codes before the challenge locks (default 5).
    pub max_attempts: u32,
}

impl Default for CodeOptions {
    fn default() -> Self {
        Self { kind: CodeKind::Numeric, length: 6, validity_seconds: 300, max_resends: 3, max_attempts: 5 }
    }
}

impl CodeOptions {
    /// The alphabet codes are drawn from: digits, or the shared challenge module's base 32
    /// (Crockford's, no look-alikes).
    pub fn alphabet(&self) -> Alphabet {
        match self.kind {
            CodeKind::Numeric => Alphabet::Digits,
            CodeKind::Alphanumeric => Alphabet::Base32,
        }
    }

    /// The code's entropy in bits: how many guesses it takes, as a power of two.
    pub fn entropy_bits(&self) -> f64 {
        f64::from(self.length) * (self.alphabet().symbols().len() as f64).log2()
    }
}

/// The change that trips the rule: `field` changes to `changed_to`, and `criteria` (if any)
/// hold on the record as it would be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub field: String,
    #[schema(value_type = Object)]
    pub changed_to: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub criteria: Option<Criteria>,
}

/// An OTP rule as admins write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpRuleDefinition {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    pub module: String,
    #[serde(default = "active_by_default")]
    pub active: bool,
    pub trigger: Trigger,
    #[serde(default)]
    pub otp: CodeOptions,
    /// One or more channels, in order of preference.
    pub channels: Vec<Channel>,
    /// Per channel, the field holding the recipient: a field of the record (`mobile`) or of its
    /// linked contact (`contact.mobile`).
    pub recipients: BTreeMap<Channel, String>,
    /// The language of messages (contacts carry none).
    #[serde(default)]
    pub locale: Locale,
    #[serde(default)]
    pub send_mode: SendMode,
}

fn active_by_default() -> bool {
    true
}

/// Where a channel's recipient is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientField {
    /// A field of the record itself.
    Record(String),
    /// A field of the contact the record's `contact_id` names.
    Contact(String),
}

/// A rule that passed validation: its module, the typed trigger value and compiled criteria.
#[derive(Debug, Clone)]
pub struct ValidOtpRule {
    pub definition: OtpRuleDefinition,
    pub module: &'static Module,
    pub trigger_value: Value,
    criteria: Option<ValidatedCriteria>,
    pub recipients: BTreeMap<Channel, RecipientField>,
}

type Errors = Vec<(String, String)>;

impl OtpRuleDefinition {
    /// Checks the rule against the modules' fields, naming the path of every error
    /// (`trigger.changed_to`, `recipients.sms`, `otp.length` …).
    pub fn validate(self) -> Result<ValidOtpRule, Errors> {
        let mut errors: Errors = Vec::new();
        let mut error = |path: &str, message: String| errors.push((path.to_owned(), message));
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            error("name", format!("must be 1 to {MAX_NAME_CHARS} characters"));
        }
        let otp = self.otp;
        if !(MIN_CODE_LENGTH..=MAX_CODE_LENGTH).contains(&otp.length) {
            error("otp.length", format!("must be {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH}"));
        }
        if !(MIN_VALIDITY_SECONDS..=MAX_VALIDITY_SECONDS).contains(&otp.validity_seconds) {
            error(
                "otp.validity_seconds",
                format!("must be {MIN_VALIDITY_SECONDS} to {MAX_VALIDITY_SECONDS}"),
            );
        }
        if otp.max_resends > 10 {
            error("otp.max_resends", "must be 0 to 10".into());
        }
        if !(1..=10).contains(&otp.max_attempts) {
            error("otp.max_attempts", "must be 1 to 10".into());
        }
        let Some(module) = modules::module(&self.module) else {
            error("module", "is not a module".into());
            return Err(errors);
        };
        let trigger_value = match module.fields.field_type(&self.trigger.field) {
            None => {
                error("trigger.field", format!("is not a field of {}", module.name));
                None
            }
            Some(field_type) => match parse_field(field_type, &self.trigger.changed_to) {
                Ok(Value::Null) => {
                    error("trigger.changed_to", "must be a value".into());
                    None
                }
                Ok(value) => Some(value),
                Err(message) => {
                    error("trigger.changed_to", message);
                    None
                }
            },
        };
        let criteria = match &self.trigger.criteria {
            None => None,
            Some(criteria) => {
                match criteria::validate(criteria, &module.fields, &ValidationContext::trigger()) {
                    Ok(valid) => Some(valid),
                    Err(found) => {
                        for found in found {
                            error(&format!("trigger.criteria.{}", found.path), found.kind.to_string());
                        }
                        None
                    }
                }
            }
        };
        if self.channels.is_empty() {
            error("channels", "must name at least one of sms, email, whatsapp".into());
        }
        let mut seen = Vec::new();
        for (index, channel) in self.channels.iter().enumerate() {
            if seen.contains(channel) {
                error(&format!("channels[{index}]"), "is named twice".into());
            }
            seen.push(*channel);
        }
        let mut recipients = BTreeMap::new();
        for channel in &self.channels {
            let path = format!("recipients.{}", channel_name(*channel));
            match self.recipients.get(channel) {
                None => error(&path, "is required for every channel".into()),
                Some(field) => match recipient_field(module, field, *channel) {
                    Ok(recipient) => {
                        recipients.insert(*channel, recipient);
                    }
                    Err(message) => error(&path, message),
                },
            }
        }
        for channel in self.recipients.keys().filter(|channel| !self.channels.contains(channel)) {
            error(
                &format!("recipients.{}", channel_name(*channel)),
                "names a channel the rule does not use".into(),
            );
        }
        let Some(trigger_value) = trigger_value.filter(|_| errors.is_empty()) else {
            return Err(errors);
        };
        Ok(ValidOtpRule {
            definition: OtpRuleDefinition { name: name.to_owned(), ..self },
            module,
            trigger_value,
            criteria,
            recipients,
        })
    }
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "sms",
        Channel::Email => "email",
        Channel::Whatsapp => "whatsapp",
    }
}

/// Where `path` points, if it holds what `channel` sends to.
fn recipient_field(module: &Module, path: &str, channel: Channel) -> Result<RecipientField, String> {
    let wanted = channel.recipient_type();
    let (schema, field, recipient): (&dyn FieldSchema, &str, fn(String) -> RecipientField) =
        match path.strip_prefix("contact.") {
            Some(field) => {
                if module.name == "contacts" {
                    return Err(format!("a contact is its own recipient: name the field, `{field}`"));
                }
                if !module.has_contact() {
                    return Err(format!("{} records have no contact", module.name));
                }
                let contacts = modules::module("contacts").ok_or("contacts are missing")?;
                (&contacts.fields, field, RecipientField::Contact)
            }
            None => (&module.fields, path, RecipientField::Record),
        };
    match schema.field_type(field) {
        None => Err(format!("`{path}` is not a field")),
        Some(found) if *found == wanted => Ok(recipient(field.to_owned())),
        Some(_) => Err(format!(
            "`{path}` is not a {} field",
            if wanted == FieldType::Phone { "phone" } else { "e-mail" }
        )),
    }
}

impl ValidOtpRule {
    /// Whether changing a record from `old` to `new` trips the rule: the trigger field becomes
    /// its value now (it did not hold it before) and the criteria hold on `new`.
    pub fn trips(&self, old: &dyn Record, new: &dyn Record, now: DateTime<Utc>) -> bool {
        if !self.definition.active {
            return false;
        }
        let field = self.definition.trigger.field.as_str();
        let becomes = new.get(field).is_some_and(|value| *value == self.trigger_value)
            && old.get(field).is_none_or(|value| *value != self.trigger_value);
        becomes
            && self.criteria.as_ref().is_none_or(|criteria| {
                criteria.compiled().evaluate(&EvalContext::new(new, now).with_old(old))
            })
    }

    /// The fields of the record the code's recipients are read through: a field of its own, or
    /// `contact_id` for a field of its contact.
    pub fn recipient_sources(&self) -> impl Iterator<Item = &str> {
        self.recipients.values().map(|field| match field {
            RecipientField::Record(name) => name.as_str(),
            RecipientField::Contact(_) => "contact_id",
        })
    }

    /// Whether changing `old` to `new` moves where the code would go (a record that has a
    /// recipient source gets another one, loses it, or gains one beside those it has — the
    /// agent could then pick that channel): guarded like the trigger, or whoever may change the
    /// record could first point it at a number of their own. A record with no recipient at all
    /// gets its first one freely: there is no customer yet to ask.
    pub fn moves_recipient(&self, old: &dyn Record, new: &dyn Record) -> bool {
        moves_any(self.definition.active, &self.recipient_sources().collect::<Vec<_>>(), old, new)
    }

    /// The fields of the linked contact the code may go to (`contact.mobile` → `mobile`).
    pub fn contact_sources(&self) -> impl Iterator<Item = &str> {
        self.recipients.values().filter_map(|field| match field {
            RecipientField::Contact(name) => Some(name.as_str()),
            RecipientField::Record(_) => None,
        })
    }

    /// Whether changing a *contact* from `old` to `new` moves where this rule (of another
    /// module) would send codes for that contact's records, as `moves_recipient` judges it.
    pub fn moves_contact_recipient(&self, old: &dyn Record, new: &dyn Record) -> bool {
        moves_any(self.definition.active, &self.contact_sources().collect::<Vec<_>>(), old, new)
    }

    /// Whether a record created with `values` would hold the guarded value from the start (such
    /// a record is refused: the value is reached only through a verified change).
    pub fn guards_value_of(&self, values: &dyn Record, now: DateTime<Utc>) -> bool {
        let empty: BTreeMap<String, Value> = BTreeMap::new();
        self.trips(&empty, values, now)
    }

    /// The trigger value as the API shows it.
    pub fn trigger_json(&self) -> serde_json::Value {
        let field_type = self.module.fields.field_type(&self.definition.trigger.field);
        field_type.map(|field_type| field_json(field_type, &self.trigger_value)).unwrap_or_default()
    }
}

/// How a recipient is shown to the agent: enough to tell the customer where the code went
/// ("+49•••••12", "p•••@example.com"), too little to harvest a number or an address.
pub fn recipient_hint(channel: Channel, recipient: &str) -> String {
    match channel {
        Channel::Sms | Channel::Whatsapp => {
            let chars: Vec<char> = recipient.chars().collect();
            // The `+` and the country code's first two digits, the last two digits.
            let head = chars.len().min(3);
            let tail = chars.len().saturating_sub(head).min(2);
            let hidden = chars.len() - head - tail;
            let mut hint: String = chars[..head].iter().collect();
            hint.extend(std::iter::repeat_n('•', hidden));
            hint.extend(&chars[chars.len() - tail..]);
            hint
        }
        Channel::Email => {
            let (local, domain) = recipient.rsplit_once('@').unwrap_or((recipient, ""));
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
    }
}

/// The SMS (and WhatsApp) text carrying a code, in `locale`.
pub fn code_message(locale: Locale, code: &str, valid_minutes: u32) -> String {
    match locale {
        Locale::En => format!(
            "Your confirmation code is {code}. Give it only to the agent with you. Valid {valid_minutes} min."
        ),
        Locale::De => format!(
            "Ihr Bestätigungscode lautet {code}. Geben Sie ihn nur der Person vor Ort. Gültig {valid_minutes} Min."
        ),
        Locale::Cs => format!(
            "Váš potvrzovací kód je {code}. Sdělte jej jen pracovníkovi na místě. Platí {valid_minutes} min."
        ),
        Locale::Tr => {
            format!("Onay kodunuz {code}. Yalnızca yanınızdaki görevliye verin. {valid_minutes} dk geçerli.")
        }
    }
}

/// Whether any of `sources` changes from `old` to `new`, once `old` has any of them.
fn moves_any(active: bool, sources: &[&str], old: &dyn Record, new: &dyn Record) -> bool {
    let set =
        |record: &dyn Record, field: &str| record.get(field).filter(|value| **value != Value::Null).cloned();
    active
        && sources.iter().any(|field| set(old, field).is_some())
        && sources.iter().any(|field| set(old, field) != set(new, field))
}

/// What saving a rule tells its author beyond success.
pub fn warnings(rule: &ValidOtpRule) -> Vec<String> {
    let bits = rule.definition.otp.entropy_bits();
    let mut warnings = Vec::new();
    if bits < WEAK_CODE_BITS {
        warnings.push(format!(
            "The code has {bits:.1} bits of entropy, below 6 digits' {WEAK_CODE_BITS} (ASVS 5.0 6.5.4: use at least 6 digits or 4 alphanumerics)."
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The seed's example: "Delivery confirmation OTP".
    fn seed_rule() -> serde_json::Value {
        json!({
            "name": "Delivery confirmation OTP",
            "module": "deliveries",
            "trigger": {"field": "status", "changed_to": "Delivered"},
            "otp": {"type": "numeric", "length": 5, "validity_seconds": 300},
            "channels": ["sms"],
            "recipients": {"sms": "contact.mobile"}
        })
    }

    fn parse(json: serde_json::Value) -> OtpRuleDefinition {
        serde_json::from_value(json).expect("definition")
    }

    fn record(status: &str) -> BTreeMap<String, Value> {
        BTreeMap::from([("status".to_owned(), Value::String(status.to_owned()))])
    }

    #[test]
    fn the_seed_rule_validates_and_trips_on_delivered_only() {
        let rule = parse(seed_rule()).validate().expect("valid");
        assert_eq!(rule.definition.otp.max_attempts, 5);
        assert_eq!(rule.recipients[&Channel::Sms], RecipientField::Contact("mobile".into()));
        let now = Utc::now();
        assert!(rule.trips(&record("Out for delivery"), &record("Delivered"), now));
        assert!(!rule.trips(&record("Delivered"), &record("Delivered"), now), "no change, no trip");
        assert!(!rule.trips(&record("Scheduled"), &record("Failed"), now));
        assert!(rule.guards_value_of(&record("Delivered"), now));
        // 5 digits: 16.6 bits, warned about.
        assert!((rule.definition.otp.entropy_bits() - 16.61).abs() < 0.01);
        assert_eq!(warnings(&rule).len(), 1);
    }

    #[test]
    fn moving_the_recipient_is_guarded_setting_the_first_is_not() {
        let rule = parse(seed_rule()).validate().expect("valid");
        let with_contact = |id: Option<&str>| {
            let mut record = record("Out for delivery");
            if let Some(id) = id {
                record.insert("contact_id".into(), Value::String(id.into()));
            }
            record
        };
        assert_eq!(rule.recipient_sources().collect::<Vec<_>>(), ["contact_id"]);
        assert!(rule.moves_recipient(&with_contact(Some("A")), &with_contact(Some("B"))));
        assert!(rule.moves_recipient(&with_contact(Some("A")), &with_contact(None)), "clearing it");
        assert!(!rule.moves_recipient(&with_contact(Some("A")), &with_contact(Some("A"))));
        assert!(!rule.moves_recipient(&with_contact(None), &with_contact(Some("B"))), "the first contact");
        // The contact's own number, seen from the contact's side.
        let contact = |mobile: Option<&str>| -> BTreeMap<String, Value> {
            mobile.map(|m| ("mobile".to_owned(), Value::String(m.into()))).into_iter().collect()
        };
        assert_eq!(rule.contact_sources().collect::<Vec<_>>(), ["mobile"]);
        assert!(rule.moves_contact_recipient(&contact(Some("+4911")), &contact(Some("+4922"))));
        assert!(!rule.moves_contact_recipient(&contact(None), &contact(Some("+4922"))));
    }

    #[test]
    fn a_second_recipient_can_t_be_added_beside_the_first() {
        let mut json = seed_rule();
        json["module"] = json!("contacts");
        json["trigger"] = json!({"field": "lifecycle", "changed_to": "Customer"});
        json["channels"] = json!(["sms", "email"]);
        json["recipients"] = json!({"sms": "mobile", "email": "email"});
        let rule = parse(json).validate().expect("valid");
        let with = |fields: &[(&str, &str)]| -> BTreeMap<String, Value> {
            fields.iter().map(|(f, v)| ((*f).to_owned(), Value::String((*v).into()))).collect()
        };
        let reachable = with(&[("mobile", "+491511")]);
        assert!(
            rule.moves_recipient(&reachable, &with(&[("mobile", "+491511"), ("email", "me@example.com")]))
        );
        assert!(!rule.moves_recipient(&with(&[]), &with(&[("email", "first@example.com")])), "the first one");
    }

    #[test]
    fn hints_show_little_of_the_recipient() {
        assert_eq!(recipient_hint(Channel::Sms, "+4915112345612"), "+49•••••••••12");
        assert_eq!(recipient_hint(Channel::Whatsapp, "+42060"), "+42•60");
        assert_eq!(recipient_hint(Channel::Email, "petra@example.com"), "p•••@example.com");
        for locale in [Locale::En, Locale::De, Locale::Cs, Locale::Tr] {
            assert!(code_message(locale, "12345", 5).contains("12345"));
        }
    }

    #[test]
    fn entropy_names_the_asvs_floor() {
        let options = |kind, length| CodeOptions { kind, length, ..CodeOptions::default() };
        // 6 digits is the floor ASVS accepts: no warning; 5 digits warn.
        assert!(options(CodeKind::Numeric, 6).entropy_bits() >= WEAK_CODE_BITS);
        assert!(options(CodeKind::Numeric, 5).entropy_bits() < WEAK_CODE_BITS);
        assert!((options(CodeKind::Numeric, 6).entropy_bits() - 19.93).abs() < 0.01);
        assert_eq!(options(CodeKind::Alphanumeric, 4).entropy_bits(), 20.0);
        assert!(options(CodeKind::Numeric, 7).entropy_bits() > WEAK_CODE_BITS);
    }

    #[test]
    fn criteria_narrow_the_trigger() {
        let mut json = seed_rule();
        json["trigger"]["criteria"] = json!({"field": "address", "op": "starts_with", "value": "Haupt"});
        let rule = parse(json).validate().expect("valid");
        let mut there = record("Delivered");
        there.insert("address".into(), Value::String("Hauptstraße 1".into()));
        let now = Utc::now();
        assert!(rule.trips(&record("Scheduled"), &there, now));
        assert!(!rule.trips(&record("Scheduled"), &record("Delivered"), now));
    }

    #[test]
    fn an_inactive_rule_never_trips() {
        let mut json = seed_rule();
        json["active"] = json!(false);
        let rule = parse(json).validate().expect("valid");
        assert!(!rule.trips(&record("Scheduled"), &record("Delivered"), Utc::now()));
    }

    #[test]
    fn every_error_is_named_by_its_path() {
        let bad = json!({
            "name": " ",
            "module": "deliveries",
            "trigger": {"field": "status", "changed_to": "Teleported", "criteria": {"field": "nope", "op": "eq", "value": 1}},
            "otp": {"type": "alphanumeric", "length": 12, "validity_seconds": 5, "max_attempts": 0},
            "channels": ["sms", "email", "sms"],
            "recipients": {"sms": "address", "whatsapp": "contact.mobile"}
        });
        let errors = parse(bad).validate().expect_err("invalid");
        let paths: Vec<&str> = errors.iter().map(|(path, _)| path.as_str()).collect();
        for expected in [
            "name",
            "otp.length",
            "otp.validity_seconds",
            "otp.max_attempts",
            "trigger.changed_to",
            "trigger.criteria.field",
            "channels[2]",
            "recipients.sms",
            "recipients.email",
            "recipients.whatsapp",
        ] {
            assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
        }
        let unknown = json!({"name": "x", "module": "unicorns", "trigger": {"field": "a", "changed_to": 1}, "channels": ["sms"], "recipients": {"sms": "mobile"}});
        assert_eq!(parse(unknown).validate().expect_err("invalid")[0].0, "module");
    }

    #[test]
    fn recipients_must_hold_what_the_channel_sends_to() {
        let mut json = seed_rule();
        json["channels"] = json!(["email", "sms"]);
        json["recipients"] = json!({"email": "contact.mobile", "sms": "contact.email"});
        let errors = parse(json).validate().expect_err("invalid");
        assert_eq!(errors.len(), 2, "{errors:?}");
        let mut products = seed_rule();
        products["module"] = json!("products");
        products["trigger"] = json!({"field": "active", "changed_to": true});
        let errors = parse(products).validate().expect_err("products have no contact");
        assert_eq!(errors[0].0, "recipients.sms");
    }
}
