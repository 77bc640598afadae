//! The record audit trail: one entry per record change, written by the stream consumer once (a
//! conditional put keyed by the version the change made), beside the record in its partition,
//! so a record's history is one Query, newest first.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;
use ulid::Ulid;

use super::keys::{self, PK, SK};
use super::{Item, Page, PageKey, Store, StoreError, s};

/// One field's change: its value before and after (JSON as the API shows values; `null` for
/// none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: JsonValue,
    pub new: JsonValue,
    /// The values were too large to keep (`old` and `new` are then `null`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// Largest value an entry keeps of one side of a change, and of all its values together: an
/// item may not pass DynamoDB's 400 KB, and a record's values may add up to more.
const MAX_VALUE_BYTES: usize = 1024;
const MAX_VALUES_BYTES: usize = 256 * 1024;

impl FieldChange {
    /// The change of `field`, its values dropped when too large to keep.
    pub fn new(field: String, old: JsonValue, new: JsonValue) -> Self {
        let large = |value: &JsonValue| value.to_string().len() > MAX_VALUE_BYTES;
        if large(&old) || large(&new) {
            return Self { field, old: JsonValue::Null, new: JsonValue::Null, truncated: true };
        }
        Self { field, old, new, truncated: false }
    }
}

/// `changes` within the entry's budget: past it, values are dropped (field names stay).
pub fn within_budget(mut changes: Vec<FieldChange>) -> Vec<FieldChange> {
    let mut spent = 0;
    for change in &mut changes {
        spent += change.old.to_string().len() + change.new.to_string().len();
        if spent > MAX_VALUES_BYTES {
            *change =
                FieldChange { truncated: true, old: JsonValue::Null, new: JsonValue::Null, ..change.clone() };
        }
    }
    changes
}

/// A record change as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub module: String,
    pub record_id: String,
    /// `created`, `edited` or `deleted`.
    pub event: String,
    /// The stream event, once per entry.
    pub event_id: String,
    /// The staff account that made the change, or `system`.
    pub by: String,
    /// Through what: `api`, `import`, `otp:<id>`, `workflow:<rule>/<depth>`, `portal:<account>` …
    pub origin: String,
    #[serde(with = "crate::time::rfc3339")]
    pub at: DateTime<Utc>,
    /// The version the change made (the last version, for a deletion).
    pub version: u64,
    pub changes: Vec<FieldChange>,
}

impl Store {
    /// Records `entry` once: a redelivered event finds its entry there and leaves it.
    pub async fn record_audit_entry(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let id = Ulid::from_string(&entry.record_id).map_err(|_| StoreError::Malformed("record id"))?;
        let (pk, sk) = keys::audit_entry(&entry.module, id, entry.version, entry.event == "deleted");
        let mut item: Item = serde_dynamo::to_item(entry)?;
        item.insert(PK.into(), s(pk));
        item.insert(SK.into(), s(sk));
        item.insert("entity".into(), s("audit"));
        self.put_once(item).await
    }

    /// A page of record `id`'s audit trail, newest first.
    pub async fn audit_entries(
        &self,
        module: &str,
        id: Ulid,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let (partition, _) = keys::record(module, id);
        let page = self.newest_in_partition(partition, keys::AUDIT_SK_PREFIX, limit, start).await?;
        let items = page
            .items
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(StoreError::from))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }
}
