//! Store operations under concurrency, straight against moto: the conditions, not the handlers,
//! keep the counts right.

use chrono::Utc;
use futures::future::join_all;
use portico::store::rate_limit::{Cooldown, RateDecision, RateLimit};

use crate::support::spawn_app;

#[tokio::test]
async fn a_capped_counter_admits_exactly_its_limit_under_concurrency() {
    let app = spawn_app().await;
    let limit = RateLimit { scope: "test", max: 5, window_secs: 3600 };
    let now = Utc::now();
    let decisions = join_all((0..20).map(|_| app.state.store.hit_rate_limit(limit, "subject", now))).await;
    let allowed = decisions.iter().filter(|d| matches!(d, Ok(RateDecision::Allowed))).count();
    assert_eq!(allowed, 5);
    assert!(decisions.iter().all(Result::is_ok));
    let other = app.state.store.hit_rate_limit(limit, "another subject", now).await.expect("hit");
    assert_eq!(other, RateDecision::Allowed, "subjects are counted apart");
}

#[tokio::test]
async fn a_cooldown_admits_one_event_until_it_runs_out() {
    let app = spawn_app().await;
    let cooldown = Cooldown { scope: "test", secs: 60 };
    let now = Utc::now();
    let decisions = join_all((0..10).map(|_| app.state.store.start_cooldown(cooldown, "subject", now))).await;
    assert_eq!(decisions.iter().filter(|d| matches!(d, Ok(RateDecision::Allowed))).count(), 1);
    let later = now + chrono::Duration::seconds(61);
    assert_eq!(
        app.state.store.start_cooldown(cooldown, "subject", later).await.expect("start"),
        RateDecision::Allowed
    );
}
