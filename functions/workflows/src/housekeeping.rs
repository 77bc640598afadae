//! Time rules (trigger `inactive`, SPEC §1): run on a schedule by the `housekeeping` function.
//! A rule looks at the customers at its stages whose last activity is `days` or more ago — one
//! range query of the lifecycle index per stage — and fires on each one's contact once for every
//! full `days` without activity ("Prospect with no activity for 90 days → Lead").

use chrono::{DateTime, Duration, Utc};
use portico::AppState;
use portico::domain::Account;
use portico::domain::modules::{self, Origin};
use portico::domain::workflow::{EventKind, RecordEvent, TriggerEvent, ValidWorkflowRule};
use portico::records::{Caller, RecordError, View};
use portico::store::StoreError;
use portico::store::workflows::WorkflowRun;
use serde::Serialize;
use ulid::Ulid;

use crate::Rules;

/// Customers one rule looks at per stage and run, least recently active first; the next run
/// goes on from there (a cursor per rule and stage), and starts over once it reached the end.
const CUSTOMERS_PER_STAGE: usize = 500;
/// Small pages: the deadline is checked between them.
const PAGE_SIZE: i32 = 25;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub rules: usize,
    pub customers: usize,
    pub fired: usize,
    /// The deadline came first; the next run looks at the rest.
    pub stopped_early: bool,
}

/// Time kept back before the invocation's deadline: no page of customers is started with less
/// left (each action checks its own margin too).
const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(20);

/// Runs every active time rule as of `now` (injected: tests move time, never wait for it),
/// stopping near `deadline`; the customers left are looked at by the next run.
pub async fn run_time_rules(
    state: &AppState,
    now: DateTime<Utc>,
    deadline: Option<std::time::SystemTime>,
) -> Result<Summary, StoreError> {
    let near_deadline = || {
        deadline.is_some_and(|deadline| {
            deadline.duration_since(std::time::SystemTime::now()).unwrap_or_default() < DEADLINE_MARGIN
        })
    };
    let rules = Rules::load(state).await?.until(deadline);
    let mut summary = Summary::default();
    for (rule_id, rule) in
        rules.rules.iter().filter(|(_, rule)| rule.definition.trigger.event == TriggerEvent::Inactive)
    {
        summary.rules += 1;
        let days = i64::from(rule.definition.trigger.days.unwrap_or(1).max(1));
        for stage in &rule.definition.trigger.stages {
            // Each run goes on where the last one stopped: customers a run passes over (fired
            // this period, no contact, criteria not met) never hold back those behind them.
            let cutoff = portico::time::format(now - Duration::days(days));
            // A cursor past the cutoff (the rule's days raised since) starts over.
            let mut start = state
                .store
                .time_rule_cursor(*rule_id, *stage)
                .await?
                .filter(|cursor| cursor.get("GSI2SK").is_some_and(|at| *at < cutoff));
            let mut seen = 0;
            loop {
                if near_deadline() {
                    summary.stopped_early = true;
                    state.store.set_time_rule_cursor(*rule_id, *stage, start.as_ref()).await?;
                    tracing::warn!(?summary, "near the deadline: the next run goes on");
                    return Ok(summary);
                }
                let cutoff = now - Duration::days(days);
                let page = state.store.inactive_customers(*stage, cutoff, PAGE_SIZE, start).await?;
                for customer in &page.items {
                    summary.customers += 1;
                    if fire(state, &rules, *rule_id, rule, customer, days, now).await? {
                        summary.fired += 1;
                    }
                }
                seen += page.items.len();
                start = page.next;
                if start.is_none() || seen >= CUSTOMERS_PER_STAGE {
                    break;
                }
            }
            state.store.set_time_rule_cursor(*rule_id, *stage, start.as_ref()).await?;
        }
    }
    tracing::info!(?summary, "time rules run");
    Ok(summary)
}

/// Fires `rule` on `customer`'s contact for the inactivity period `now` falls in, unless it
/// fired for that period before. `true` when it fired now.
async fn fire(
    state: &AppState,
    rules: &Rules,
    rule_id: Ulid,
    rule: &ValidWorkflowRule,
    customer: &Account,
    days: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    // Customers are linked to a contact once active; until then they have nothing to move.
    let Some(contact_id) = customer.contact_id else { return Ok(false) };
    let since = customer.last_activity_at.unwrap_or(customer.created_at);
    let period = (now - since).num_days() / days;
    if period < 1 {
        return Ok(false);
    }
    let period_end = since + Duration::days(days * (period + 1));
    let event_id = format!("inactive:{}:{}:{period}", customer.id, portico::time::format(since));
    let fired_key = format!("{event_id}#{rule_id}");
    if state.store.effect_done(&fired_key).await? {
        return Ok(false);
    }
    let contacts = modules::contacts();
    let caller = Caller::system(Origin::Other("housekeeping".into()));
    let contact = match View::new(&caller, contacts, &rules.custom).read(&state.store, contact_id).await {
        Ok(contact) => contact,
        Err(RecordError::Store(error)) => return Err(error),
        Err(_) => return Ok(false),
    };
    let origin = Origin::Other("housekeeping".into());
    let event = RecordEvent {
        kind: EventKind::Inactive,
        new: Some(&contact.fields),
        old: None,
        origin: &origin,
        at: now,
    };
    if !rule.fires_quickly(rule_id, &event) {
        return Ok(false);
    }
    tracing::info!(rule_id = %rule_id, customer_id = %customer.id, period, "time rule fired");
    let effect = crate::actions::Effect {
        state,
        rules,
        rule_id,
        rule,
        event_id: &event_id,
        event: &event,
        record: &contact,
        marked_at: period_end,
    };
    let outcomes = effect.run().await?;
    state
        .store
        .record_workflow_run(&WorkflowRun {
            rule_id: rule_id.to_string(),
            event_id: event_id.clone(),
            module: contacts.name.to_owned(),
            record_id: contact.id.to_string(),
            event: EventKind::Inactive.as_str().to_owned(),
            at: now,
            actions: outcomes,
        })
        .await?;
    // The period's own marker: later runs in the same period skip the customer at once.
    state.store.mark_effect_done(&fired_key, period_end).await?;
    Ok(true)
}
