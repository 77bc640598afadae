//! Single-table keys. Every key is built here, never by formatting strings in handlers.
//!
//! | item                  | PK                       | SK                    | GSI1PK                 | GSI1SK |
//! |-----------------------|--------------------------|-----------------------|------------------------|--------|
//! | account               | `ACCOUNT#<id>`           | `ACCOUNT`             | `CUSTOMERS#<status>` or `STAFF` | `<id>` |
//! |  (a customer at a lifecycle stage, GSI2: `LIFECYCLE#<stage>` / `<last activity>`;            | | | | |
//! |   GSI4: GSI1PK / `<address, lower case>`; GSI5: GSI1PK / `<folded name>\x01<id>`)           | | | | |
//! | login (e-mail guard)  | `EMAIL#<email>`          | `LOGIN`               |                        |        |
//! | e-mail verification   | `ACCOUNT#<id>`           | `VERIFICATION#EMAIL`  |                        |        |
//! | password reset        | `ACCOUNT#<id>`           | `PASSWORD_RESET`      |                        |        |
//! | pending e-mail change | `ACCOUNT#<id>`           | `EMAIL_CHANGE`        |                        |        |
//! | session               | `ACCOUNT#<id>`           | `SESSION#<sid>`       |                        |        |
//! | trusted device        | `ACCOUNT#<id>`           | `DEVICE#<hash>`       |                        |        |
//! | device confirmation   | `DEVICE_CONFIRMATION#<id>` | `DEVICE_CONFIRMATION` |                      |        |
//! | "not me" link         | `NOT_ME#<id>`            | `NOT_ME`              |                        |        |
//! | registration policy   | `SETTINGS`               | `REGISTRATION_POLICY` |                        |        |
//! | label                 | `LABELS`                 | `LABEL#<id>`          |                        |        |
//! | label-name guard      | `LABEL_NAME#<lower name>`| `LABEL_NAME`          |                        |        |
//! | lifecycle labels' ids | `LABELS`                 | `LIFECYCLE`           |                        |        |
//! | project               | `PROJECTS`               | `PROJECT#<id>`        |                        |        |
//! | custom contact field  | `CONTACT_FIELDS`         | `FIELD#<name>`        |                        |        |
//! | unique-value guard    | `UNIQUE#contacts#<sha256(field, value)>` | `UNIQUE` |                 |        |
//! | CRM record            | `RECORD#<module>#<id>`   | `RECORD`              | `MODULE#<module>`      | `<id>` |
//! |  (GSI2: `CONTACT#<contact>` / `<module>#<id>`; GSI3: `OWNER#<owner>` / `<module>#<id>`;    | | | | |
//! |   GSI4: `MODULE#<module>` (GSI1PK) / `<updated_at>#<id>`;                                   | | | | |
//! |   GSI5: `MODULE#<module>` (GSI1PK) / `1<sort field value>\x01<id>`, or `2\x01<id>` without one; | | | |
//! |   GSI6: `OWNER#<owner>` (GSI3PK) / `<module>#` + the GSI5 key; GSI7: GSI3PK / `<module>#` + the GSI4 key; | | |
//! |   GSI8, for modules with a key field: `KEY#<module>#<field>#<folded value>` / the GSI5 key) | | | |
//! | audit entry           | `RECORD#<module>#<id>`   | `AUDIT#<version, 20 digits>#<0 change, 1 deletion>` |  |  |
//! | contact's portal link | `RECORD#contacts#<id>`   | `PORTAL_ACCOUNT`      |                        |        |
//! | portal module         | `PORTAL`                 | `MODULE#<module>`     |                        |        |
//! | agent form            | `FORMS`                  | `FORM#<id>`           |                        |        |
//! | form submission       | `RECORD#contacts#<id>`   | `SUBMISSION#<id>`     |                        |        |
//! | workflow rule         | `WORKFLOW_RULES`         | `RULE#<id>`           |                        |        |
//! | time rule's cursor    | `TIME_RULE#<id>`         | `CURSOR#<stage>`      |                        |        |
//! | workflow run          | `WORKFLOW_RULE#<id>`     | `RUN#<event time>#<event id>` |                |        |
//! | effect marker         | `EFFECT#<event>#<rule>#<action>` | `EFFECT`      |                        |        |
//! | custom role         | `ROLES`                  | `ROLE#<id>`           |                        |        |
//! | OTP rule              | `OTP_RULES`              | `RULE#<id>`           |                        |        |
//! | administrator count   | `COUNTS`                 | `ADMINISTRATORS`      |                        |        |
//! | rate-limit window     | `RATE#<scope>#<subject>` | `WINDOW#<start>`      |                        |        |
//! | password attempts     | `SIGN_IN#<keyed hash of address>` | `ATTEMPTS`   |                        |        |
//! | cooldown              | `COOLDOWN#<scope>#<subject>` | `COOLDOWN`        |                        |        |

use ulid::Ulid;

use crate::domain::{AccountStatus, Email};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
/// Shares GSI1's partition (`GSI1PK`), sorted by `GSI4SK`.
pub const GSI4: &str = "GSI4";
pub const GSI4SK: &str = "GSI4SK";
/// Shares GSI1's partition, sorted by the module's sort field (`GSI5SK`).
pub const GSI5: &str = "GSI5";
pub const GSI5SK: &str = "GSI5SK";
/// Shares GSI3's partition (an owner's records), sorted by module and sort field (`GSI6SK`).
pub const GSI6: &str = "GSI6";
pub const GSI6SK: &str = "GSI6SK";
/// Shares GSI3's partition, sorted by module and last change (`GSI7SK`).
pub const GSI7: &str = "GSI7";
pub const GSI7SK: &str = "GSI7SK";
/// A module's records by the value of its key field (`Module::key_field`), in sort-field order.
pub const GSI8: &str = "GSI8";
pub const GSI8PK: &str = "GSI8PK";
pub const GSI8SK: &str = "GSI8SK";
/// Epoch seconds after which DynamoDB may delete the item (it deletes late: code checks expiry too).
pub const TTL: &str = "ttl";

pub type Key = (String, String);

pub fn account(id: Ulid) -> Key {
    (account_partition(id), "ACCOUNT".into())
}

/// The login item: the address's uniqueness guard, holding what sign-in needs.
pub fn login(email: &Email) -> Key {
    (format!("EMAIL#{}", email.as_str()), "LOGIN".into())
}

pub fn email_verification(account_id: Ulid) -> Key {
    (account_partition(account_id), "VERIFICATION#EMAIL".into())
}

pub fn email_change(account_id: Ulid) -> Key {
    (account_partition(account_id), "EMAIL_CHANGE".into())
}

pub fn password_reset(account_id: Ulid) -> Key {
    (account_partition(account_id), "PASSWORD_RESET".into())
}

pub fn session(account_id: Ulid, session_id: Ulid) -> Key {
    (account_partition(account_id), format!("{SESSION_SK_PREFIX}{session_id}"))
}

pub const SESSION_SK_PREFIX: &str = "SESSION#";
pub const DEVICE_SK_PREFIX: &str = "DEVICE#";

pub fn account_partition(account_id: Ulid) -> String {
    format!("ACCOUNT#{account_id}")
}

pub fn device(account_id: Ulid, device_hash: &str) -> Key {
    (account_partition(account_id), format!("{DEVICE_SK_PREFIX}{device_hash}"))
}

pub fn device_confirmation(id: Ulid) -> Key {
    (format!("DEVICE_CONFIRMATION#{id}"), "DEVICE_CONFIRMATION".into())
}

pub fn not_me(id: Ulid) -> Key {
    (format!("NOT_ME#{id}"), "NOT_ME".into())
}

pub const PROJECTS_PK: &str = "PROJECTS";
pub const CONTACT_FIELDS_PK: &str = "CONTACT_FIELDS";

pub fn project(id: Ulid) -> Key {
    (PROJECTS_PK.into(), format!("PROJECT#{id}"))
}

pub fn contact_field(name: &str) -> Key {
    (CONTACT_FIELDS_PK.into(), format!("FIELD#{name}"))
}

/// The guard that keeps a unique contact field's value to one contact. The key holds a digest
/// of the field and its normalized value: any name and value length fit DynamoDB's 2 048-byte
/// key limit, and no two (field, value) pairs share a key (the field's length is hashed in
/// front of it). Unkeyed, so rotating Portico's secret never orphans a guard.
pub fn unique_value(field: &str, normalized_value: &str) -> Key {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update((field.len() as u64).to_be_bytes())
        .chain_update(field.as_bytes())
        .chain_update(normalized_value.as_bytes())
        .finalize();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    (format!("UNIQUE#contacts#{hex}"), "UNIQUE".into())
}

pub fn record(module: &str, id: Ulid) -> Key {
    (format!("RECORD#{module}#{id}"), "RECORD".into())
}

/// GSI1 partition of a module's records; GSI2 of a contact's; GSI3 of an owner's.
pub fn module_records(module: &str) -> String {
    format!("MODULE#{module}")
}

pub fn contact_records(contact_id: &str) -> String {
    format!("CONTACT#{contact_id}")
}

pub fn owner_records(owner_id: Ulid) -> String {
    format!("OWNER#{owner_id}")
}

/// Longest folded key value kept as text in a GSI8 key; longer ones are keyed by their digest.
const MAX_KEY_VALUE_BYTES: usize = 256;

/// GSI8 partition of `module`'s records whose key `field` holds `value`, compared ignoring case
/// (the criteria language's folding): the text itself when short, its SHA-256 when long, so
/// any value fits DynamoDB's key limit.
pub fn key_value_records(module: &str, field: &str, value: &str) -> String {
    let folded = crate::criteria::fold_case(value);
    if folded.len() <= MAX_KEY_VALUE_BYTES {
        format!("KEY#{module}#{field}#{folded}")
    } else {
        use sha2::{Digest, Sha256};
        let hex: String =
            Sha256::digest(folded.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect();
        format!("KEY#{module}#{field}#sha256:{hex}")
    }
}

pub const AUDIT_SK_PREFIX: &str = "AUDIT#";

/// An entry of a record's audit trail, beside the record, ordered by the version the change
/// made (every write raises it; a deletion keeps the last one and sorts after it). Stream times
/// have whole seconds and would not order two changes of one second.
pub fn audit_entry(module: &str, id: Ulid, version: u64, deletion: bool) -> Key {
    (record(module, id).0, format!("{AUDIT_SK_PREFIX}{version:020}#{}", u8::from(deletion)))
}

/// The item tying a contact to the portal account linked to it (the account holds `contact_id`).
pub fn portal_link(contact_id: Ulid) -> Key {
    (format!("RECORD#contacts#{contact_id}"), "PORTAL_ACCOUNT".into())
}

pub const PORTAL_PK: &str = "PORTAL";
pub const PORTAL_MODULE_SK_PREFIX: &str = "MODULE#";

pub fn portal_module(module: &str) -> Key {
    (PORTAL_PK.into(), format!("{PORTAL_MODULE_SK_PREFIX}{module}"))
}

/// Sort key of a record in the module-by-last-change index: fixed-width UTC microseconds,
/// so text order is time order.
pub fn record_change(updated_at: chrono::DateTime<chrono::Utc>, id: Ulid) -> String {
    format!("{}#{id}", crate::time::format(updated_at))
}

/// Sort key of a record in the owner-by-sort-field index (GSI6): the module, then its GSI5 key.
pub fn owner_sorted(module: &str, sort_field_key: &str) -> String {
    format!("{}{sort_field_key}", record_members_of(module))
}

/// Sort key of a record in the owner-by-last-change index (GSI7).
pub fn owner_change(module: &str, updated_at: chrono::DateTime<chrono::Utc>, id: Ulid) -> String {
    format!("{}{}", record_members_of(module), record_change(updated_at, id))
}

/// What the contact and owner index sort keys of `module`'s records begin with.
pub fn record_members_of(module: &str) -> String {
    format!("{module}#")
}

/// Sort key of a record in the contact and owner indexes.
pub fn record_member(module: &str, id: Ulid) -> String {
    format!("{}{id}", record_members_of(module))
}

pub fn registration_policy() -> Key {
    ("SETTINGS".into(), "REGISTRATION_POLICY".into())
}

pub const FORMS_PK: &str = "FORMS";

pub fn form(id: Ulid) -> Key {
    (FORMS_PK.into(), format!("FORM#{id}"))
}

pub const SUBMISSION_SK_PREFIX: &str = "SUBMISSION#";

/// A form submission, beside its contact (newest last: ULIDs sort by time).
pub fn submission(contact_id: Ulid, id: Ulid) -> Key {
    (record("contacts", contact_id).0, format!("{SUBMISSION_SK_PREFIX}{id}"))
}

/// Where a time rule's next run goes on among the customers of a stage.
pub fn time_rule_cursor(rule: Ulid, stage: crate::domain::lifecycle::Stage) -> Key {
    (format!("TIME_RULE#{rule}"), format!("CURSOR#{}", stage.as_str()))
}

pub const WORKFLOW_RULES_PK: &str = "WORKFLOW_RULES";
pub const WORKFLOW_RUN_SK_PREFIX: &str = "RUN#";

pub fn workflow_rule(id: Ulid) -> Key {
    (WORKFLOW_RULES_PK.into(), format!("RULE#{id}"))
}

pub fn workflow_runs_of(rule: Ulid) -> String {
    format!("WORKFLOW_RULE#{rule}")
}

/// A run of `rule` on one stream event: newest first by the event's time, once per event.
pub fn workflow_run(rule: Ulid, at: chrono::DateTime<chrono::Utc>, event_id: &str) -> Key {
    (workflow_runs_of(rule), format!("{WORKFLOW_RUN_SK_PREFIX}{}#{event_id}", crate::time::format(at)))
}

/// The marker of one effect (`<event id>#<rule>#<action index>`).
pub fn effect_marker(effect: &str) -> Key {
    (format!("EFFECT#{effect}"), "EFFECT".into())
}

pub const OTP_RULES_PK: &str = "OTP_RULES";

pub fn otp_rule(id: Ulid) -> Key {
    (OTP_RULES_PK.into(), format!("RULE#{id}"))
}

pub fn otp_challenge(id: Ulid) -> Key {
    (format!("OTP_CHALLENGE#{id}"), "CHALLENGE".into())
}

pub const ROLES_PK: &str = "ROLES";
pub const ROLE_SK_PREFIX: &str = "ROLE#";

pub fn role(id: &str) -> Key {
    (ROLES_PK.into(), format!("{ROLE_SK_PREFIX}{id}"))
}

/// The number of active staff users holding both `users.manage` and `settings.manage`.
pub fn administrator_count() -> Key {
    ("COUNTS".into(), "ADMINISTRATORS".into())
}

pub const LABELS_PK: &str = "LABELS";
pub const LABEL_SK_PREFIX: &str = "LABEL#";

pub fn label(id: Ulid) -> Key {
    (LABELS_PK.into(), format!("{LABEL_SK_PREFIX}{id}"))
}

/// Which labels are the lifecycle stages' built-in ones.
pub fn lifecycle_labels() -> Key {
    (LABELS_PK.into(), "LIFECYCLE".into())
}

/// GSI2 partition of the customers at a lifecycle stage (sorted by last activity, `GSI2SK`).
pub fn customers_at(stage: crate::domain::lifecycle::Stage) -> String {
    format!("LIFECYCLE#{}", stage.as_str())
}

pub fn label_name_guard(name: &str) -> Key {
    (format!("LABEL_NAME#{}", name.to_lowercase()), "LABEL_NAME".into())
}

/// Password attempts of an address (`subject`: its keyed hash), whether or not an account has it.
pub fn sign_in_attempts(subject: &str) -> Key {
    (format!("SIGN_IN#{subject}"), "ATTEMPTS".into())
}

pub fn cooldown(scope: &str, subject: &str) -> Key {
    (format!("COOLDOWN#{scope}#{subject}"), "COOLDOWN".into())
}

pub fn rate_window(scope: &str, subject: &str, window_start: i64) -> Key {
    (format!("RATE#{scope}#{subject}"), format!("WINDOW#{window_start}"))
}

/// GSI4 sort key of an account: its address in lower case (customers found by its start).
pub fn account_by_email(email: &crate::domain::Email) -> String {
    email.as_str().to_lowercase()
}

/// GSI5 sort key of an account: its name folded (customers found by its start), then its id.
pub fn account_by_name(name: &str, id: Ulid) -> String {
    format!("{}\x01{id}", crate::criteria::fold_case(name))
}

/// GSI1 partition of customers in a state: the approval queue is `CUSTOMERS#pending_approval`.
pub fn customers_in(status: AccountStatus) -> String {
    format!("CUSTOMERS#{}", status.as_str())
}

pub const STAFF_PARTITION: &str = "STAFF";
