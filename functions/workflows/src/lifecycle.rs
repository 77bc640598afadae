//! Lifecycle labels on the stream (SPEC §1, seed 002): a new customer becomes a Lead (policy
//! `auto_lifecycle`), the customer's stage and its contact's `lifecycle` field follow each other
//! (the stage is the truth; a staff change of the field moves the stage), and changes by people
//! to the contact or its records count as the customer's activity for time rules.

use std::collections::BTreeMap;

use portico::AppState;
use portico::criteria::{FieldSchema, Value};
use portico::domain::lifecycle::{MoveFrom, Stage};
use portico::domain::modules::{self, CrmRecord, Origin, parse_field};
use portico::domain::{Account, AccountKind};
use portico::records::lifecycle::FIELD;
use portico::records::{Caller, RecordError, View};
use portico::store::lifecycle::LifecycleMove;
use portico::store::workflows::MARKER;
use portico::store::{StoreError, WriteSet};
use ulid::Ulid;

use crate::Rules;

/// Attempts at writing the contact when it changes meanwhile.
const SYNC_ATTEMPTS: usize = 3;

/// A customer account's change: a new customer becomes a Lead; a new stage is written to the
/// linked contact; a new link adopts the contact's stage when the customer has none.
pub async fn on_account(
    state: &AppState,
    rules: &Rules,
    event_id: &str,
    now: &Account,
    before: Option<&Account>,
) -> Result<(), StoreError> {
    if now.kind != AccountKind::Customer {
        return Ok(());
    }
    if before.is_none() && now.lifecycle.is_none() && rules.policy(state).await?.auto_lifecycle {
        // Once per event: a redelivered insert never makes a Lead again of a customer whose
        // stage staff took away meanwhile.
        let moved = state
            .store
            .move_lifecycle(now.id, Some(Stage::Lead), &MoveFrom::nothing(), || {
                marker(state, &format!("{event_id}#auto_lifecycle"))
            })
            .await;
        return done_once(moved);
    }
    let linked = before.is_none_or(|before| before.contact_id != now.contact_id);
    let moved = before.is_none_or(|before| before.lifecycle != now.lifecycle);
    if now.contact_id.is_some() && (linked || moved) {
        sync_contact(state, rules, now.id, linked).await?;
    }
    Ok(())
}

/// The marker of a lifecycle effect `key`, for its move's transaction.
fn marker(state: &AppState, key: &str) -> Result<WriteSet, StoreError> {
    Ok(WriteSet::new().with(MARKER, state.store.effect_marker(key, chrono::Utc::now())?))
}

/// A marked move's outcome: a marker already there means the move was made before.
fn done_once(moved: Result<LifecycleMove, StoreError>) -> Result<(), StoreError> {
    match moved {
        Ok(_) => Ok(()),
        Err(error) if error.failed(MARKER) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Writes customer `account_id`'s stage, as stored now (a late event never writes an old
/// one), to its contact's `lifecycle` field (no stage: the field cleared). Just `linked`, a
/// customer without a stage takes the contact's instead (set before the link, by staff or an
/// import).
async fn sync_contact(
    state: &AppState,
    rules: &Rules,
    account_id: Ulid,
    linked: bool,
) -> Result<(), StoreError> {
    let store = &state.store;
    let contacts = modules::contacts();
    let caller = Caller::system(Origin::Lifecycle(account_id));
    let view =
        View::new(&caller, contacts, &rules.custom).with_otp_rules(rules.otp_rules(state, contacts).await?);
    for _ in 0..SYNC_ATTEMPTS {
        let Some(account) = store.account(account_id).await? else { return Ok(()) };
        let Some(contact_id) = account.contact_id else { return Ok(()) };
        let contact = match view.read(store, contact_id).await {
            Ok(contact) => contact,
            Err(RecordError::Store(error)) => return Err(error),
            Err(_) => return Ok(()),
        };
        let field = field_stage(&contact);
        if field == account.lifecycle {
            return Ok(());
        }
        if let (None, Some(stage), true) = (account.lifecycle, field, linked) {
            store
                .move_lifecycle(account.id, Some(stage), &MoveFrom::nothing(), || Ok(WriteSet::new()))
                .await?;
            return Ok(());
        }
        let field_type = contacts.fields.field_type(FIELD).ok_or(StoreError::Malformed("lifecycle field"))?;
        let wanted =
            account.lifecycle.map_or(serde_json::Value::Null, |stage| serde_json::json!(stage.as_str()));
        let value =
            parse_field(field_type, &wanted).map_err(|_| StoreError::Malformed("lifecycle option"))?;
        let values = BTreeMap::from([(FIELD.to_owned(), value)]);
        match view.change(store, contact.id, contact.version, &values, None, WriteSet::new()).await {
            Ok(_) => return Ok(()),
            Err(RecordError::VersionMismatch { .. }) => continue,
            Err(RecordError::Store(error)) => return Err(error),
            Err(RecordError::ItemsFailed(cancellation)) if !cancellation.conflicted.is_empty() => continue,
            Err(error) => {
                // E.g. an OTP rule guards the field: the contact keeps its value, the stage stands.
                tracing::warn!(account_id = %account.id, contact_id = %contact.id, %error, "the contact's lifecycle field was not updated");
                return Ok(());
            }
        }
    }
    Err(StoreError::Unavailable("the contact kept changing while its lifecycle field was written".into()))
}

fn field_stage(contact: &CrmRecord) -> Option<Stage> {
    match contact.fields.get(FIELD) {
        Some(Value::String(name)) => Stage::parse(name),
        _ => None,
    }
}

/// The customer linked to the contact `record` belongs to (itself, for a contact).
pub async fn customer_of(state: &AppState, record: &CrmRecord) -> Result<Option<Ulid>, StoreError> {
    let contact = if record.module.name == "contacts" {
        Some(record.id)
    } else {
        record.contact_id().and_then(|id| Ulid::from_string(id).ok())
    };
    match contact {
        Some(contact) => state.store.portal_account_of(contact).await,
        None => Ok(None),
    }
}

/// A record change: a person's change of a contact's `lifecycle` field moves its customer (once
/// per event), and any change by a person to the contact or its records is the customer's
/// activity.
pub async fn on_record(
    state: &AppState,
    event_id: &str,
    new: Option<&CrmRecord>,
    old: Option<&CrmRecord>,
) -> Result<(), StoreError> {
    let Some(current) = new.or(old) else { return Ok(()) };
    // A deletion's image names the last writer, not who deleted: it is not counted.
    let by_person = new.is_some_and(|new| new.origin.is_by_person());
    let field_moved = current.module.name == "contacts"
        && new.is_some()
        && !matches!(current.origin, Origin::Lifecycle(_))
        && new.and_then(field_stage) != old.and_then(field_stage);
    if !by_person && !field_moved {
        return Ok(());
    }
    let Some(account) = customer_of(state, current).await? else { return Ok(()) };
    if field_moved && let Some(new) = new {
        let key = format!("{event_id}#lifecycle");
        let moved = state
            .store
            .move_lifecycle(account, field_stage(new), &MoveFrom::anywhere(), || marker(state, &key))
            .await;
        done_once(moved)?;
    }
    if by_person && let Some(new) = new {
        // The write's own time: the stream's has whole seconds only.
        state.store.record_activity(account, new.updated_at).await?;
    }
    Ok(())
}
