//! OTP rules meet lifecycle moves: a customer's stage is mirrored into its contact's `lifecycle`
//! field, so a move the field's OTP rule guards (e.g. `changed_to: Customer`) needs the
//! customer's one-time password like the field's own change — staff and rules may not move the
//! stage around it.

use crate::domain::lifecycle::Stage;
use crate::domain::modules::{self, Origin};
use ulid::Ulid;

use crate::domain::otp::ValidOtpRule;

use crate::store::{Store, StoreError};

use super::{Caller, RecordError, View};

/// The contact field the stage is mirrored into.
pub const FIELD: &str = "lifecycle";

/// The name of the OTP rule among `otp_rules` (the contacts module's, as `otp_rules` reads
/// them: callers that hold them already pass theirs) that guards moving customer `customer_id`
/// to `to` through its linked contact's `lifecycle` field, if one does. The customer and its
/// contact are read only when a rule watches the field. A customer without a contact has no
/// field to guard.
pub async fn guarding_rule(
    store: &Store,
    otp_rules: &[(Ulid, ValidOtpRule)],
    customer_id: Ulid,
    to: Option<Stage>,
) -> Result<Option<String>, StoreError> {
    let contacts = modules::contacts();
    let rules: Vec<_> = otp_rules
        .iter()
        .filter(|(_, rule)| rule.module.name == contacts.name && rule.definition.trigger.field == FIELD)
        .collect();
    if rules.is_empty() {
        return Ok(None);
    }
    let (customer, custom) = tokio::try_join!(store.account(customer_id), store.contact_fields())?;
    let Some(contact_id) = customer.and_then(|customer| customer.contact_id) else { return Ok(None) };
    let caller = Caller::system(Origin::Lifecycle(customer_id));
    let contact = match View::new(&caller, contacts, &custom).read(store, contact_id).await {
        Ok(contact) => contact,
        Err(RecordError::Store(error)) => return Err(error),
        Err(_) => return Ok(None),
    };
    let mut moved = contact.fields.clone();
    match to {
        Some(stage) => {
            moved.insert(FIELD.to_owned(), crate::criteria::Value::String(stage.as_str().to_owned()))
        }
        None => moved.remove(FIELD),
    };
    let now = chrono::Utc::now();
    Ok(rules
        .iter()
        .find(|(_, rule)| rule.trips(&contact.fields, &moved, now))
        .map(|(_, rule)| rule.definition.name.clone()))
}
