//! Workflow rules (a small configuration set in one partition, read whole by the stream
//! consumer), the markers that make each effect happen once per stream event, and the rules'
//! run history (30 days).

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;

use super::keys::{self, PK, SK, TTL, WORKFLOW_RULES_PK};
use super::{Item, Page, PageKey, Store, StoreError, Stored, n, s, stored_value};
use crate::domain::workflow::WorkflowRuleDefinition;

/// How long an effect's marker outlives its event: longer than a stream record lives (24 h)
/// and than Lambda retries it, so a redelivered event always finds it.
const MARKER_DAYS: i64 = 7;
/// How long a run stays in a rule's history.
pub const RUN_DAYS: i64 = 30;

/// Write-set name of an effect's marker.
pub const MARKER: &str = "marker";

/// A rule as stored.
pub type StoredWorkflowRule = super::Versioned<WorkflowRuleDefinition>;

/// One evaluation of a rule that fired: the event, the record, each action's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowRun {
    pub rule_id: String,
    /// The stream record's event id (also the actions' idempotency key, with rule and index).
    pub event_id: String,
    pub module: String,
    pub record_id: String,
    /// `created`, `edited` or `deleted`.
    pub event: String,
    #[serde(with = "crate::time::rfc3339")]
    pub at: DateTime<Utc>,
    pub actions: Vec<ActionOutcome>,
}

/// What became of one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionOutcome {
    pub index: usize,
    #[serde(rename = "type")]
    pub kind: String,
    /// `done`; `already_done` (a redelivered event: its marker was there); `skipped` (e.g. the
    /// record changed since the event and the rule no longer holds); `failed`.
    pub status: String,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Store {
    pub async fn create_workflow_rule(&self, rule: &StoredWorkflowRule) -> Result<(), StoreError> {
        self.put_new(Stored::item(keys::workflow_rule(rule.id), "workflow_rule", rule)).await
    }

    pub async fn workflow_rule(&self, id: Ulid) -> Result<Option<StoredWorkflowRule>, StoreError> {
        self.get_item(keys::workflow_rule(id)).await?.map(stored_value).transpose()
    }

    /// Every rule, oldest first.
    pub async fn workflow_rules(&self) -> Result<Vec<StoredWorkflowRule>, StoreError> {
        self.partition(WORKFLOW_RULES_PK).await?.into_iter().map(stored_value).collect()
    }

    /// Replaces rule `rule.id` if it is still at `rule.version - 1`; `false` when it is gone or
    /// changed meanwhile.
    pub async fn replace_workflow_rule(&self, rule: &StoredWorkflowRule) -> Result<bool, StoreError> {
        self.replace_versioned(keys::workflow_rule(rule.id), "workflow_rule", rule, rule.version.max(2)).await
    }

    pub async fn delete_workflow_rule(&self, id: Ulid) -> Result<bool, StoreError> {
        self.delete_existing(keys::workflow_rule(id)).await
    }

    /// The item marking effect `effect` (event id, rule, action) done: it joins the effect's own
    /// write (`marker`), and fails it when the effect was done already.
    pub fn effect_marker(&self, effect: &str, now: DateTime<Utc>) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::effect_marker(effect);
        self.put_if_absent(Item::from([
            (PK.into(), s(pk)),
            (SK.into(), s(sk)),
            ("entity".into(), s("effect_marker")),
            (TTL.into(), n((now + chrono::Duration::days(MARKER_DAYS)).timestamp())),
        ]))
    }

    /// Whether effect `effect` was marked done (for effects outside DynamoDB, marked after).
    pub async fn effect_done(&self, effect: &str) -> Result<bool, StoreError> {
        Ok(self.get_item(keys::effect_marker(effect)).await?.is_some())
    }

    /// Marks effect `effect` done on its own (after a mail went out); a marker already there is
    /// no error.
    pub async fn mark_effect_done(&self, effect: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        match self.commit(super::WriteSet::new().with(MARKER, self.effect_marker(effect, now)?)).await {
            Ok(()) => Ok(()),
            Err(error) if error.failed(MARKER) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Records `run` in its rule's history, once per event (a redelivered event's run is
    /// already there and stays as first written).
    pub async fn record_workflow_run(&self, run: &WorkflowRun) -> Result<(), StoreError> {
        let rule_id = Ulid::from_string(&run.rule_id).map_err(|_| StoreError::Malformed("rule id"))?;
        let (pk, sk) = keys::workflow_run(rule_id, run.at, &run.event_id);
        let mut item: Item = serde_dynamo::to_item(run)?;
        item.insert(PK.into(), s(pk));
        item.insert(SK.into(), s(sk));
        item.insert("entity".into(), s("workflow_run"));
        item.insert(TTL.into(), n((run.at + chrono::Duration::days(RUN_DAYS)).timestamp()));
        self.put_once(item).await
    }

    /// A page of rule `rule_id`'s runs, newest first; expired ones (TTL deletes late) left out.
    pub async fn workflow_runs(
        &self,
        rule_id: Ulid,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<WorkflowRun>, StoreError> {
        let page = self
            .newest_in_partition(keys::workflow_runs_of(rule_id), keys::WORKFLOW_RUN_SK_PREFIX, limit, start)
            .await?;
        let now = Utc::now().timestamp();
        let items = page
            .items
            .into_iter()
            .filter(|item| {
                item.get(TTL)
                    .and_then(|ttl| ttl.as_n().ok())
                    .and_then(|ttl| ttl.parse::<i64>().ok())
                    .is_none_or(|ttl| ttl > now)
            })
            .map(|item| serde_dynamo::from_item(item).map_err(StoreError::from))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }
}
