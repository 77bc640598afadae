//! The only code that speaks DynamoDB: keys, item codecs, one repository per aggregate.
//!
//! Invariants live in conditional writes and transactions, never in read-then-write: Lambda
//! runs many copies at once.

pub mod accounts;
pub mod administrators;
pub mod audit;
pub mod challenges;
pub mod confirmations;
pub mod contact_fields;
pub mod credentials;
pub mod forms;
pub mod keys;
pub mod labels;
pub mod lifecycle;
pub mod otp_challenges;
pub mod otp_rules;
pub mod portal;
pub mod rate_limit;
pub mod records;
pub mod request_count;
pub mod roles;
pub mod sessions;
pub mod settings;
pub mod sign_in_attempts;
pub mod versioned;
pub mod workflows;

pub use versioned::Versioned;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a condition of the write did not hold")]
    ConditionFailed,
    /// A write set was cancelled; says which of its named items failed.
    #[error("transaction cancelled: {0}")]
    Cancelled(Cancellation),
    /// A write set named two items alike: a bug in the code that built it.
    #[error("the write set names {0} twice")]
    DuplicateItem(String),
    #[error("DynamoDB is throttling or unreachable")]
    Unavailable(#[source] BoxError),
    #[error("DynamoDB request failed")]
    Request(#[source] BoxError),
    #[error("a stored item does not decode")]
    Codec(#[from] serde_dynamo::Error),
    #[error("a stored item is malformed: {0}")]
    Malformed(&'static str),
    /// A page's start key belongs to another index or partition than the query's.
    #[error("the start key belongs to another list")]
    ForeignStart,
    /// A unique field's value belongs to another record.
    #[error("the value of {0} is taken")]
    ValueTaken(String),
}

impl StoreError {
    /// Whether this is a cancelled write set whose item `name` failed its condition.
    pub fn failed(&self, name: &str) -> bool {
        matches!(self, Self::Cancelled(cancellation) if cancellation.failed(name))
    }

    /// The cancellation, if this is one.
    pub fn cancellation(&self) -> Option<&Cancellation> {
        match self {
            Self::Cancelled(cancellation) => Some(cancellation),
            _ => None,
        }
    }
}

/// Why DynamoDB cancelled a write set, by the names of its items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cancellation {
    /// The items whose condition did not hold.
    pub failed: Vec<String>,
    /// The items another transaction was changing at the same time (worth a retry).
    pub conflicted: Vec<String>,
}

impl Cancellation {
    pub fn failed(&self, name: &str) -> bool {
        self.failed.iter().any(|failed| failed == name)
    }

    /// The failed items whose names start with `prefix`, without it (`guard:` → field names).
    pub fn failed_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.failed.iter().filter_map(move |name| name.strip_prefix(prefix))
    }
}

impl std::fmt::Display for Cancellation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed {:?}, conflicted {:?}", self.failed, self.conflicted)
    }
}

/// The items of one TransactWriteItems, each under a name (`record`, `guard:<field>`,
/// `challenge`, …). DynamoDB reports a cancellation by item position; the set turns positions
/// back into names, so adding an item never changes what a failure of another one means.
#[derive(Debug, Default)]
pub struct WriteSet {
    items: Vec<(String, TransactWriteItem)>,
}

impl WriteSet {
    /// Most items DynamoDB takes in one transaction.
    pub const MAX_ITEMS: usize = 100;

    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `item` under `name`; names must differ within a set (`commit` refuses repeats).
    pub fn add(&mut self, name: impl Into<String>, item: TransactWriteItem) -> &mut Self {
        self.items.push((name.into(), item));
        self
    }

    pub fn with(mut self, name: impl Into<String>, item: TransactWriteItem) -> Self {
        self.add(name, item);
        self
    }

    /// The set without its item `name`: one a joined set already has (a transaction touches
    /// an item once).
    pub fn without(mut self, name: &str) -> Self {
        self.items.retain(|(item, _)| item != name);
        self
    }

    /// The same items named `<prefix><name>`, to join a set that has items of those names.
    pub fn prefixed(self, prefix: &str) -> Self {
        Self { items: self.items.into_iter().map(|(name, item)| (format!("{prefix}{name}"), item)).collect() }
    }

    /// Appends every item of `other` (a feature's own items joining a record write).
    pub fn append(&mut self, other: WriteSet) -> &mut Self {
        self.items.extend(other.items);
        self
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|(name, _)| name.as_str())
    }

    /// The update, when the set holds nothing but an update named `name`.
    pub(crate) fn only_update(self, name: &str) -> Option<aws_sdk_dynamodb::types::Update> {
        match <[_; 1]>::try_from(self.items) {
            Ok([(only, item)]) if only == name => item.update,
            _ => None,
        }
    }
}

const UNAVAILABLE_CODES: [&str; 5] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
];

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(error: SdkError<E, R>) -> Self {
        match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Self::Unavailable(error.into()),
            SdkError::ServiceError(service) => match service.err().code() {
                Some("ConditionalCheckFailedException") => Self::ConditionFailed,
                Some(code) if UNAVAILABLE_CODES.contains(&code) => Self::Unavailable(error.into()),
                _ => Self::Request(error.into()),
            },
            _ => Self::Request(error.into()),
        }
    }
}

impl From<aws_sdk_dynamodb::error::BuildError> for StoreError {
    fn from(error: aws_sdk_dynamodb::error::BuildError) -> Self {
        Self::Request(error.into())
    }
}

impl From<StoreError> for crate::ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Self::unavailable(error),
            StoreError::ValueTaken(field) => Self::value_taken(&field),
            StoreError::ForeignStart => Self::invalid_cursor(),
            StoreError::ConditionFailed | StoreError::Cancelled(_) => {
                tracing::warn!(%error, "write lost a race");
                Self::conflict("conflict", "The resource was changed concurrently; retry the request.")
            }
            other => Self::internal(other),
        }
    }
}

/// A domain value as an item: its key, its kind, and when DynamoDB may drop it. The value's own
/// fields sit beside the key.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored<T> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entity: Option<String>,
    #[serde(flatten)]
    value: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

impl<T: serde::Serialize> Stored<T> {
    fn item((pk, sk): keys::Key, entity: &str, value: T) -> Self {
        Self { pk, sk, entity: Some(entity.to_owned()), value, ttl: None }
    }

    /// The same item, which DynamoDB may delete after `at` (code checks expiry too).
    fn expiring(self, at: chrono::DateTime<chrono::Utc>) -> Self {
        Self { ttl: Some(at.timestamp()), ..self }
    }
}

/// The value stored in `item` by `Stored`.
fn stored_value<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item::<_, Stored<T>>(item)?.value)
}

/// A page of results and the key to continue from. The key is internal; the HTTP layer signs it
/// into an opaque cursor.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageKey>,
}

/// A `LastEvaluatedKey`: every key attribute of Portico's table is a string.
pub type PageKey = BTreeMap<String, String>;

fn page_key_from_item(key: Option<Item>) -> Result<Option<PageKey>, StoreError> {
    key.map(|key| {
        key.into_iter()
            .map(|(name, value)| match value {
                AttributeValue::S(text) => Ok((name, text)),
                _ => Err(StoreError::Malformed("non-string key attribute")),
            })
            .collect()
    })
    .transpose()
}

/// Refuses a start key that does not belong to the list being read: it must name exactly the
/// table key and the index key (`partition` under `partition_attribute`, a sort key under
/// `sort_attribute` starting with `members`), or a signed cursor of one list could page
/// through another.
fn check_start(
    start: Option<&PageKey>,
    (partition_attribute, partition): (&str, &str),
    sort_attribute: &str,
    members: Option<&str>,
) -> Result<(), StoreError> {
    let Some(start) = start else { return Ok(()) };
    let mut expected = vec![keys::PK, keys::SK];
    for attribute in [partition_attribute, sort_attribute] {
        if !expected.contains(&attribute) {
            expected.push(attribute);
        }
    }
    let belongs = start.len() == expected.len()
        && expected.iter().all(|name| start.contains_key(*name))
        && start[partition_attribute] == partition
        && members.is_none_or(|prefix| start[sort_attribute].starts_with(prefix));
    if belongs { Ok(()) } else { Err(StoreError::ForeignStart) }
}

fn page_key_to_item(key: PageKey) -> Item {
    key.into_iter().map(|(name, value)| (name, AttributeValue::S(value))).collect()
}

/// Handle on the one table; cheap to clone (the SDK client is reference-counted).
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: Arc<str>,
    /// The built-in lifecycle labels' ids, read (or made) once per process.
    lifecycle_labels: Arc<tokio::sync::OnceCell<lifecycle::LifecycleLabels>>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<Arc<str>>) -> Self {
        Self { client, table: table.into(), lifecycle_labels: Arc::default() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A transaction item that creates `item` only if no item has its key.
    fn put_if_absent(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// An UpdateItem on the item at `key`, for the caller to complete.
    fn update_at(&self, (pk, sk): keys::Key) -> UpdateItemFluentBuilder {
        self.client.update_item().table_name(self.table()).key(keys::PK, s(pk)).key(keys::SK, s(sk))
    }

    /// A DeleteItem of the item at `key`, for the caller to complete.
    fn delete_at(&self, (pk, sk): keys::Key) -> DeleteItemFluentBuilder {
        self.client.delete_item().table_name(self.table()).key(keys::PK, s(pk)).key(keys::SK, s(sk))
    }

    /// A strongly consistent read of the item at `key`.
    async fn get_item(&self, (pk, sk): keys::Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table())
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item)
    }

    /// One BatchGetItem on this table; unprocessed keys (throttling) fail the read.
    async fn batch_get(&self, keys: KeysAndAttributes) -> Result<Vec<Item>, StoreError> {
        let output = self.client().batch_get_item().request_items(self.table(), keys).send().await?;
        if output.unprocessed_keys.as_ref().is_some_and(|unprocessed| !unprocessed.is_empty()) {
            return Err(StoreError::Unavailable("batch read left keys unprocessed".into()));
        }
        Ok(output.responses.and_then(|mut responses| responses.remove(self.table())).unwrap_or_default())
    }

    /// Writes `item` (a codec struct), replacing any item with its key.
    async fn put(&self, item: impl serde::Serialize) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(self.table())
            .set_item(Some(serde_dynamo::to_item(item)?))
            .send()
            .await?;
        Ok(())
    }

    /// Writes `item` only if no item has its key; `ConditionFailed` otherwise.
    async fn put_new(&self, item: impl serde::Serialize) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(self.table())
            .set_item(Some(serde_dynamo::to_item(item)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await?;
        Ok(())
    }

    /// Replaces the configuration item at `key` (a rule, an exposure) with `value` if it is
    /// still at `version - 1`, or, for version 1, if there is none; `false` when it changed
    /// meanwhile (or is gone).
    async fn replace_versioned(
        &self,
        key: keys::Key,
        entity: &str,
        value: &impl serde::Serialize,
        version: u64,
    ) -> Result<bool, StoreError> {
        let item = serde_dynamo::to_item(Stored::item(key, entity, value))?;
        let request = self.client.put_item().table_name(self.table()).set_item(Some(item));
        let request = match version {
            0 | 1 => request.condition_expression("attribute_not_exists(PK)"),
            version => request
                .condition_expression("version = :read")
                .expression_attribute_values(":read", n(version - 1)),
        };
        condition_held(request.send().await)
    }

    /// Writes `item` unless one with its key is there (a redelivered event's entry stays as
    /// first written).
    async fn put_once(&self, item: Item) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match put.map_err(StoreError::from) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// A page of the items of `partition` whose sort key begins with `prefix`, newest (last in
    /// key order) first, from `start`.
    async fn newest_in_partition(
        &self,
        partition: String,
        prefix: &str,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<Item>, StoreError> {
        check_start(start.as_ref(), (keys::PK, &partition), keys::SK, Some(prefix))?;
        let output = self
            .client
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(partition))
            .expression_attribute_values(":prefix", s(prefix))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start.map(page_key_to_item))
            .send()
            .await?;
        Ok(Page {
            items: output.items.unwrap_or_default(),
            next: page_key_from_item(output.last_evaluated_key)?,
        })
    }

    /// Deletes the item at `key`; `false` when there was none.
    async fn delete_existing(&self, key: keys::Key) -> Result<bool, StoreError> {
        condition_held(self.delete_at(key).condition_expression("attribute_exists(PK)").send().await)
    }

    async fn delete_item(&self, key: keys::Key) -> Result<(), StoreError> {
        self.delete_at(key).send().await?;
        Ok(())
    }

    /// Runs `set` as one transaction; a cancellation names the items that failed. A set of one
    /// put or delete runs as that single write (half the cost of a transaction), failing the
    /// same way.
    pub async fn commit(&self, set: WriteSet) -> Result<(), StoreError> {
        if let [(name, item)] = set.items.as_slice()
            && let Some(result) = self.write_one(item).await
        {
            return match result {
                Err(StoreError::ConditionFailed) => Err(StoreError::Cancelled(Cancellation {
                    failed: vec![name.clone()],
                    conflicted: Vec::new(),
                })),
                // The item is part of another transaction in flight: as a transaction would say.
                Err(StoreError::Request(error)) if is_transaction_conflict(&*error) => {
                    Err(StoreError::Cancelled(Cancellation {
                        failed: Vec::new(),
                        conflicted: vec![name.clone()],
                    }))
                }
                other => other,
            };
        }
        let mut names = Vec::with_capacity(set.items.len());
        let mut items = Vec::with_capacity(set.items.len());
        for (name, item) in set.items {
            if names.contains(&name) {
                return Err(StoreError::DuplicateItem(name));
            }
            names.push(name);
            items.push(item);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let mut cancellation = Cancellation::default();
                    let mut other = Vec::new();
                    for (name, reason) in names.into_iter().zip(cancelled.cancellation_reasons()) {
                        match reason.code() {
                            Some("ConditionalCheckFailed") => cancellation.failed.push(name),
                            Some("TransactionConflict") => cancellation.conflicted.push(name),
                            None | Some("None") => {}
                            Some(code) => other.push(format!("{name}: {code}")),
                        }
                    }
                    // Throttling is a passing condition; anything else (a validation error) is
                    // a bug in the write set, never a lost race.
                    if other.iter().any(|reason| reason.contains("Throughput") || reason.contains("Throttl"))
                    {
                        return Err(StoreError::Unavailable(other.join(", ").into()));
                    }
                    if !other.is_empty() {
                        return Err(StoreError::Request(other.join(", ").into()));
                    }
                    Err(StoreError::Cancelled(cancellation))
                }
                other => Err(classify_service_error(other)),
            },
        }
    }
}

impl Store {
    /// A lone put or delete of a write set as a plain request; `None` for other kinds.
    async fn write_one(&self, item: &TransactWriteItem) -> Option<Result<(), StoreError>> {
        if let Some(put) = &item.put {
            let result = self
                .client
                .put_item()
                .table_name(&put.table_name)
                .set_item(Some(put.item.clone()))
                .set_condition_expression(put.condition_expression.clone())
                .set_expression_attribute_names(put.expression_attribute_names.clone())
                .set_expression_attribute_values(put.expression_attribute_values.clone())
                .send()
                .await;
            return Some(result.map(|_| ()).map_err(StoreError::from));
        }
        if let Some(delete) = &item.delete {
            let result = self
                .client
                .delete_item()
                .table_name(&delete.table_name)
                .set_key(Some(delete.key.clone()))
                .set_condition_expression(delete.condition_expression.clone())
                .set_expression_attribute_names(delete.expression_attribute_names.clone())
                .set_expression_attribute_values(delete.expression_attribute_values.clone())
                .send()
                .await;
            return Some(result.map(|_| ()).map_err(StoreError::from));
        }
        None
    }
}

/// Whether a plain write failed because its item is in a transaction in flight.
fn is_transaction_conflict(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if error.to_string().contains("TransactionConflict") {
            return true;
        }
        source = error.source();
    }
    false
}

fn classify_service_error<E>(error: E) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match error.code() {
        Some(code) if UNAVAILABLE_CODES.contains(&code) => StoreError::Unavailable(error.into()),
        _ => StoreError::Request(error.into()),
    }
}

/// `true` when a conditional write went through, `false` when its condition did not hold.
fn condition_held<T>(
    result: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<
            impl ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
            impl std::fmt::Debug + Send + Sync + 'static,
        >,
    >,
) -> Result<bool, StoreError> {
    match result.map_err(StoreError::from) {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(error) => Err(error),
    }
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
