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

#[tokio::test]
async fn a_role_deleted_after_the_user_was_read_is_not_assigned() {
    use portico::domain::permission::Role;
    use portico::store::accounts::StaffWrite;
    use portico::store::roles::{RoleCreation, RoleDeletion};

    let app = spawn_app().await;
    let store = &app.state.store;
    let (_, admin_email) = app.admin_token().await;
    let admin = store
        .account_by_email(&portico::domain::Email::parse(&admin_email).expect("email"))
        .await
        .expect("read")
        .expect("admin");
    let id = format!("gone_{}", ulid::Ulid::generate().to_string().to_lowercase());
    let role = Role {
        id: id.clone(),
        name: "Gone".into(),
        permissions: vec![],
        modules: Default::default(),
        builtin: false,
    };
    assert_eq!(store.create_role(&role, &admin, Utc::now()).await.expect("create"), RoleCreation::Created);
    let email = crate::support::unique_email("user");
    assert!(
        portico_local::create_staff(&app.state, &email, "User", crate::support::PASSWORD, &[])
            .await
            .expect("seed")
    );
    let user = store
        .account_by_email(&portico::domain::Email::parse(&email).expect("email"))
        .await
        .expect("read")
        .expect("user");

    // The handler read the user and the role; then the role went.
    assert_eq!(store.delete_role(&id).await.expect("delete"), RoleDeletion::Deleted);
    let assigned = store
        .set_staff_access(
            &user,
            std::slice::from_ref(&id),
            &[],
            &admin,
            std::slice::from_ref(&role),
            Utc::now(),
        )
        .await
        .expect("write");
    assert_eq!(assigned, StaffWrite::NoSuchRole(id.clone()));

    // Two changes from one read: the second finds the roles changed.
    let other = format!("other_{}", ulid::Ulid::generate().to_string().to_lowercase());
    let role = Role { id: other.clone(), ..role };
    assert_eq!(store.create_role(&role, &admin, Utc::now()).await.expect("create"), RoleCreation::Created);
    let first = store
        .set_staff_access(
            &user,
            std::slice::from_ref(&other),
            &[],
            &admin,
            std::slice::from_ref(&role),
            Utc::now(),
        )
        .await
        .expect("write");
    let second = store
        .set_staff_access(&user, &["tech_support".to_owned()], &[], &admin, &[], Utc::now())
        .await
        .expect("write");
    assert_eq!((first, second), (StaffWrite::Done, StaffWrite::Stale));
    assert_eq!(store.role(&other).await.expect("read").expect("role").users, 1, "counted once");

    // A granter whose roles changed since they were read grants nothing.
    let demoted = portico::domain::Account { roles: vec!["sales_manager".into()], ..admin.clone() };
    let user = store.account(user.id).await.expect("read").expect("user");
    let granted = store.set_staff_access(&user, &[], &[], &demoted, &[], Utc::now()).await.expect("write");
    assert_eq!(granted, StaffWrite::GranterChanged);
}
