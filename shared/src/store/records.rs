//! CRM records. Field values live in the map attribute `f` (a FilterExpression reaches field
//! `x` as the document path `f.x`, each segment a name placeholder), dates as ISO 8601 text. GSI1 lists a module's records, GSI2 a
//! contact's, GSI3 an owner's — all Queries, no Scan.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue as Av, ReturnValue};
use chrono::{DateTime, NaiveDate, Utc};
use ulid::Ulid;

use super::keys::{self, GSI1, GSI1PK, GSI1SK, PK, SK};
use super::{Item, Page, PageKey, Store, StoreError, n, page_key_from_item, page_key_to_item, s};
use crate::criteria::{
    AttributeValue, DateEncoding, FieldSchema, FieldType, FilterExpression, Number, Value,
};
use crate::domain::modules::{self, CrmRecord, Module};

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

fn text(item: &Item, name: &'static str) -> Result<String, StoreError> {
    item.get(name).and_then(|value| value.as_s().ok()).cloned().ok_or(StoreError::Malformed(name))
}

fn decode_record(item: Item) -> Result<CrmRecord, StoreError> {
    let module = modules::module(&text(&item, "module")?).ok_or(StoreError::Malformed("record module"))?;
    let instant = |name| {
        DateTime::parse_from_rfc3339(&text(&item, name)?)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| StoreError::Malformed(name))
    };
    let ulid = |name| Ulid::from_string(&text(&item, name)?).map_err(|_| StoreError::Malformed(name));
    let mut fields = BTreeMap::new();
    if let Some(Av::M(stored_fields)) = item.get(FIELDS) {
        for (field, stored) in stored_fields {
            if let Some(field_type) = module.fields.field_type(field) {
                fields.insert(field.clone(), decode(field_type, stored)?);
            }
        }
    }
    Ok(CrmRecord {
        id: ulid("id")?,
        module,
        owner_id: ulid("owner_id")?,
        version: item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or(StoreError::Malformed("version"))?,
        fields,
        created_at: instant("created_at")?,
        updated_at: instant("updated_at")?,
    })
}

fn record_key(module: &Module, id: Ulid) -> keys::Key {
    keys::record(module.name, id)
}

fn member_key(record: &CrmRecord) -> String {
    keys::record_member(record.module.name, record.id)
}

/// Records whose changed fields are to be stored or removed.
pub struct RecordChanges<'a> {
    pub set: Vec<(&'a str, &'a Value)>,
    pub remove: Vec<&'a str>,
}

impl Store {
    #[tracing::instrument(skip_all, fields(module = record.module.name, record_id = %record.id))]
    pub async fn create_record(&self, record: &CrmRecord) -> Result<(), StoreError> {
        let (pk, sk) = record_key(record.module, record.id);
        let mut item = Item::from([
            (PK.into(), s(pk)),
            (SK.into(), s(sk)),
            (GSI1PK.into(), s(keys::module_records(record.module.name))),
            (GSI1SK.into(), s(record.id.to_string())),
            ("GSI3PK".into(), s(keys::owner_records(record.owner_id))),
            ("GSI3SK".into(), s(member_key(record))),
            ("entity".into(), s("record")),
            ("module".into(), s(record.module.name)),
            ("id".into(), s(record.id.to_string())),
            ("owner_id".into(), s(record.owner_id.to_string())),
            ("version".into(), n(record.version)),
            ("created_at".into(), s(record.created_at.to_rfc3339())),
            ("updated_at".into(), s(record.updated_at.to_rfc3339())),
        ]);
        if let Some(contact) = record.contact_id() {
            item.insert("GSI2PK".into(), s(keys::contact_records(contact)));
            item.insert("GSI2SK".into(), s(member_key(record)));
        }
        let mut stored_fields = Item::new();
        for (field, value) in &record.fields {
            if *value != Value::Null
                && let Some(field_type) = record.module.fields.field_type(field)
            {
                stored_fields.insert(field.clone(), encode(field_type, value)?);
            }
        }
        item.insert(FIELDS.into(), Av::M(stored_fields));
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await?;
        Ok(())
    }

    pub async fn record(&self, module: &Module, id: Ulid) -> Result<Option<CrmRecord>, StoreError> {
        self.get_item(record_key(module, id)).await?.map(decode_record).transpose()
    }

    /// Applies `changes` if the record is still at `expected_version`; the updated record, or
    /// `None` when it is missing or at another version.
    #[tracing::instrument(skip_all, fields(module = module.name, record_id = %id))]
    pub async fn update_record(
        &self,
        module: &'static Module,
        id: Ulid,
        expected_version: u64,
        changes: &RecordChanges<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<CrmRecord>, StoreError> {
        let (pk, sk) = record_key(module, id);
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", n(expected_version))
            .expression_attribute_values(":next", n(expected_version + 1))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .return_values(ReturnValue::AllNew);
        let mut sets = vec!["version = :next".to_owned(), "updated_at = :now".to_owned()];
        // DynamoDB refuses placeholders an expression does not use.
        if !changes.set.is_empty() || !changes.remove.is_empty() {
            request = request.expression_attribute_names("#f", FIELDS);
        }
        let mut removes = Vec::new();
        for (index, (field, value)) in changes.set.iter().enumerate() {
            let field_type = module.fields.field_type(field).ok_or(StoreError::Malformed("unknown field"))?;
            request = request
                .expression_attribute_names(format!("#s{index}"), *field)
                .expression_attribute_values(format!(":s{index}"), encode(field_type, value)?);
            sets.push(format!("#f.#s{index} = :s{index}"));
        }
        for (index, field) in changes.remove.iter().enumerate() {
            request = request.expression_attribute_names(format!("#r{index}"), *field);
            removes.push(format!("#f.#r{index}"));
        }
        // The contact index follows contact_id.
        let member = keys::record_member(module.name, id);
        if let Some((_, Value::String(contact))) =
            changes.set.iter().find(|(field, _)| *field == "contact_id")
        {
            request = request
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
        match request.update_expression(expression).send().await.map_err(StoreError::from) {
            Ok(output) => output.attributes.map(decode_record).transpose(),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `false` when there was no such record.
    pub async fn delete_record(&self, module: &Module, id: Ulid) -> Result<bool, StoreError> {
        let (pk, sk) = record_key(module, id);
        let output = self
            .client()
            .delete_item()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .return_values(ReturnValue::AllOld)
            .send()
            .await?;
        Ok(output.attributes.is_some())
    }

    /// A page of `module`'s records, oldest first, with `filter` applied by DynamoDB (the caller
    /// applies any residual criteria). DynamoDB limits before filtering, so a page can hold
    /// fewer than `limit` items and still have a next one.
    #[tracing::instrument(skip(self, start, filter), fields(module = module.name))]
    pub async fn records_of_module(
        &self,
        module: &Module,
        limit: i32,
        start: Option<PageKey>,
        filter: Option<&FilterExpression>,
    ) -> Result<Page<CrmRecord>, StoreError> {
        let mut query = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI1)
            .key_condition_expression("#index_pk = :index_pk")
            .expression_attribute_names("#index_pk", GSI1PK)
            .expression_attribute_values(":index_pk", s(keys::module_records(module.name)))
            .limit(limit)
            .set_exclusive_start_key(start.map(page_key_to_item));
        if let Some(filter) = filter {
            query = query.filter_expression(&filter.expression);
            for (placeholder, name) in &filter.names {
                query = query.expression_attribute_names(placeholder, name);
            }
            for (placeholder, value) in &filter.values {
                query = query.expression_attribute_values(placeholder, to_sdk(value));
            }
        }
        let output = query.send().await?;
        let items =
            output.items.unwrap_or_default().into_iter().map(decode_record).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page_key_from_item(output.last_evaluated_key)? })
    }
}
