//! Round trips per endpoint: every operation of the HTTP API called once in its main success
//! path (and the variants whose cost differs), counting the DynamoDB, SES and SNS requests it
//! sends. The counts are deterministic, so they are asserted exactly: a change in either
//! direction fails here and must update `EXPECTED` (and BENCHMARKS.md, which this test prints
//! with `--nocapture`). Every operation of the OpenAPI document must have a row.
//!
//! The registration policy is cached for 30 s per instance; every request here is measured
//! with that cache empty (the cost of the first request after 30 s), so rows that read the
//! policy cost one DynamoDB request less while an instance's cache is warm.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cost::Units;
use crate::support::{Counters, DEVICE, PASSWORD, Response, TestApp, spawn_app, unique_email, urlencode};

const LAPTOP: &str = "laptop-device-id-0123456789";
const PHONE: &str = "phone-device-id-abcdefghijk";
const TABLET: &str = "tablet-device-id-0123456789";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// `(label, method, path, DynamoDB requests, SES requests, SNS requests, least DynamoDB
/// requests possible, why the count is above that least, or what it does)`.
type Row = (&'static str, &'static str, &'static str, usize, usize, usize, usize, &'static str);

#[rustfmt::skip]
const EXPECTED: &[Row] = &[
    // Registration.
    ("get policy", "GET", "/registrations/policy", 1, 0, 0, 1, "the policy: 0 while cached"),
    ("admin policy", "GET", "/admin/settings/registration", 2, 0, 0, 1, "read afresh, not from the cache; + the session check (revocation)"),
    ("put policy", "PUT", "/admin/settings/registration", 2, 0, 0, 2, "PutItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("register", "POST", "/registrations", 4, 2, 0, 4, "the source IP's and network's registration counters, policy, one transaction (account, login, challenge, device); mails: code, confirmation (+1 for another spelling of a mailbox, `ann+x@`: its mail counter)"),
    ("register (address taken)", "POST", "/registrations", 8, 1, 0, 6, "the two registration counters; padded to the enumeration floor: the cancelled transaction could return the login item (ReturnValuesOnConditionCheckFailure) instead of a GetItem, and the two mail limits could be one transaction"),
    ("resend", "POST", "/registrations/verify/resend", 5, 1, 0, 3, "login, then account; cooldown, daily limit and new challenge are three writes where one transaction would do"),
    ("verify (code)", "POST", "/registrations/verify", 3, 0, 0, 3, "login; account and challenge in one BatchGetItem; transaction (the approvers are mailed from the stream, not here: 6 → 3)"),
    ("verify (link token)", "POST", "/registrations/verify", 2, 0, 0, 2, "account and challenge in one BatchGetItem; transaction"),
    ("verify page", "GET", "/links/verify-email", 0, 0, 0, 0, "a page; a GET changes nothing"),
    ("verify page (submit)", "POST", "/links/verify-email", 2, 0, 0, 2, "as the link token"),
    ("queue", "GET", "/admin/registrations", 2, 0, 0, 1, "one Query (GSI1); + the session check (revocation)"),
    ("approve", "POST", "/admin/registrations/{id}/approve", 7, 1, 0, 6, "account read (its address keys the login item), transaction on both; then the portal link: contacts with the verified address (key index), contact-field definitions and OTP rules (two Queries of small partitions; one would do), transaction (new contact, both sides of the link); + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("reject", "POST", "/admin/registrations/{id}/reject", 3, 1, 0, 3, "as approve; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    // Sign-in and sessions.
    ("sign in", "POST", "/sessions", 3, 0, 0, 3, "trusted device: BatchGetItem (login, the address's password attempts, IP failures), the attempt reserved before argon2 (one transaction: the address's count moved on as read, the IP's under its limit), transaction (session, device, attempts cleared, the IP's attempt given back)"),
    ("sign in (staff with a custom role)", "POST", "/sessions", 4, 0, 0, 4, "+1 BatchGetItem of the custom roles named by the login item"),
    ("sign in (new device, confirmation off)", "POST", "/sessions", 8, 1, 0, 5, "once per device: the attempt reserved, the trusted-device transaction fails first (trust is checked inside it), so the attempts are cleared apart; policy and account are two GetItems (one BatchGetItem would do); the not-me link is a PutItem beside the device + session transaction"),
    ("sign in (new device, confirmation on)", "POST", "/sessions", 10, 1, 0, 6, "once per device: the attempt reserved and, after the failed transaction, cleared apart; policy and account are two GetItems; cooldown, IP limit, confirmation and not-me link four writes where one transaction would do"),
    ("confirm device (code)", "POST", "/sessions/device-confirmations/{id}", 4, 1, 0, 3, "confirmation, then its account; transaction; the not-me link's PutItem could join the transaction"),
    ("confirm device (link)", "POST", "/sessions/device-confirmations/link", 4, 1, 0, 3, "as by code"),
    ("confirm device page", "GET", "/links/confirm-device", 0, 0, 0, 0, "a page"),
    ("confirm device page (submit)", "POST", "/links/confirm-device", 4, 1, 0, 3, "as by code"),
    ("refresh", "POST", "/sessions/refresh", 2, 0, 0, 2, "BatchGetItem (session, account), conditional update"),
    ("refresh (staff with a custom role)", "POST", "/sessions/refresh", 3, 0, 0, 3, "+1 BatchGetItem of the custom roles"),
    ("sign out", "DELETE", "/sessions/current", 2, 0, 0, 1, "+ the session check (revocation)"),
    ("me", "GET", "/me", 1, 0, 0, 1, "the session check reads the account with it (one BatchGetItem)"),
    ("change locale", "PATCH", "/me", 2, 0, 0, 2, "conditional UpdateItem; the answer is the account read with the session check, the new locale set; + the session check (revocation)"),
    ("devices", "GET", "/me/devices", 2, 0, 0, 1, "devices Query; the trust version is the account's, read with the session check; one Query of the account's partition could return all three; + the session check (revocation)"),
    ("revoke device", "DELETE", "/me/devices/{id}", 4, 0, 0, 3, "device delete, sessions Query, +1 delete per session of that device (one here); + the session check (revocation)"),
    // Credentials.
    ("reset", "POST", "/passwords/reset", 4, 1, 0, 3, "padded to the enumeration floor: login, then account; cooldown and reset token are two writes where one transaction would do"),
    ("reset page", "GET", "/links/reset-password", 0, 0, 0, 0, "a page"),
    ("reset confirm", "POST", "/passwords/reset/confirm", 4, 1, 0, 4, "fixed 5 → 4: account and reset token in one BatchGetItem; transaction; sessions Query (+1 delete per session, none here); policy"),
    ("reset page (submit)", "POST", "/links/reset-password", 4, 1, 0, 4, "as reset confirm (fixed 5 → 4)"),
    ("change password", "PUT", "/me/password", 7, 1, 0, 5, "the account read with the session check; the address's password attempts read, reserved and cleared (shared with sign-in; the read could join the account's); transaction (password, login, device, session); sessions Query, +1 delete per other session (one here); + the session check (revocation)"),
    ("change e-mail", "POST", "/me/email", 7, 2, 0, 4, "the account read with the session check, then the new address's login; the password attempts read, reserved and cleared; cooldown and pending change two writes (one transaction would do); + the session check (revocation)"),
    ("change e-mail (confirm)", "POST", "/me/email/confirm", 5, 1, 0, 4, "fixed 5 → 4: account and pending change in one BatchGetItem; transaction; sessions Query, +1 delete per other session (one here); + the session check (revocation)"),
    ("not me page", "GET", "/links/not-me", 0, 0, 0, 0, "a page"),
    ("not me page (submit)", "POST", "/links/not-me", 11, 1, 0, 6, "rare: link read, spend, account read, trust raised and password refused (one transaction), device delete, sessions queried twice (revoke, end all), confirmation delete, account read again (the reset binds to the new trust version), reset token; one transaction and one sessions Query would do (one session here)"),
    // Labels and customers.
    ("create label", "POST", "/admin/labels", 2, 0, 0, 2, "transaction: label, name guard; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("labels (first look)", "GET", "/admin/labels", 7, 0, 0, 6, "once per table and process: the built-in lifecycle labels' item is missing, so each is made (three transactions in parallel) and the item written; then one Query; + the session check (revocation)"),
    ("labels", "GET", "/admin/labels", 2, 0, 0, 1, "one Query (the built-in lifecycle labels' ids remembered by the process); + the session check (revocation)"),
    ("label", "GET", "/admin/labels/{id}", 2, 0, 0, 1, "+ the session check (revocation)"),
    ("rename label", "PATCH", "/admin/labels/{id}", 3, 0, 0, 3, "read (the old name's guard), transaction moving the guard; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("change label (same name)", "PATCH", "/admin/labels/{id}", 3, 0, 0, 2, "reads the label to merge the change; an UpdateItem of the sent fields returning ALL_NEW would do; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("delete label", "DELETE", "/admin/labels/{id}", 3, 0, 0, 3, "read (usage, name guard), transaction; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("attach label", "PUT", "/admin/customers/{id}/labels/{label_id}", 2, 0, 0, 2, "transaction: customer's labels, usage count; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("detach label", "DELETE", "/admin/customers/{id}/labels/{label_id}", 2, 0, 0, 2, "as attach; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("attach lifecycle label", "PUT", "/admin/customers/{id}/labels/{label_id}", 4, 0, 0, 4, "the OTP rules (one on the contact's lifecycle field would guard the move; the contact is read only then), the account (its stage), transaction: stage, both labels' usage counts; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("disable customer", "POST", "/admin/customers/{id}/disable", 5, 0, 0, 5, "account read, transaction (account, login), sessions Query, +1 delete per session (one here); + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("enable customer", "POST", "/admin/customers/{id}/enable", 3, 0, 0, 3, "account read, transaction; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("customers", "GET", "/admin/customers", 2, 0, 0, 1, "one Query of the state's partition; + the session check (revocation)"),
    ("customers (search)", "GET", "/admin/customers", 2, 0, 0, 1, "one Query of the name index (an address: the address index); + the session check (revocation)"),
    ("customer", "GET", "/admin/customers/{id}", 4, 0, 0, 3, "the account and its devices in parallel, its labels (one BatchGetItem); + the session check (revocation)"),
    // Projects, contact fields, roles, staff.
    ("create project", "POST", "/admin/projects", 2, 0, 0, 2, "the write; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("projects", "GET", "/admin/projects", 2, 0, 0, 1, "one Query; + the session check (revocation)"),
    ("rename project", "PATCH", "/admin/projects/{id}", 2, 0, 0, 2, "conditional UpdateItem returning the project; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("create contact field", "POST", "/admin/contact-fields", 3, 0, 0, 2, "the project list is read to check the ids; ConditionChecks in a transaction would do; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("contact fields", "GET", "/admin/contact-fields", 2, 0, 0, 1, "one Query; + the session check (revocation)"),
    ("change contact field", "PATCH", "/admin/contact-fields/{name}", 3, 0, 0, 2, "project list, as on create; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("change contact field (unmask)", "PATCH", "/admin/contact-fields/{name}", 2, 0, 0, 2, "update; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("create role", "POST", "/admin/roles", 2, 0, 0, 2, "transaction (role, granter unchanged); + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("roles", "GET", "/admin/roles", 2, 0, 0, 1, "one Query; + the session check (revocation)"),
    ("role", "GET", "/admin/roles/{id}", 2, 0, 0, 1, "+ the session check (revocation)"),
    ("change role", "PUT", "/admin/roles/{id}", 3, 0, 0, 2, "role GetItem, transaction; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("delete role", "DELETE", "/admin/roles/{id}", 2, 0, 0, 2, "conditional delete (no holders); + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("create user", "POST", "/admin/users", 4, 0, 0, 2, "custom roles, project list: the projects could be ConditionChecks in the transaction; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("users", "GET", "/admin/users", 2, 0, 0, 1, "one Query (GSI1); + the session check (revocation)"),
    ("change user", "PATCH", "/admin/users/{id}", 5, 0, 0, 3, "user GetItem, the user's custom roles and the new ones two BatchGetItems (one would do), transaction; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("disable user", "POST", "/admin/users/{id}/disable", 7, 0, 0, 5, "user GetItem, user's custom roles, transaction, sessions Query, +1 delete per session (two here; one BatchWriteItem would do); + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("enable user", "POST", "/admin/users/{id}/enable", 4, 0, 0, 3, "user GetItem, user's custom roles, transaction; user and roles could share one BatchGetItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    // Records (the records core: contact-field definitions are read on every contacts request, not cached).
    ("create contact", "POST", "/records/{module}", 4, 0, 0, 3, "definitions Query, OTP rules Query, PutItem; + the session check (revocation)"),
    ("create contact (unique value)", "POST", "/records/{module}", 4, 0, 0, 3, "definitions, OTP rules, transaction (record, guard); + the session check (revocation)"),
    ("create task", "POST", "/records/{module}", 3, 0, 0, 2, "OTP rules Query (read fresh: a new rule guards at once), PutItem (no custom fields outside contacts); + the session check (revocation)"),
    ("create task (for another owner)", "POST", "/records/{module}", 3, 0, 0, 2, "OTP rules, transaction with a ConditionCheck that the owner is active staff; + the session check (revocation)"),
    ("get contact", "GET", "/records/{module}/{id}", 3, 0, 0, 2, "definitions Query and GetItem (a Query can't join a batch); + the session check (revocation)"),
    ("get task", "GET", "/records/{module}/{id}", 2, 0, 0, 1, "+ the session check (revocation)"),
    ("change contact", "PATCH", "/records/{module}/{id}", 4, 0, 0, 3, "definitions, OTP rules, one UpdateItem returning the record; + the session check (revocation)"),
    ("change contact (unique value)", "PATCH", "/records/{module}/{id}", 5, 0, 0, 4, "definitions, OTP rules, record read (which guard to free), transaction; + the session check (revocation)"),
    ("change task", "PATCH", "/records/{module}/{id}", 3, 0, 0, 2, "OTP rules (no rule sets this field: no record read), one UpdateItem; + the session check (revocation)"),
    ("delete contact", "DELETE", "/records/{module}/{id}", 4, 0, 0, 3, "definitions, record read (its guards), transaction (contacts have a unique field here); + the session check (revocation)"),
    ("delete task", "DELETE", "/records/{module}/{id}", 2, 0, 0, 1, "conditional DeleteItem; + the session check (revocation)"),
    ("record audit", "GET", "/records/{module}/{id}/audit", 3, 0, 0, 2, "the record (the caller's access to it), then one Query of its entries beside it; + the session check (revocation)"),
    ("list contacts", "GET", "/records/{module}", 3, 0, 0, 2, "definitions, one Query (GSI1); + the session check (revocation)"),
    ("list own tasks", "GET", "/records/{module}", 2, 0, 0, 1, "one Query (owner index); + the session check (revocation)"),
    ("list contacts (unique value)", "GET", "/records/{module}", 4, 0, 0, 3, "definitions, guard GetItem, then the record's GetItem; + the session check (revocation)"),
    ("export contacts", "GET", "/records/{module}", 3, 0, 0, 2, "as the list (Accept: text/csv); + the session check (revocation)"),
    ("import contacts", "POST", "/imports/contacts", 11, 0, 0, 7, "3 rows with match_on, 2 created, 1 updated: definitions, OTP rules once per import, a guard GetItem and a write per row; the update reads its record twice (import, then the records core); one BatchGetItem of the guards would save 2; + the session check (revocation)"),
    // OTP rules.
    ("create form", "POST", "/admin/forms", 5, 0, 0, 3, "definitions and projects (parallel), the forms (at most 200; a counter item would do), PutItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("all forms", "GET", "/admin/forms", 2, 0, 0, 1, "one Query; + the session check (revocation)"),
    ("form (admin)", "GET", "/admin/forms/{id}", 2, 0, 0, 1, "+ the session check (revocation)"),
    ("replace form", "PUT", "/admin/forms/{id}", 5, 0, 0, 3, "definitions and projects (parallel), read (created_at), conditional PutItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("forms", "GET", "/forms", 2, 0, 0, 1, "one Query; the caller's projects are in the token; + the session check (revocation)"),
    ("open form", "GET", "/forms/{id}", 4, 0, 0, 3, "the form and the definitions in parallel, the contact; + the session check (revocation)"),
    ("submit form", "POST", "/forms/{id}/submissions", 6, 0, 0, 5, "the form and definitions in parallel, the contact (the change compares versions), OTP rules, transaction: contact, unique guard, submission; + the session check (revocation)"),
    ("submit form (no version)", "POST", "/forms/{id}/submissions", 7, 0, 0, 5, "as with a version, and the contact read first for its current one; + the session check (revocation)"),
    ("contact submissions", "GET", "/records/{module}/{id}/submissions", 4, 0, 0, 2, "definitions, the contact (the same access as the record), one Query of its submissions; + the session check (revocation)"),
    ("delete form", "DELETE", "/admin/forms/{id}", 2, 0, 0, 2, "conditional DeleteItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("create otp rule", "POST", "/admin/otp-rules", 3, 0, 0, 2, "the rules are read to hold their number under 100 (a counter item in a transaction would do); + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("otp rules", "GET", "/admin/otp-rules", 2, 0, 0, 1, "one Query; + the session check (revocation)"),
    ("otp rule", "GET", "/admin/otp-rules/{id}", 2, 0, 0, 1, "+ the session check (revocation)"),
    ("replace otp rule", "PUT", "/admin/otp-rules/{id}", 3, 0, 0, 2, "read (created_at), conditional PutItem; an UpdateItem on the version returning ALL_NEW would do; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("delete otp rule", "DELETE", "/admin/otp-rules/{id}", 2, 0, 0, 2, "conditional DeleteItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    // OTP-guarded changes.
    ("change delivery (otp required)", "PATCH", "/records/{module}/{id}", 8, 0, 1, 6, "OTP rules, record, the agent's open challenge, the contact (recipient), the recipient's send counter, transaction (challenge, pointer), the send's outcome; record and pointer could share a BatchGetItem; + the session check (revocation)"),
    ("change delivery (otp challenge open)", "PATCH", "/records/{module}/{id}", 5, 0, 0, 3, "rules, record, pointer, the challenge; no new code, no send; + the session check (revocation)"),
    ("otp challenge", "GET", "/otp/challenges/{id}", 2, 0, 0, 1, "+ the session check (revocation)"),
    ("verify otp (wrong code)", "POST", "/otp/challenges/{id}/verify", 3, 0, 0, 2, "one UpdateItem counts the try and returns the challenge; the record's tries of the agent (20 an hour, across challenges); + the session check (revocation)"),
    ("verify otp", "POST", "/otp/challenges/{id}/verify", 6, 0, 0, 5, "count the try, the record's tries, OTP rules (any other rule still holds), record read (the answer), transaction (record, challenge verified, pointer gone); + the session check (revocation)"),
    ("change task (manual otp)", "PATCH", "/records/{module}/{id}", 6, 0, 0, 4, "rules, record, pointer, contact, transaction; nothing sent; + the session check (revocation)"),
    ("send otp code", "POST", "/otp/challenges/{id}/send", 5, 1, 0, 4, "challenge, recipient counter, new code with the send (which also times the 30 s to the next), the send's outcome; + the session check (revocation)"),
    ("resend otp code (within 30 s)", "POST", "/otp/challenges/{id}/resend", 2, 0, 0, 1, "the challenge: its last send was under 30 s ago (429); + the session check (revocation)"),
    // The customer portal.
    ("save portal module", "PUT", "/admin/portal/modules/{module}", 3, 0, 0, 2, "definitions (a masked field can't be shown), conditional PutItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("portal config", "GET", "/admin/portal/modules", 3, 0, 0, 2, "the exposures and the definitions they are checked against (two Queries in parallel); + the session check (revocation)"),
    ("portal module", "GET", "/admin/portal/modules/{module}", 3, 0, 0, 2, "as the list, for one module; + the session check (revocation)"),
    ("portal modules (first request: link)", "GET", "/portal/modules", 6, 0, 0, 6, "once per customer active from registration: exposures, definitions (parallel), staff (the contact's owner), the OTP rules for the contact's creation, transaction (contact, both sides of the link); + the session check, which reads the customer's account with it (revocation, status now)"),
    ("portal modules", "GET", "/portal/modules", 3, 0, 0, 3, "exposures, definitions (in parallel); + the session check, which reads the customer's account with it (revocation; the status now, so a disabled customer stops at once)"),
    ("portal list (related)", "GET", "/portal/records/{module}", 5, 0, 0, 5, "exposures and definitions in parallel; the linked contact; one Query of the contact index with the criteria pushed down; + the session check, which reads the customer's account with it (revocation, status now)"),
    ("portal list (public, key index)", "GET", "/portal/records/{module}", 5, 0, 0, 5, "as related; one Query of the key index (region = the contact's billing country); + the session check, which reads the customer's account with it (revocation, status now)"),
    ("portal record", "GET", "/portal/records/{module}/{id}", 5, 0, 0, 5, "exposures, definitions, the contact, the record; + the session check, which reads the customer's account with it (revocation, status now)"),
    ("portal preview", "GET", "/admin/portal/preview", 6, 0, 0, 6, "account, exposures and definitions in parallel; the contact; the candidates' Query; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("link customer", "PUT", "/admin/customers/{id}/contact", 3, 0, 0, 3, "the account, transaction (both sides, the old contact released, the new one checked); + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("unlink customer", "DELETE", "/admin/customers/{id}/contact", 3, 0, 0, 3, "the account, transaction (both sides); + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("delete portal module", "DELETE", "/admin/portal/modules/{module}", 2, 0, 0, 2, "conditional DeleteItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    // Workflow rules (their runs happen on the stream: see the workflows benchmark).
    ("create workflow rule", "POST", "/admin/workflow-rules", 4, 0, 0, 2, "definitions (masked fields), the rules (at most 200; a counter item would do), PutItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("workflow rules", "GET", "/admin/workflow-rules", 2, 0, 0, 1, "one Query; + the session check (revocation)"),
    ("workflow rule", "GET", "/admin/workflow-rules/{id}", 2, 0, 0, 1, "+ the session check (revocation)"),
    ("replace workflow rule", "PUT", "/admin/workflow-rules/{id}", 4, 0, 0, 3, "definitions, read (created_at), conditional PutItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    ("test workflow rule", "POST", "/admin/workflow-rules/{id}/test", 3, 0, 0, 2, "the rule and the definitions it is checked against; nothing is run; + the session check (revocation)"),
    ("workflow runs", "GET", "/admin/workflow-rules/{id}/runs", 2, 0, 0, 1, "one Query of the rule's runs, newest first; + the session check (revocation)"),
    ("delete workflow rule", "DELETE", "/admin/workflow-rules/{id}", 2, 0, 0, 2, "conditional DeleteItem; + the session check, which reads the caller's account with it (revocation, rights afresh)"),
    // Static answers.
    ("admin page", "GET", "/admin/", 0, 0, 0, 0, "compiled in"),
    ("admin asset", "GET", "/admin/assets/{name}", 0, 0, 0, 0, "compiled in"),
    ("openapi", "GET", "/openapi.json", 0, 0, 0, 0, "the committed document, compiled in"),
];

/// What one call sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Measured {
    dynamodb: usize,
    ses: usize,
    sns: usize,
}

struct Meter {
    app: TestApp,
    counters: Counters,
    measured: BTreeMap<&'static str, Measured>,
    /// The request units each call's DynamoDB requests consume (for the cost table).
    units: BTreeMap<&'static str, Units>,
}

impl Meter {
    /// Forgets what was sent so far (setup) and the cached registration policy.
    fn start(&self) {
        self.counters.dynamodb.take();
        self.counters.ses.take();
        self.counters.sns.take();
        self.app.state.forget_policy();
    }

    /// Records what was sent since `start` under `label`.
    fn stop(&mut self, label: &'static str) {
        let sent = self.counters.dynamodb.take_sent();
        self.units.insert(label, crate::cost::units(&sent));
        let measured =
            Measured { dynamodb: sent.len(), ses: self.counters.ses.take(), sns: self.counters.sns.take() };
        assert!(self.measured.insert(label, measured).is_none(), "{label} measured twice");
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Response {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Response { status, body, headers }
    }

    fn call(&self, method: Method, path: &str, token: Option<&str>, device: &str) -> reqwest::RequestBuilder {
        let request =
            self.app.http.request(method, format!("{}{path}", self.app.base)).header("x-device-id", device);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request` as the measured call `label`; asserts its status.
    async fn measure(
        &mut self,
        label: &'static str,
        request: reqwest::RequestBuilder,
        status: StatusCode,
    ) -> Response {
        self.start();
        let response = self.send(request).await;
        self.stop(label);
        assert_eq!(response.status, status, "{label}: {:?}", response.body);
        response
    }

    async fn json(
        &mut self,
        label: &'static str,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
        status: StatusCode,
    ) -> Response {
        let mut request = self.call(method, path, token, DEVICE);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.measure(label, request, status).await
    }

    async fn token(&self, mail: &str, subject: &str) -> String {
        let mail = self.app.latest_mail(mail, subject).await;
        let start = mail.body.find("token=").expect("a link") + "token=".len();
        mail.body[start..].split_whitespace().next().expect("token").to_owned()
    }

    async fn code(&self, mail: &str, subject: &str) -> String {
        let mail = self.app.latest_mail(mail, subject).await;
        let code =
            mail.body.split_whitespace().find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()));
        code.expect("a code").to_owned()
    }

    /// Sets the registration policy (not measured).
    async fn policy(&self, admin: &str, verification: &str, approval: &str, confirm_devices: bool) {
        self.app
            .set_policy(
                admin,
                json!({"notify_on_registration": true, "admin_approval": approval,
                       "device_confirmation": confirm_devices, "email_verification": verification}),
            )
            .await;
    }

    /// Registers an address under the current policy (not measured).
    async fn registered(&self, name: &str) -> String {
        let email = unique_email(name);
        assert_eq!(self.app.register(&email, "person").await.status, StatusCode::ACCEPTED);
        email
    }

    async fn signed_in(&self, device: &str, email: &str, password: &str) -> Value {
        let response = self.app.sign_in_from(device, email, password).await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
        response.body
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("a string: {value:?}")).to_owned()
}

#[tokio::test]
async fn every_endpoint_sends_the_requests_in_the_table() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let (app, counters) = app.counting().await;
    let mut m = Meter { app, counters, measured: BTreeMap::new(), units: BTreeMap::new() };
    let admin = admin.as_str();

    // ---- Registration: the policy, sign-up, verification, the queue.
    let policy = json!({"notify_on_registration": true, "admin_approval": "all",
                        "device_confirmation": true, "email_verification": "required"});
    m.json(
        "put policy",
        Method::PUT,
        "/admin/settings/registration",
        Some(policy),
        Some(admin),
        StatusCode::OK,
    )
    .await;
    m.json("admin policy", Method::GET, "/admin/settings/registration", None, Some(admin), StatusCode::OK)
        .await;
    m.json("get policy", Method::GET, "/registrations/policy", None, None, StatusCode::OK).await;

    let ann = unique_email("ann");
    let body = json!({"email": ann, "password": PASSWORD, "name": "Ann Lee", "account_type": "person"});
    m.json("register", Method::POST, "/registrations", Some(body), None, StatusCode::ACCEPTED).await;
    let bea = m.registered("bea").await;
    let cat = m.registered("cat").await;
    let body = json!({"email": bea, "password": PASSWORD, "name": "Not Bea", "account_type": "person"});
    m.json(
        "register (address taken)",
        Method::POST,
        "/registrations",
        Some(body),
        None,
        StatusCode::ACCEPTED,
    )
    .await;

    m.json(
        "resend",
        Method::POST,
        "/registrations/verify/resend",
        Some(json!({"email": ann})),
        None,
        StatusCode::ACCEPTED,
    )
    .await;
    let code = m.code(&ann, "Confirm your e-mail address").await;
    let body = json!({"email": ann, "code": code});
    m.json("verify (code)", Method::POST, "/registrations/verify", Some(body), None, StatusCode::OK).await;
    let token = m.token(&bea, "Confirm your e-mail address").await;
    let body = json!({"token": token});
    m.json("verify (link token)", Method::POST, "/registrations/verify", Some(body), None, StatusCode::OK)
        .await;
    let token = m.token(&cat, "Confirm your e-mail address").await;
    let page = m.call(Method::GET, &format!("/links/verify-email?token={token}"), None, DEVICE);
    m.measure("verify page", page, StatusCode::OK).await;
    let form = m.call(Method::POST, "/links/verify-email", None, DEVICE).form(&[("token", token.as_str())]);
    m.measure("verify page (submit)", form, StatusCode::OK).await;

    let queue = "/admin/registrations?status=pending_approval";
    m.json("queue", Method::GET, queue, None, Some(admin), StatusCode::OK).await;
    let ann_id = m.app.account_id(&ann).await;
    let bea_id = m.app.account_id(&bea).await;
    let path = format!("/admin/registrations/{ann_id}/approve");
    m.json("approve", Method::POST, &path, None, Some(admin), StatusCode::OK).await;
    let path = format!("/admin/registrations/{bea_id}/reject");
    m.json("reject", Method::POST, &path, Some(json!({"reason": "Unknown"})), Some(admin), StatusCode::OK)
        .await;

    // ---- Sign-in, devices, sessions. Customers register from DEVICE, which they then trust.
    m.policy(admin, "none", "none", false).await;
    let dan = m.registered("dan").await;
    let eve = m.registered("eve").await;
    let fay = m.registered("fay").await;
    let kim = m.registered("kim").await;
    let body = json!({"email": dan, "password": PASSWORD});
    let signed_in = m
        .measure("sign in", m.call(Method::POST, "/sessions", None, DEVICE).json(&body), StatusCode::OK)
        .await;
    let dan_tokens = signed_in.body;
    let laptop = m.call(Method::POST, "/sessions", None, LAPTOP).json(&body);
    let on_laptop = m.measure("sign in (new device, confirmation off)", laptop, StatusCode::OK).await.body;
    m.policy(admin, "none", "none", true).await;
    let phone = m.call(Method::POST, "/sessions", None, PHONE).json(&body);
    let pending = m.measure("sign in (new device, confirmation on)", phone, StatusCode::ACCEPTED).await;
    let confirmation = text(&pending.body["confirmation_id"]);
    let code = m.code(&dan, "Confirm the sign-in from a new device").await;
    let path = format!("/sessions/device-confirmations/{confirmation}");
    let by_code = m.call(Method::POST, &path, None, PHONE).json(&json!({"code": code}));
    m.measure("confirm device (code)", by_code, StatusCode::OK).await;

    assert_eq!(m.app.sign_in_from(TABLET, &eve, PASSWORD).await.status, StatusCode::ACCEPTED);
    let token = m.token(&eve, "Confirm the sign-in from a new device").await;
    let body = json!({"token": token});
    m.json(
        "confirm device (link)",
        Method::POST,
        "/sessions/device-confirmations/link",
        Some(body),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(m.app.sign_in_from(TABLET, &fay, PASSWORD).await.status, StatusCode::ACCEPTED);
    let token = m.token(&fay, "Confirm the sign-in from a new device").await;
    let page = m.call(Method::GET, &format!("/links/confirm-device?token={token}"), None, DEVICE);
    m.measure("confirm device page", page, StatusCode::OK).await;
    let form = m.call(Method::POST, "/links/confirm-device", None, DEVICE).form(&[("token", token.as_str())]);
    m.measure("confirm device page (submit)", form, StatusCode::OK).await;

    let body = json!({"refresh_token": dan_tokens["refresh_token"]});
    m.json("refresh", Method::POST, "/sessions/refresh", Some(body), None, StatusCode::OK).await;
    let access = text(&on_laptop["access_token"]);
    m.json("me", Method::GET, "/me", None, Some(&access), StatusCode::OK).await;
    let locale = Some(json!({"locale": "en"}));
    m.json("change locale", Method::PATCH, "/me", locale, Some(&access), StatusCode::OK).await;
    let devices = m.json("devices", Method::GET, "/me/devices", None, Some(&access), StatusCode::OK).await;
    let listed: Vec<Value> = devices.body.as_array().expect("devices").clone();
    assert_eq!(listed.len(), 3, "registration device, laptop, phone: {listed:?}");
    // The phone: the device neither current (laptop) nor the registering one (first seen first).
    let mut others: Vec<&Value> = listed.iter().filter(|d| d["current"] == false).collect();
    others.sort_by_key(|d| text(&d["first_seen"]));
    let phone_id = text(&others[1]["id"]);
    let path = format!("/me/devices/{phone_id}");
    m.json("revoke device", Method::DELETE, &path, None, Some(&access), StatusCode::NO_CONTENT).await;
    m.json("sign out", Method::DELETE, "/sessions/current", None, Some(&access), StatusCode::NO_CONTENT)
        .await;

    // ---- Credentials: reset by mail, change, e-mail change, "not me".
    let gus = m.registered("gus").await;
    let hal = m.registered("hal").await;
    let ivy = m.registered("ivy").await;
    let jon = m.registered("jon").await;
    m.json(
        "reset",
        Method::POST,
        "/passwords/reset",
        Some(json!({"email": gus})),
        None,
        StatusCode::ACCEPTED,
    )
    .await;
    let token = m.token(&gus, "Reset your password").await;
    let page = m.call(Method::GET, &format!("/links/reset-password?token={token}"), None, DEVICE);
    m.measure("reset page", page, StatusCode::OK).await;
    let body = json!({"token": token, "new_password": NEW_PASSWORD});
    m.json("reset confirm", Method::POST, "/passwords/reset/confirm", Some(body), None, StatusCode::OK).await;
    assert_eq!(
        m.app.post("/passwords/reset", json!({"email": hal}), None).await.status,
        StatusCode::ACCEPTED
    );
    let token = m.token(&hal, "Reset your password").await;
    let form = m
        .call(Method::POST, "/links/reset-password", None, DEVICE)
        .form(&[("token", token.as_str()), ("new_password", NEW_PASSWORD)]);
    m.measure("reset page (submit)", form, StatusCode::OK).await;

    let access = text(&m.signed_in(DEVICE, &ivy, PASSWORD).await["access_token"]);
    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    m.json("change password", Method::PUT, "/me/password", Some(body), Some(&access), StatusCode::OK).await;

    let access = text(&m.signed_in(DEVICE, &jon, PASSWORD).await["access_token"]);
    let new_address = unique_email("jon-new");
    let body = json!({"new_email": new_address, "current_password": PASSWORD});
    m.json("change e-mail", Method::POST, "/me/email", Some(body), Some(&access), StatusCode::ACCEPTED).await;
    let code = m.code(&new_address, "Confirm your new e-mail address").await;
    m.json(
        "change e-mail (confirm)",
        Method::POST,
        "/me/email/confirm",
        Some(json!({"code": code})),
        Some(&access),
        StatusCode::OK,
    )
    .await;

    m.signed_in(DEVICE, &kim, PASSWORD).await;
    assert_eq!(m.app.sign_in_from(LAPTOP, &kim, PASSWORD).await.status, StatusCode::ACCEPTED);
    let mail = m.app.latest_mail(&kim, "Confirm the sign-in from a new device").await;
    let start = mail.body.find("/links/not-me?token=").expect("a not-me link") + "/links/not-me?token=".len();
    let token = mail.body[start..].split_whitespace().next().expect("token").to_owned();
    let page = m.call(Method::GET, &format!("/links/not-me?token={token}"), None, DEVICE);
    m.measure("not me page", page, StatusCode::OK).await;
    let form = m.call(Method::POST, "/links/not-me", None, DEVICE).form(&[("token", token.as_str())]);
    m.measure("not me page (submit)", form, StatusCode::OK).await;

    // ---- Labels and customers (new devices sign in without confirmation from here on).
    m.policy(admin, "none", "none", false).await;
    let body = json!({"name": "VIP", "colour": "#ffaa00"});
    let label = m
        .json("create label", Method::POST, "/admin/labels", Some(body), Some(admin), StatusCode::CREATED)
        .await;
    let label = text(&label.body["id"]);
    let first_look =
        m.json("labels (first look)", Method::GET, "/admin/labels", None, Some(admin), StatusCode::OK).await;
    let lead = first_look.body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|label| label["lifecycle_stage"] == "Lead"))
        .map(|label| text(&label["id"]))
        .expect("the built-in Lead label");
    m.json("labels", Method::GET, "/admin/labels", None, Some(admin), StatusCode::OK).await;
    let path = format!("/admin/labels/{label}");
    m.json("label", Method::GET, &path, None, Some(admin), StatusCode::OK).await;
    let body = json!({"name": "Gold"});
    m.json("rename label", Method::PATCH, &path, Some(body), Some(admin), StatusCode::OK).await;
    let body = json!({"description": "Top customers"});
    m.json("change label (same name)", Method::PATCH, &path, Some(body), Some(admin), StatusCode::OK).await;
    let dan_id = m.app.account_id(&dan).await;
    let attach = format!("/admin/customers/{dan_id}/labels/{label}");
    m.json("attach label", Method::PUT, &attach, None, Some(admin), StatusCode::NO_CONTENT).await;
    m.json("detach label", Method::DELETE, &attach, None, Some(admin), StatusCode::NO_CONTENT).await;
    let stage = format!("/admin/customers/{dan_id}/labels/{lead}");
    m.json("attach lifecycle label", Method::PUT, &stage, None, Some(admin), StatusCode::NO_CONTENT).await;
    m.json("delete label", Method::DELETE, &path, None, Some(admin), StatusCode::NO_CONTENT).await;

    let path = format!("/admin/customers/{dan_id}/disable");
    m.json("disable customer", Method::POST, &path, None, Some(admin), StatusCode::OK).await;
    let path = format!("/admin/customers/{dan_id}/enable");
    m.json("enable customer", Method::POST, &path, None, Some(admin), StatusCode::OK).await;
    m.json("customers", Method::GET, "/admin/customers", None, Some(admin), StatusCode::OK).await;
    m.json("customers (search)", Method::GET, "/admin/customers?q=an", None, Some(admin), StatusCode::OK)
        .await;
    let path = format!("/admin/customers/{dan_id}");
    m.json("customer", Method::GET, &path, None, Some(admin), StatusCode::OK).await;

    // ---- Projects, contact fields, roles, staff.
    let body = json!({"name": "Call centre"});
    let project = m
        .json("create project", Method::POST, "/admin/projects", Some(body), Some(admin), StatusCode::CREATED)
        .await;
    let project = text(&project.body["id"]);
    m.json("projects", Method::GET, "/admin/projects", None, Some(admin), StatusCode::OK).await;
    let body = json!({"name": "Call center"});
    let path = format!("/admin/projects/{project}");
    m.json("rename project", Method::PATCH, &path, Some(body), Some(admin), StatusCode::OK).await;

    let body =
        json!({"name": "Loyalty ID", "field_type": {"type": "text"}, "projects": [project], "unique": true});
    m.json(
        "create contact field",
        Method::POST,
        "/admin/contact-fields",
        Some(body),
        Some(admin),
        StatusCode::CREATED,
    )
    .await;
    let body = json!({"name": "Salary", "field_type": {"type": "number"}, "projects": [], "masked": true});
    assert_eq!(m.app.post("/admin/contact-fields", body, Some(admin)).await.status, StatusCode::CREATED);
    m.json("contact fields", Method::GET, "/admin/contact-fields", None, Some(admin), StatusCode::OK).await;
    let body = json!({"projects": [project]});
    let path = "/admin/contact-fields/Salary";
    m.json("change contact field", Method::PATCH, path, Some(body), Some(admin), StatusCode::OK).await;
    let body = json!({"masked": false});
    m.json("change contact field (unmask)", Method::PATCH, path, Some(body), Some(admin), StatusCode::OK)
        .await;

    let role = format!("night_{}", ulid::Ulid::generate().to_string().to_lowercase());
    let body = json!({"id": role, "name": "Night shift", "permissions": ["users.manage"], "modules": {"cases": "rw"}});
    m.json("create role", Method::POST, "/admin/roles", Some(body), Some(admin), StatusCode::CREATED).await;
    m.json("roles", Method::GET, "/admin/roles", None, Some(admin), StatusCode::OK).await;
    let path = format!("/admin/roles/{role}");
    m.json("role", Method::GET, &path, None, Some(admin), StatusCode::OK).await;
    let body = json!({"name": "Night shift", "permissions": ["users.manage"], "modules": {"cases": "rw", "tasks": "r"}});
    m.json("change role", Method::PUT, &path, Some(body), Some(admin), StatusCode::OK).await;

    let staff_email = unique_email("night");
    let body = json!({"email": staff_email, "name": "Night", "password": PASSWORD, "roles": [role], "projects": [project]});
    let user = m
        .json("create user", Method::POST, "/admin/users", Some(body), Some(admin), StatusCode::CREATED)
        .await;
    let user = text(&user.body["id"]);
    m.json("users", Method::GET, "/admin/users", None, Some(admin), StatusCode::OK).await;
    let path = format!("/admin/users/{user}");
    let body = json!({"roles": [role, "tech_support"]});
    m.json("change user", Method::PATCH, &path, Some(body), Some(admin), StatusCode::OK).await;
    let body = json!({"email": staff_email, "password": PASSWORD});
    m.signed_in(DEVICE, &staff_email, PASSWORD).await;
    let night = m.call(Method::POST, "/sessions", None, DEVICE).json(&body);
    let night = m.measure("sign in (staff with a custom role)", night, StatusCode::OK).await.body;
    let body = json!({"refresh_token": night["refresh_token"]});
    m.json(
        "refresh (staff with a custom role)",
        Method::POST,
        "/sessions/refresh",
        Some(body),
        None,
        StatusCode::OK,
    )
    .await;
    let path = format!("/admin/users/{user}/disable");
    m.json("disable user", Method::POST, &path, None, Some(admin), StatusCode::OK).await;
    let path = format!("/admin/users/{user}/enable");
    m.json("enable user", Method::POST, &path, None, Some(admin), StatusCode::OK).await;
    let path = format!("/admin/users/{user}");
    assert_eq!(
        m.app.request(Method::PATCH, &path, Some(json!({"roles": []})), Some(admin)).await.status,
        StatusCode::OK
    );
    let path = format!("/admin/roles/{role}");
    m.json("delete role", Method::DELETE, &path, None, Some(admin), StatusCode::NO_CONTENT).await;

    // ---- Records.
    let (agent, agent_id) = m.app.staff_member(portico::domain::BuiltinRole::FieldAgent).await;
    let body = json!({"fields": {"first_name": "Ann", "last_name": "Lee"}});
    let plain = m
        .json(
            "create contact",
            Method::POST,
            "/records/contacts",
            Some(body),
            Some(admin),
            StatusCode::CREATED,
        )
        .await;
    let plain = text(&plain.body["id"]);
    let body = json!({"fields": {"first_name": "Bo", "last_name": "Ek", "Loyalty ID": "L-1"}});
    let unique = m
        .json(
            "create contact (unique value)",
            Method::POST,
            "/records/contacts",
            Some(body),
            Some(admin),
            StatusCode::CREATED,
        )
        .await;
    let unique = text(&unique.body["id"]);
    let body = json!({"fields": {"subject": "Call back"}, "owner_id": agent_id});
    m.json(
        "create task (for another owner)",
        Method::POST,
        "/records/tasks",
        Some(body),
        Some(admin),
        StatusCode::CREATED,
    )
    .await;
    let body = json!({"fields": {"subject": "Own task"}});
    let task = m
        .json("create task", Method::POST, "/records/tasks", Some(body), Some(&agent), StatusCode::CREATED)
        .await;
    let task = text(&task.body["id"]);

    let path = format!("/records/contacts/{plain}");
    m.json("get contact", Method::GET, &path, None, Some(admin), StatusCode::OK).await;
    let body = json!({"fields": {"first_name": "Anna"}, "version": 1});
    m.json("change contact", Method::PATCH, &path, Some(body), Some(admin), StatusCode::OK).await;
    let path = format!("/records/contacts/{unique}");
    let body = json!({"fields": {"Loyalty ID": "L-2"}, "version": 1});
    m.json("change contact (unique value)", Method::PATCH, &path, Some(body), Some(admin), StatusCode::OK)
        .await;
    let path = format!("/records/tasks/{task}");
    let body = json!({"fields": {"subject": "Own task, done"}, "version": 1});
    m.json("change task", Method::PATCH, &path, Some(body), Some(&agent), StatusCode::OK).await;
    m.json("get task", Method::GET, &path, None, Some(&agent), StatusCode::OK).await;
    m.json("record audit", Method::GET, &format!("{path}/audit"), None, Some(&agent), StatusCode::OK).await;

    m.json("list contacts", Method::GET, "/records/contacts", None, Some(admin), StatusCode::OK).await;
    m.json("list own tasks", Method::GET, "/records/tasks", None, Some(&agent), StatusCode::OK).await;
    let path = format!("/records/contacts?{}=L-2", urlencode("Loyalty ID"));
    m.json("list contacts (unique value)", Method::GET, &path, None, Some(admin), StatusCode::OK).await;
    let export = m.call(Method::GET, "/records/contacts", Some(admin), DEVICE).header("accept", "text/csv");
    m.measure("export contacts", export, StatusCode::OK).await;

    let mapping = json!({"first_name": "{{First}}", "Loyalty ID": "{{Card}}"});
    let rows = json!([{"First": "Cy", "Card": "C-1"}, {"First": "Di", "Card": "C-2"}, {"First": "Bo", "Card": "L-2"}]);
    let body = json!({"project_id": project, "mapping": mapping, "rows": rows, "match_on": "Loyalty ID"});
    let report = m
        .json("import contacts", Method::POST, "/imports/contacts", Some(body), Some(admin), StatusCode::OK)
        .await;
    assert_eq!(
        (report.body["created"].as_u64(), report.body["updated"].as_u64()),
        (Some(2), Some(1)),
        "{:?}",
        report.body
    );

    // ---- Agent forms (a sales manager of the project fills one for the contact).
    let form = json!({"name": "Welcome call", "project_id": project,
        "questions": [{"id": "Name", "text": "Your name?", "type": "text", "required": true},
                      {"id": "Card", "text": "Loyalty card?", "type": "text", "contact_field": "Loyalty ID"}],
        "data": {"first_name": "{{Name}}"}});
    let created = m
        .json(
            "create form",
            Method::POST,
            "/admin/forms",
            Some(form.clone()),
            Some(admin),
            StatusCode::CREATED,
        )
        .await;
    let form_path = format!("/admin/forms/{}", text(&created.body["id"]));
    m.json("all forms", Method::GET, "/admin/forms", None, Some(admin), StatusCode::OK).await;
    m.json("form (admin)", Method::GET, &form_path, None, Some(admin), StatusCode::OK).await;
    let replace = m.call(Method::PUT, &form_path, Some(admin), DEVICE).header("if-match", "1").json(&form);
    m.measure("replace form", replace, StatusCode::OK).await;
    let caller_email = unique_email("caller");
    let body = json!({"email": caller_email, "name": "Caller", "password": PASSWORD, "roles": ["sales_manager"], "projects": [project]});
    assert_eq!(m.app.post("/admin/users", body, Some(admin)).await.status, StatusCode::CREATED);
    let caller =
        m.app.sign_in(&caller_email, PASSWORD).await.body["access_token"].as_str().map(str::to_owned);
    let caller = caller.expect("token");
    m.json("forms", Method::GET, "/forms", None, Some(&caller), StatusCode::OK).await;
    let open = format!("/forms/{}?contact_id={unique}", text(&created.body["id"]));
    m.json("open form", Method::GET, &open, None, Some(&caller), StatusCode::OK).await;
    let submit = format!("/forms/{}/submissions", text(&created.body["id"]));
    let body = json!({"contact_id": unique, "answers": {"Name": "Bob", "Card": "L-3"}});
    let submitted = m
        .json(
            "submit form (no version)",
            Method::POST,
            &submit,
            Some(body),
            Some(&caller),
            StatusCode::CREATED,
        )
        .await;
    let version = submitted.body["contact"]["version"].clone();
    let body = json!({"contact_id": unique, "answers": {"Name": "Bob", "Card": "L-4"}, "version": version});
    m.json("submit form", Method::POST, &submit, Some(body), Some(&caller), StatusCode::CREATED).await;
    let path = format!("/records/contacts/{unique}/submissions");
    m.json("contact submissions", Method::GET, &path, None, Some(admin), StatusCode::OK).await;
    m.json("delete form", Method::DELETE, &form_path, None, Some(admin), StatusCode::NO_CONTENT).await;

    let path = format!("/records/contacts/{plain}");
    m.json("delete contact", Method::DELETE, &path, None, Some(admin), StatusCode::NO_CONTENT).await;
    let path = format!("/records/tasks/{task}");
    m.json("delete task", Method::DELETE, &path, None, Some(admin), StatusCode::NO_CONTENT).await;

    // ---- OTP rules.
    let rule = json!({"name": "Delivery confirmation OTP", "module": "deliveries",
        "trigger": {"field": "status", "changed_to": "Delivered"}, "otp": {"length": 6},
        "channels": ["sms"], "recipients": {"sms": "contact.mobile"}});
    let created = m
        .json(
            "create otp rule",
            Method::POST,
            "/admin/otp-rules",
            Some(rule.clone()),
            Some(admin),
            StatusCode::CREATED,
        )
        .await;
    let path = format!("/admin/otp-rules/{}", text(&created.body["id"]));
    m.json("otp rules", Method::GET, "/admin/otp-rules", None, Some(admin), StatusCode::OK).await;
    m.json("otp rule", Method::GET, &path, None, Some(admin), StatusCode::OK).await;
    let mut replacement = rule.clone();
    replacement["version"] = json!(1);
    m.json("replace otp rule", Method::PUT, &path, Some(replacement), Some(admin), StatusCode::OK).await;
    m.json("delete otp rule", Method::DELETE, &path, None, Some(admin), StatusCode::NO_CONTENT).await;

    // ---- OTP-guarded changes: the seed's delivery rule (automatic, SMS) and a manual one on
    // tasks (mail); the setup is not measured.
    let app = &m.app;
    let customer = json!({"fields": {"first_name": "Pia", "last_name": "Novak", "mobile": "+420601555123", "email": "pia.round-trips@example.com"}});
    let contact = app.post("/records/contacts", customer, Some(admin)).await;
    let contact = text(&contact.body["id"]);
    app.post("/admin/otp-rules", rule, Some(admin)).await;
    let manual = json!({"name": "Done needs the customer", "module": "tasks",
        "trigger": {"field": "status", "changed_to": "Done"}, "otp": {"length": 6}, "send_mode": "manual",
        "channels": ["email"], "recipients": {"email": "contact.email"}});
    app.post("/admin/otp-rules", manual, Some(admin)).await;
    let delivery = json!({"owner_id": agent_id, "fields": {"reference": "R-1", "status": "Out for delivery", "contact_id": contact}});
    let delivery = text(&app.post("/records/deliveries", delivery, Some(admin)).await.body["id"]);
    let path = format!("/records/deliveries/{delivery}");
    let body = json!({"fields": {"status": "Delivered"}, "version": 1});
    let challenge = m
        .json(
            "change delivery (otp required)",
            Method::PATCH,
            &path,
            Some(body.clone()),
            Some(&agent),
            StatusCode::PRECONDITION_REQUIRED,
        )
        .await;
    m.json(
        "change delivery (otp challenge open)",
        Method::PATCH,
        &path,
        Some(body),
        Some(&agent),
        StatusCode::PRECONDITION_REQUIRED,
    )
    .await;
    let challenge = format!("/otp/challenges/{}", text(&challenge.body["challenge_id"]));
    m.json("otp challenge", Method::GET, &challenge, None, Some(&agent), StatusCode::OK).await;
    let sms = m.app.outbox.messages_to("+420601555123").await.expect("outbox");
    let code =
        sms.last().expect("an SMS").body.split(' ').find(|w| w.len() == 7 && w.ends_with('.')).expect("code");
    let code = code.trim_end_matches('.').to_owned();
    let verify = format!("{challenge}/verify");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    m.json(
        "verify otp (wrong code)",
        Method::POST,
        &verify,
        Some(json!({"code": wrong})),
        Some(&agent),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    m.json("verify otp", Method::POST, &verify, Some(json!({"code": code})), Some(&agent), StatusCode::OK)
        .await;
    let task = json!({"fields": {"subject": "Install", "contact_id": contact}});
    let task = text(&m.app.post("/records/tasks", task, Some(&agent)).await.body["id"]);
    let path = format!("/records/tasks/{task}");
    let body = json!({"fields": {"status": "Done"}, "version": 1});
    let challenge = m
        .json(
            "change task (manual otp)",
            Method::PATCH,
            &path,
            Some(body),
            Some(&agent),
            StatusCode::PRECONDITION_REQUIRED,
        )
        .await;
    let challenge = format!("/otp/challenges/{}", text(&challenge.body["challenge_id"]));
    m.json(
        "send otp code",
        Method::POST,
        &format!("{challenge}/send"),
        Some(json!({})),
        Some(&agent),
        StatusCode::OK,
    )
    .await;
    m.json(
        "resend otp code (within 30 s)",
        Method::POST,
        &format!("{challenge}/resend"),
        None,
        Some(&agent),
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;

    // ---- The customer portal: a customer active from registration, linked at their first
    // request; their quote; products of their country.
    let quotes = json!({"exposure": "related", "lookup": "contact_id", "fields": ["subject", "stage"],
        "criteria": {"field": "stage", "op": "eq", "value": "Approved"}});
    let path = "/admin/portal/modules/quotes";
    m.json("save portal module", Method::PUT, path, Some(quotes), Some(admin), StatusCode::OK).await;
    let products = json!({"exposure": "public", "fields": ["name", "price"],
        "criteria": {"field": "region", "op": "eq", "field_ref": "$user.billing_country"}});
    let saved =
        m.app.request(Method::PUT, "/admin/portal/modules/products", Some(products), Some(admin)).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    m.json("portal config", Method::GET, "/admin/portal/modules", None, Some(admin), StatusCode::OK).await;
    m.json("portal module", Method::GET, path, None, Some(admin), StatusCode::OK).await;
    m.policy(admin, "none", "none", false).await;
    let pat = m.registered("pat").await;
    let pat_token = text(&m.signed_in(DEVICE, &pat, PASSWORD).await["access_token"]);
    let pat_token = pat_token.as_str();
    let first = "portal modules (first request: link)";
    m.json(first, Method::GET, "/portal/modules", None, Some(pat_token), StatusCode::OK).await;
    let pat_id = m.app.account_id(&pat).await;
    let pat_account =
        m.app.state.store.account(pat_id.parse().expect("id")).await.expect("read").expect("account");
    let pat_contact = pat_account.contact_id.expect("linked").to_string();
    let version =
        m.app.get(&format!("/records/contacts/{pat_contact}"), Some(admin)).await.body["version"].clone();
    let country = json!({"version": version, "fields": {"billing_country": "CZ"}});
    m.app
        .request(Method::PATCH, &format!("/records/contacts/{pat_contact}"), Some(country), Some(admin))
        .await;
    let quote = json!({"fields": {"subject": "Racks", "stage": "Approved", "contact_id": pat_contact}});
    let quote = text(&m.app.post("/records/quotes", quote, Some(admin)).await.body["id"]);
    let product = json!({"fields": {"name": "Rack", "price": 10, "region": "CZ"}});
    m.app.post("/records/products", product, Some(admin)).await;
    m.json("portal modules", Method::GET, "/portal/modules", None, Some(pat_token), StatusCode::OK).await;
    let list = "/portal/records/quotes";
    let listed =
        m.json("portal list (related)", Method::GET, list, None, Some(pat_token), StatusCode::OK).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    let list = "/portal/records/products";
    let label = "portal list (public, key index)";
    let listed = m.json(label, Method::GET, list, None, Some(pat_token), StatusCode::OK).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    let path = format!("/portal/records/quotes/{quote}");
    m.json("portal record", Method::GET, &path, None, Some(pat_token), StatusCode::OK).await;
    let path = format!("/admin/portal/preview?user_id={pat_id}&module=quotes");
    m.json("portal preview", Method::GET, &path, None, Some(admin), StatusCode::OK).await;
    let other = json!({"fields": {"last_name": "Pat's other contact"}});
    let other = text(&m.app.post("/records/contacts", other, Some(admin)).await.body["id"]);
    let path = format!("/admin/customers/{pat_id}/contact");
    let body = json!({"contact_id": other});
    m.json("link customer", Method::PUT, &path, Some(body), Some(admin), StatusCode::OK).await;
    m.json("unlink customer", Method::DELETE, &path, None, Some(admin), StatusCode::NO_CONTENT).await;
    let path = "/admin/portal/modules/products";
    m.json("delete portal module", Method::DELETE, path, None, Some(admin), StatusCode::NO_CONTENT).await;

    // ---- Workflow rules (this table has no stream: nothing runs them here).
    let rule = json!({"name": "Big deal alert", "module": "deals", "trigger": {"event": "created_or_edited"},
        "criteria": {"field": "amount", "op": "gt", "value": 50000},
        "actions": [{"type": "email_alert", "to": {"roles": ["sales_manager"]}, "subject": "Big deal: {{name}}", "body": "{{amount}}"}]});
    let created = m
        .json(
            "create workflow rule",
            Method::POST,
            "/admin/workflow-rules",
            Some(rule.clone()),
            Some(admin),
            StatusCode::CREATED,
        )
        .await;
    let path = format!("/admin/workflow-rules/{}", text(&created.body["id"]));
    m.json("workflow rules", Method::GET, "/admin/workflow-rules", None, Some(admin), StatusCode::OK).await;
    m.json("workflow rule", Method::GET, &path, None, Some(admin), StatusCode::OK).await;
    let replace = m.call(Method::PUT, &path, Some(admin), DEVICE).header("if-match", "1").json(&rule);
    m.measure("replace workflow rule", replace, StatusCode::OK).await;
    let body = json!({"record": {"amount": 60000, "name": "Racks"}});
    m.json(
        "test workflow rule",
        Method::POST,
        &format!("{path}/test"),
        Some(body),
        Some(admin),
        StatusCode::OK,
    )
    .await;
    m.json("workflow runs", Method::GET, &format!("{path}/runs"), None, Some(admin), StatusCode::OK).await;
    m.json("delete workflow rule", Method::DELETE, &path, None, Some(admin), StatusCode::NO_CONTENT).await;

    // ---- Static answers.
    for (label, path) in
        [("admin page", "/admin/"), ("admin asset", "/admin/assets/main.js"), ("openapi", "/openapi.json")]
    {
        m.json(label, Method::GET, path, None, None, StatusCode::OK).await;
    }

    report_and_check(&m.measured);
    println!("\n{}", crate::cost::HEADER);
    for &(label, method, path, ..) in EXPECTED {
        if let (Some(measured), Some(units)) = (m.measured.get(label), m.units.get(label)) {
            println!(
                "{}",
                crate::cost::row(label, method, path, *units, measured.dynamodb, measured.ses, measured.sns)
            );
        }
    }
}

/// Prints the table (Markdown, for BENCHMARKS.md) and asserts every row against what was
/// measured, and that every operation of the API has a row.
fn report_and_check(measured: &BTreeMap<&'static str, Measured>) {
    println!(
        "| endpoint | case | DynamoDB | SES | SNS | least DynamoDB | why above the least / what it does |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut mismatches = Vec::new();
    for &(label, method, path, dynamodb, ses, sns, minimum, reason) in EXPECTED {
        let expected = Measured { dynamodb, ses, sns };
        let got = measured.get(label).copied();
        let shown = got.unwrap_or(expected);
        println!(
            "| `{method} {path}` | {label} | {} | {} | {} | {minimum} | {reason} |",
            shown.dynamodb, shown.ses, shown.sns
        );
        if got != Some(expected) {
            mismatches.push(format!("{label}: expected {expected:?}, measured {got:?}"));
        }
    }
    let listed: BTreeSet<&str> = EXPECTED.iter().map(|row| row.0).collect();
    for (label, got) in measured {
        if !listed.contains(label) {
            mismatches.push(format!("{label}: measured {got:?}, but not in EXPECTED"));
        }
    }
    let document = serde_json::to_value(portico_openapi::document()).expect("OpenAPI as JSON");
    let covered: BTreeSet<(String, String)> =
        EXPECTED.iter().map(|row| (row.1.to_lowercase(), row.2.to_owned())).collect();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if !covered.contains(&(method.clone(), path.clone())) {
                mismatches.push(format!("{} {path}: an operation without a row", method.to_uppercase()));
            }
        }
    }
    assert!(mismatches.is_empty(), "round trips differ from the table:\n{}", mismatches.join("\n"));
}
