//! The scheduled function (SPEC §1): on each EventBridge tick it runs the workflow rules whose
//! trigger is time without activity (`inactive`), e.g. "a Prospect with no activity for 90 days
//! becomes a Lead". The rules and their actions are the stream consumer's
//! (`portico_workflows::housekeeping`); this crate is their schedule.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::LambdaEvent;
use portico::AppState;
use portico_workflows::housekeeping::{Summary, run_time_rules};

/// The Lambda handler: judges time at the tick's scheduled instant (a late or repeated
/// delivery of the same tick fires nothing twice: each firing is marked per inactivity period).
pub async fn handle(
    state: &AppState,
    event: LambdaEvent<EventBridgeEvent<serde_json::Value>>,
) -> Result<Summary, lambda_runtime::Error> {
    let now = event.payload.time.unwrap_or_else(chrono::Utc::now);
    Ok(run_time_rules(state, now, Some(event.context.deadline())).await?)
}

/// How often `make run` ticks (in AWS: hourly, by the template's schedule).
pub const LOCAL_TICK: std::time::Duration = std::time::Duration::from_secs(60);

/// The local stack's schedule: a tick every `every`, at the time of the tick.
pub async fn tick_locally(state: AppState, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        if let Err(error) = run_time_rules(&state, chrono::Utc::now(), None).await {
            tracing::error!(%error, "the time rules' run failed; the next tick tries again");
        }
    }
}
