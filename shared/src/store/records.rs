//! CRM records. Field values live in the map attribute `f` (a FilterExpression reaches field
//! `x` as the document path `f.x`, each segment a name placeholder), dates as ISO 8601 text. GSI1 lists a module's records, GSI2 a
//! contact's, GSI3 an owner's — all Queries, no Scan.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{
    AttributeValue as Av, ConditionCheck, Delete, ReturnValue, TransactWriteItem, Update,
};
use chrono::{DateTime, NaiveDate, Utc};
use ulid::Ulid;

use super::keys::{
    self, GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, GSI3, GSI3PK, GSI3SK, GSI4, GSI4SK, GSI5, GSI5SK, GSI6,
    GSI6SK, GSI7, GSI7SK, GSI8, GSI8PK, GSI8SK, PK, SK,
};
use super::{
    Item, Page, PageKey, Store, StoreError, WriteSet, check_start, n, page_key_from_item, page_key_to_item, s,
};
use crate::criteria::{
    AttributeValue, DateEncoding, FieldSchema, FieldType, FilterExpression, Number, Value,
};
use crate::domain::modules::{self, Actor, CrmRecord, Module, Origin};
use crate::domain::{AccountKind, AccountStatus};

/// How dates are stored, and so how filters on them are pushed down.
pub const DATES: DateEncoding = DateEncoding::Iso8601;
/// The map attribute holding a record's field values.
const FIELDS: &str = "f";

/// The document path of `field`; what criteria pushdown names in filters. Field names must not
/// contain a dot.
pub fn field_attribute(field: &str) -> String {
    format!("{FIELDS}.{field}")
}

fn to_sdk(value: &AttributeValue) -> Av {
    match value {
        AttributeValue::S(text) => Av::S(text.clone()),
        AttributeValue::N(number) => Av::N(number.clone()),
        AttributeValue::Bool(flag) => Av::Bool(*flag),
        AttributeValue::Null => Av::Null(true),
        AttributeValue::L(items) => Av::L(items.iter().map(to_sdk).collect()),
    }
}

fn encode(field_type: &FieldType, value: &Value) -> Result<Av, StoreError> {
    AttributeValue::from_value(value, field_type, DATES)
        .map(|stored| to_sdk(&stored))
        .ok_or(StoreError::Malformed("field value"))
}

fn decode(field_type: &FieldType, stored: &Av) -> Result<Value, StoreError> {
    let malformed = || StoreError::Malformed("record field");
    Ok(match (field_type, stored) {
        (_, Av::Null(_)) => Value::Null,
        (_, Av::Bool(flag)) => Value::Bool(*flag),
        (_, Av::N(number)) => Value::Number(number.parse::<Number>().map_err(|_| malformed())?),
        (FieldType::Date, Av::S(day)) => Value::DateTime(
            NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|_| malformed())?
                .and_time(chrono::NaiveTime::MIN)
                .and_utc(),
        ),
        (FieldType::DateTime, Av::S(instant)) => Value::DateTime(
            DateTime::parse_from_rfc3339(instant).map_err(|_| malformed())?.with_timezone(&Utc),
        ),
        (_, Av::S(text)) => Value::String(text.clone()),
        (_, Av::L(items)) => {
            Value::List(items.iter().map(|item| decode(&FieldType::Text, item)).collect::<Result<_, _>>()?)
        }
        _ => return Err(malformed()),
    })
}

/// Longest prefix of a text value that orders records; longer texts tie on it, then on the id.
const SORT_PREFIX_CHARS: usize = 200;

/// Sort key of a record in the module-by-sort-field index (GSI5): records with a value first,
/// in order (texts ignoring case), then those without one; the id breaks ties. Dates sort as
/// their fixed-width ISO 8601 text.
pub fn sort_field_key(module: &Module, value: Option<&Value>, id: Ulid) -> String {
    let stored = value
        .zip(module.fields.field_type(module.sort_field))
        .and_then(|(value, field_type)| AttributeValue::from_value(value, field_type, DATES));
    match stored {
        Some(AttributeValue::S(text)) => {
            let ordered: String =
                text.to_lowercase().chars().filter(|c| !c.is_control()).take(SORT_PREFIX_CHARS).collect();
            format!("1{ordered}\u{1}{id}")
        }
        _ => format!("2\u{1}{id}"),
    }
}

fn text(item: &Item, name: &'static str) -> Result<String, StoreError> {
    item.get(name).and_then(|value| value.as_s().ok()).cloned().ok_or(StoreError::Malformed(name))
}

/// The record stored in `item` — from a read, a query, or a DynamoDB stream image (convert a
/// stream's `serde_dynamo::Item` with `.into()`) — with the fields `schema` knows; fields outside
/// it (other projects' custom fields) are not read at all.
pub fn decode_record(item: Item, schema: &(dyn FieldSchema + Sync)) -> Result<CrmRecord, StoreError> {
    let module = modules::module(&text(&item, "module")?).ok_or(StoreError::Malformed("record module"))?;
    let instant = |name| crate::time::parse(&text(&item, name)?).ok_or(StoreError::Malformed(name));
    let ulid = |name| Ulid::from_string(&text(&item, name)?).map_err(|_| StoreError::Malformed(name));
    let mut fields = BTreeMap::new();
    if let Some(Av::M(stored_fields)) = item.get(FIELDS) {
        for (field, stored) in stored_fields {
            if let Some(field_type) = schema.field_type(field) {
                fields.insert(field.clone(), decode(field_type, stored)?);
            }
        }
    }
    let owner_id = ulid("owner_id")?;
    // Records written before `updated_by` and `origin` existed came through the API.
    let updated_by = match item.get("updated_by").and_then(|value| value.as_s().ok()) {
        Some(text) => text.parse().map_err(|()| StoreError::Malformed("updated_by"))?,
        None => Actor::Account(owner_id),
    };
    let origin = match item.get("origin").and_then(|value| value.as_s().ok()) {
        Some(text) => text.parse().map_err(|()| StoreError::Malformed("origin"))?,
        None => Origin::Api,
    };
    Ok(CrmRecord {
        id: ulid("id")?,
        module,
        owner_id,
        version: item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or(StoreError::Malformed("version"))?,
        fields,
        created_at: instant("created_at")?,
        updated_at: instant("updated_at")?,
        updated_by,
        origin,
    })
}

/// The GSI8 partition of a record whose key field holds `value` (texts only).
fn key_partition(module: &Module, value: &Value) -> Option<String> {
    match (module.key_field, value) {
        (Some(field), Value::String(text)) => Some(keys::key_value_records(module.name, field, text)),
        _ => None,
    }
}

fn record_key(module: &Module, id: Ulid) -> keys::Key {
    keys::record(module.name, id)
}

fn member_key(record: &CrmRecord) -> String {
    keys::record_member(record.module.name, record.id)
}

/// Write-set items claiming a unique value are named `guard:<field>`; those giving one up
/// `release:<field>`; the record itself `record`, the new owner's check `owner`.
pub const GUARD: &str = "guard:";
pub const RECORD: &str = "record";
pub const OWNER: &str = "owner";

pub fn guard_item(field: &str) -> String {
    format!("{GUARD}{field}")
}

fn release_item(field: &str) -> String {
    format!("release:{field}")
}

/// A unique field's value, normalized, as its guard item names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueValue {
    pub field: String,
    pub value: String,
}

/// What a change sets: fields to store, fields to remove, a new owner, and the unique values it
/// gives up and takes.
#[derive(Default)]
pub struct RecordChanges<'a> {
    pub set: Vec<(&'a str, &'a Value)>,
    pub remove: Vec<&'a str>,
    pub owner: Option<Ulid>,
    pub release: Vec<UniqueValue>,
    pub claim: Vec<UniqueValue>,
}

/// Who writes, and through what (stored as `updated_by` and `origin`).
#[derive(Debug, Clone)]
pub struct WrittenBy {
    pub actor: Actor,
    pub origin: Origin,
}

impl Store {
    fn guard_put(&self, record_id: Ulid, guard: &UniqueValue) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::unique_value(&guard.field, &guard.value);
        self.put_if_absent(Item::from([
            (PK.into(), s(pk)),
            (SK.into(), s(sk)),
            ("entity".into(), s("unique_value")),
            ("field".into(), s(guard.field.as_str())),
            ("record_id".into(), s(record_id.to_string())),
        ]))
    }

    fn guard_release(&self, record_id: Ulid, guard: &UniqueValue) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::unique_value(&guard.field, &guard.value);
        let delete = Delete::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            // A guard that is already gone blocks nothing; one of another record does.
            .condition_expression("attribute_not_exists(PK) OR record_id = :record")
            .expression_attribute_values(":record", s(record_id.to_string()))
            .build()?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// A check that `account_id` is an active staff member, for a write that gives them a record.
    pub fn active_staff_check(&self, account_id: Ulid) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::account(account_id);
        let check = ConditionCheck::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("kind = :staff AND #status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":staff", s(AccountKind::Staff.as_str()))
            .expression_attribute_values(":active", s(AccountStatus::Active.as_str()))
            .build()?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// The items that store the new `record` (`record`) and claim its unique values
    /// (`guard:<field>`); the caller may add its own before committing.
    pub fn record_creation(
        &self,
        record: &CrmRecord,
        schema: &(dyn FieldSchema + Sync),
        guards: &[UniqueValue],
    ) -> Result<WriteSet, StoreError> {
        let mut items = WriteSet::new().with(RECORD, self.put_if_absent(record_item(record, schema)?)?);
        for guard in guards {
            items.add(guard_item(&guard.field), self.guard_put(record.id, guard)?);
        }
        Ok(items)
    }

    /// Stores new `records` 25 to a BatchWriteItem, without conditions: a bulk load (seeding a
    /// benchmark, a migration) of records that hold no unique value.
    pub async fn put_records_in_bulk(
        &self,
        records: &[CrmRecord],
        schema: &(dyn FieldSchema + Sync),
    ) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for chunk in records.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|record| {
                    let put = PutRequest::builder().set_item(Some(record_item(record, schema)?)).build()?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // Unprocessed items (throttling) are sent again, a bounded number of times.
            for _ in 0..5 {
                let output =
                    self.client().batch_write_item().request_items(self.table(), requests).send().await?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(self.table()))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
            }
            if !requests.is_empty() {
                return Err(StoreError::Unavailable("a bulk write left items unprocessed".into()));
            }
        }
        Ok(())
    }
}

/// The item of a new record: its key, every index key it belongs to, its fields.
pub fn record_item(record: &CrmRecord, schema: &(dyn FieldSchema + Sync)) -> Result<Item, StoreError> {
    let (pk, sk) = record_key(record.module, record.id);
    let module = record.module.name;
    let sorted = sort_field_key(record.module, record.fields.get(record.module.sort_field), record.id);
    let mut item = Item::from([
        (PK.into(), s(pk)),
        (SK.into(), s(sk)),
        (GSI1PK.into(), s(keys::module_records(module))),
        (GSI1SK.into(), s(record.id.to_string())),
        (GSI3PK.into(), s(keys::owner_records(record.owner_id))),
        (GSI3SK.into(), s(member_key(record))),
        (GSI4SK.into(), s(keys::record_change(record.updated_at, record.id))),
        (GSI6SK.into(), s(keys::owner_sorted(module, &sorted))),
        (GSI7SK.into(), s(keys::owner_change(module, record.updated_at, record.id))),
        (GSI5SK.into(), s(sorted)),
        ("entity".into(), s("record")),
        ("module".into(), s(module)),
        ("id".into(), s(record.id.to_string())),
        ("owner_id".into(), s(record.owner_id.to_string())),
        ("version".into(), n(record.version)),
        ("created_at".into(), s(crate::time::format(record.created_at))),
        ("updated_at".into(), s(crate::time::format(record.updated_at))),
        ("updated_by".into(), s(record.updated_by.to_string())),
        ("origin".into(), s(record.origin.to_string())),
    ]);
    if let Some(contact) = record.contact_id() {
        item.insert(GSI2PK.into(), s(keys::contact_records(contact)));
        item.insert(GSI2SK.into(), s(member_key(record)));
    }
    if let Some(key_field) = record.module.key_field {
        item.insert(GSI8SK.into(), item[GSI5SK].clone());
        if let Some(partition) =
            record.fields.get(key_field).and_then(|value| key_partition(record.module, value))
        {
            item.insert(GSI8PK.into(), s(partition));
        }
    }
    let mut stored_fields = Item::new();
    for (field, value) in &record.fields {
        if *value != Value::Null
            && let Some(field_type) = schema.field_type(field)
        {
            stored_fields.insert(field.clone(), encode(field_type, value)?);
        }
    }
    item.insert(FIELDS.into(), Av::M(stored_fields));
    Ok(item)
}

impl Store {
    /// The items that apply `changes` to record `id` of `module` if it is still at `version`
    /// and, for callers who may change only their own records, still `owner`'s (`record`); free
    /// the unique values it gives up (`release:<field>`), claim the new ones (`guard:<field>`)
    /// and check a new owner (`owner`).
    #[allow(clippy::too_many_arguments)]
    pub fn record_change(
        &self,
        module: &'static Module,
        id: Ulid,
        (version, owner): (u64, Option<Ulid>),
        changes: &RecordChanges<'_>,
        schema: &(dyn FieldSchema + Sync),
        now: DateTime<Utc>,
        by: &WrittenBy,
    ) -> Result<WriteSet, StoreError> {
        let (pk, sk) = record_key(module, id);
        let mut condition = "version = :expected".to_owned();
        let mut update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .expression_attribute_values(":expected", n(version))
            .expression_attribute_values(":next", n(version + 1))
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .expression_attribute_values(":changed", s(keys::record_change(now, id)))
            .expression_attribute_values(":owner_changed", s(keys::owner_change(module.name, now, id)))
            .expression_attribute_values(":by", s(by.actor.to_string()))
            .expression_attribute_values(":origin", s(by.origin.to_string()));
        if let Some(owner) = owner {
            condition.push_str(" AND owner_id = :owner");
            update = update.expression_attribute_values(":owner", s(owner.to_string()));
        }
        let mut sets = vec![
            "version = :next".to_owned(),
            "updated_at = :now".to_owned(),
            "updated_by = :by".to_owned(),
            "origin = :origin".to_owned(),
            format!("{GSI4SK} = :changed"),
            format!("{GSI7SK} = :owner_changed"),
        ];
        // DynamoDB refuses placeholders an expression does not use.
        if !changes.set.is_empty() || !changes.remove.is_empty() {
            update = update.expression_attribute_names("#f", FIELDS);
        }
        let mut removes = Vec::new();
        for (index, (field, value)) in changes.set.iter().enumerate() {
            let field_type = schema.field_type(field).ok_or(StoreError::Malformed("unknown field"))?;
            update = update
                .expression_attribute_names(format!("#s{index}"), *field)
                .expression_attribute_values(format!(":s{index}"), encode(field_type, value)?);
            sets.push(format!("#f.#s{index} = :s{index}"));
        }
        for (index, field) in changes.remove.iter().enumerate() {
            update = update.expression_attribute_names(format!("#r{index}"), *field);
            removes.push(format!("#f.#r{index}"));
        }
        if let Some(owner) = changes.owner {
            update = update
                .expression_attribute_values(":new_owner", s(owner.to_string()))
                .expression_attribute_values(":owner_records", s(keys::owner_records(owner)));
            sets.push(format!("owner_id = :new_owner, {GSI3PK} = :owner_records"));
        }
        // The sort-field indexes follow the sort field.
        let sort_field = module.sort_field;
        let new_sort_value =
            changes.set.iter().find(|(field, _)| *field == sort_field).map(|(_, value)| *value);
        if new_sort_value.is_some() || changes.remove.contains(&sort_field) {
            let sorted = sort_field_key(module, new_sort_value, id);
            update = update
                .expression_attribute_values(":owner_sorted", s(keys::owner_sorted(module.name, &sorted)))
                .expression_attribute_values(":sorted", s(sorted));
            sets.push(format!("{GSI5SK} = :sorted, {GSI6SK} = :owner_sorted"));
            if module.key_field.is_some() {
                sets.push(format!("{GSI8SK} = :sorted"));
            }
        }
        // The key index follows the key field; its sort key is the sort-field key, set above
        // or copied (records from before GSI8 lack it).
        if let Some(key_field) = module.key_field {
            match changes.set.iter().find(|(field, _)| *field == key_field) {
                Some((_, value)) => {
                    match key_partition(module, value) {
                        Some(partition) => {
                            update = update.expression_attribute_values(":key", s(partition));
                            sets.push(format!("{GSI8PK} = :key"));
                        }
                        None => removes.push(GSI8PK.to_owned()),
                    }
                    if new_sort_value.is_none() && !changes.remove.contains(&sort_field) {
                        update = update
                            .expression_attribute_values(":unsorted", s(sort_field_key(module, None, id)));
                        sets.push(format!("{GSI8SK} = if_not_exists({GSI5SK}, :unsorted)"));
                    }
                }
                None if changes.remove.contains(&key_field) => removes.push(GSI8PK.to_owned()),
                None => {}
            }
        }
        // The contact index follows contact_id.
        let member = keys::record_member(module.name, id);
        if let Some((_, Value::String(contact))) =
            changes.set.iter().find(|(field, _)| *field == "contact_id")
        {
            update = update
                .expression_attribute_values(":contact", s(keys::contact_records(contact)))
                .expression_attribute_values(":member", s(member));
            sets.push("GSI2PK = :contact, GSI2SK = :member".into());
        } else if changes.remove.contains(&"contact_id") {
            removes.push("GSI2PK, GSI2SK".into());
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let update = update.update_expression(expression).condition_expression(condition).build()?;
        let mut items = WriteSet::new().with(RECORD, TransactWriteItem::builder().update(update).build());
        for guard in &changes.release {
            items.add(release_item(&guard.field), self.guard_release(id, guard)?);
        }
        for guard in &changes.claim {
            items.add(guard_item(&guard.field), self.guard_put(id, guard)?);
        }
        if let Some(owner) = changes.owner {
            items.add(OWNER, self.active_staff_check(owner)?);
        }
        Ok(items)
    }

    /// The items that delete record `id` (`record`) if it exists, is at `version` (when given)
    /// and is `owner`'s (when given), and free its unique values (`release:<field>`); a contact
    /// only while no customer is linked to it (`portal_link`).
    pub fn record_deletion(
        &self,
        module: &Module,
        id: Ulid,
        (version, owner): (Option<u64>, Option<Ulid>),
        guards: &[UniqueValue],
    ) -> Result<WriteSet, StoreError> {
        let (pk, sk) = record_key(module, id);
        let mut delete = Delete::builder().table_name(self.table()).key(PK, s(pk)).key(SK, s(sk));
        let mut condition = vec!["attribute_exists(PK)"];
        if let Some(version) = version {
            condition.push("version = :expected");
            delete = delete.expression_attribute_values(":expected", n(version));
        }
        if let Some(owner) = owner {
            condition.push("owner_id = :owner");
            delete = delete.expression_attribute_values(":owner", s(owner.to_string()));
        }
        let delete = delete.condition_expression(condition.join(" AND "));
        let mut items =
            WriteSet::new().with(RECORD, TransactWriteItem::builder().delete(delete.build()?).build());
        for guard in guards {
            items.add(release_item(&guard.field), self.guard_release(id, guard)?);
        }
        if module.name == "contacts" {
            items.add(super::portal::PORTAL_LINK, self.unlinked_check(id)?);
        }
        Ok(items)
    }

    /// Runs a record write set whose only item is the `record` update as one UpdateItem and
    /// returns the record as it is now; `None` when the update's condition failed. Any other
    /// set is refused (`Malformed`): commit those with `commit`.
    pub async fn commit_single_change(
        &self,
        items: WriteSet,
        schema: &(dyn FieldSchema + Sync),
    ) -> Result<Option<CrmRecord>, StoreError> {
        let Some(update) = items.only_update(RECORD) else {
            return Err(StoreError::Malformed("a single-change write set holds just the record update"));
        };
        let request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .return_values(ReturnValue::AllNew);
        match request.send().await.map_err(StoreError::from) {
            Ok(output) => output.attributes.map(|item| decode_record(item, schema)).transpose(),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The id of the record holding a unique field's value, from its guard.
    pub async fn record_id_by_unique(&self, guard: &UniqueValue) -> Result<Option<Ulid>, StoreError> {
        let Some(item) = self.get_item(keys::unique_value(&guard.field, &guard.value)).await? else {
            return Ok(None);
        };
        let id = text(&item, "record_id")?;
        Ulid::from_string(&id).map(Some).map_err(|_| StoreError::Malformed("unique guard record_id"))
    }

    pub async fn record(
        &self,
        module: &Module,
        id: Ulid,
        schema: &(dyn FieldSchema + Sync),
    ) -> Result<Option<CrmRecord>, StoreError> {
        self.get_item(record_key(module, id)).await?.map(|item| decode_record(item, schema)).transpose()
    }

    /// A page of `query.module`'s records from the index `query.index` names, with
    /// `query.filter` applied by DynamoDB (the caller applies any residual criteria). DynamoDB
    /// limits before filtering, so a page can hold fewer than `limit` items and still have a
    /// next one. A start key from another index or partition is refused (`ForeignStart`).
    pub async fn records(
        &self,
        query: RecordQuery<'_>,
        schema: &(dyn FieldSchema + Sync),
    ) -> Result<Page<CrmRecord>, StoreError> {
        Ok(self.records_counted(query, schema).await?.0)
    }

    /// `records`, with how many items DynamoDB read to find them (`ScannedCount`: the filter
    /// runs after the read, and both are paid for).
    #[tracing::instrument(skip_all, fields(module = query.module.name, index = ?query.index))]
    pub async fn records_counted(
        &self,
        query: RecordQuery<'_>,
        schema: &(dyn FieldSchema + Sync),
    ) -> Result<(Page<CrmRecord>, u32), StoreError> {
        let module = query.module.name;
        let (index, partition_attribute, sort_attribute, partition, members) = match &query.index {
            RecordIndex::Module => (GSI1, GSI1PK, GSI1SK, keys::module_records(module), None),
            RecordIndex::ModuleByChange => (GSI4, GSI1PK, GSI4SK, keys::module_records(module), None),
            RecordIndex::ModuleBySortField => (GSI5, GSI1PK, GSI5SK, keys::module_records(module), None),
            RecordIndex::Contact(contact) => {
                (GSI2, GSI2PK, GSI2SK, keys::contact_records(contact), Some(keys::record_members_of(module)))
            }
            RecordIndex::Owner(owner) => {
                (GSI3, GSI3PK, GSI3SK, keys::owner_records(*owner), Some(keys::record_members_of(module)))
            }
            RecordIndex::OwnerByChange(owner) => {
                (GSI7, GSI3PK, GSI7SK, keys::owner_records(*owner), Some(keys::record_members_of(module)))
            }
            RecordIndex::OwnerBySortField(owner) => {
                (GSI6, GSI3PK, GSI6SK, keys::owner_records(*owner), Some(keys::record_members_of(module)))
            }
            RecordIndex::Key(value) => {
                let field =
                    query.module.key_field.ok_or(StoreError::Malformed("module without a key field"))?;
                (GSI8, GSI8PK, GSI8SK, keys::key_value_records(module, field, value), None)
            }
        };
        check_start(
            query.start.as_ref(),
            (partition_attribute, &partition),
            sort_attribute,
            members.as_deref(),
        )?;
        let mut request = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(index)
            .expression_attribute_names("#index_pk", partition_attribute)
            .expression_attribute_values(":index_pk", s(partition))
            .scan_index_forward(!query.descending)
            .limit(query.limit)
            .set_exclusive_start_key(query.start.map(page_key_to_item));
        request = match members {
            None => request.key_condition_expression("#index_pk = :index_pk"),
            Some(prefix) => request
                .key_condition_expression("#index_pk = :index_pk AND begins_with(#index_sk, :members)")
                .expression_attribute_names("#index_sk", sort_attribute)
                .expression_attribute_values(":members", s(prefix)),
        };
        if let Some(filter) = query.filter {
            request = request.filter_expression(&filter.expression);
            for (placeholder, name) in &filter.names {
                request = request.expression_attribute_names(placeholder, name);
            }
            for (placeholder, value) in &filter.values {
                request = request.expression_attribute_values(placeholder, to_sdk(value));
            }
        }
        let output = request.send().await?;
        let scanned = u32::try_from(output.scanned_count).unwrap_or(0);
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| decode_record(item, schema))
            .collect::<Result<_, _>>()?;
        Ok((Page { items, next: page_key_from_item(output.last_evaluated_key)? }, scanned))
    }
}

/// The index a record list reads, and so the order records come in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordIndex {
    /// A module's records by id, i.e. by creation (GSI1).
    Module,
    /// A module's records by last change (GSI4).
    ModuleByChange,
    /// A module's records by its sort field, those without a value last (GSI5).
    ModuleBySortField,
    /// The records of one contact, by creation (GSI2).
    Contact(String),
    /// The records of one owner, by creation (GSI3).
    Owner(Ulid),
    /// The records of one owner, by last change (GSI7).
    OwnerByChange(Ulid),
    /// The records of one owner, by the module's sort field (GSI6).
    OwnerBySortField(Ulid),
    /// The records whose key field (`Module::key_field`) holds this value ignoring case, by the
    /// module's sort field (GSI8).
    Key(String),
}

/// One page's worth of a record list.
pub struct RecordQuery<'a> {
    pub module: &'static Module,
    pub index: RecordIndex,
    /// Newest first.
    pub descending: bool,
    pub limit: i32,
    pub start: Option<PageKey>,
    pub filter: Option<&'a FilterExpression>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::modules::module;

    fn key(module_name: &str, value: Option<Value>) -> String {
        let module = module(module_name).expect("module");
        sort_field_key(module, value.as_ref(), Ulid::nil())
    }

    #[test]
    fn sort_keys_order_values_ignoring_case_then_the_missing() {
        let text = |t: &str| Some(Value::String(t.to_owned()));
        let mut names = [text("beta"), None, text("Alpha"), text("ab c"), text("ab"), text("Çelik")];
        names.sort_by_key(|value| key("contacts", value.clone()));
        assert_eq!(names, [text("ab"), text("ab c"), text("Alpha"), text("beta"), text("Çelik"), None]);
    }

    #[test]
    fn sort_keys_order_dates_and_date_times_in_time() {
        let at =
            |text: &str| Some(Value::DateTime(DateTime::parse_from_rfc3339(text).expect("instant").to_utc()));
        let (early, late) = (at("2026-01-09T23:59:59.5+00:00"), at("2026-01-10T00:00:00Z"));
        assert!(key("meetings", early.clone()) < key("meetings", late.clone()));
        assert!(key("meetings", late) < key("meetings", None));
        let day = |text: &str| at(&format!("{text}T00:00:00Z"));
        assert!(key("tasks", day("2026-02-01")) < key("tasks", day("2026-10-01")));
        assert!(key("tasks", day("2026-10-01")).starts_with("12026-10-01\u{1}"));
    }

    #[test]
    fn every_sort_field_is_an_ordered_field() {
        for module in crate::domain::modules::modules() {
            let field_type = module.fields.field_type(module.sort_field);
            assert!(
                matches!(
                    field_type,
                    Some(FieldType::Text | FieldType::Select { .. } | FieldType::Date | FieldType::DateTime)
                ),
                "{}: {:?}",
                module.name,
                field_type
            );
        }
    }
}
