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

async fn staff_account(store: &portico::store::Store, email: &str) -> portico::domain::Account {
    let email = portico::domain::Email::parse(email).expect("email");
    store.account_by_email(&email).await.expect("read").expect("account")
}

#[tokio::test]
async fn the_count_keeps_one_administrator_and_a_table_without_one_is_counted_first() {
    use portico::domain::{Account, AccountStatus, BuiltinRole, Email};
    use portico::store::accounts::StaffWrite;

    let app = spawn_app().await;
    let store = &app.state.store;
    let (_, admin_email) = app.admin_token().await;
    let admin = staff_account(store, &admin_email).await;
    let administrator = [BuiltinRole::Administrator.definition()];
    assert_eq!(store.administrator_count().await.expect("read"), Some(1));

    // A granter without the rights to do it through the API: the count alone keeps the floor.
    let clerk_email = crate::support::unique_email("clerk");
    let seeded =
        portico_local::create_staff(&app.state, &clerk_email, "Clerk", crate::support::PASSWORD, &[]);
    assert!(seeded.await.expect("seed"));
    let clerk = staff_account(store, &clerk_email).await;
    let now = Utc::now();
    let disabled = store.change_staff_status(&admin, AccountStatus::Disabled, &clerk, &administrator, now);
    assert_eq!(disabled.await.expect("write"), StaffWrite::LastAdministrator);
    let demoted = store.set_staff_access(&admin, &[], &[], &admin, &administrator, now);
    assert_eq!(demoted.await.expect("write"), StaffWrite::LastAdministrator);

    // A table from before the count: nothing changes who administers until they are counted.
    let (pk, sk) = portico::store::keys::administrator_count();
    let forgotten = app.dynamodb.delete_item().table_name(store.table()).key("PK", s(pk)).key("SK", s(sk));
    forgotten.send().await.expect("delete the count");
    assert_eq!(store.administrator_count().await.expect("read"), None);
    let sales = ["sales_manager".to_owned()];
    let demoted = store.set_staff_access(&admin, &sales, &[], &admin, &administrator, now);
    assert_eq!(demoted.await.expect("write"), StaffWrite::AdministratorsUncounted);
    let email = Email::parse(&crate::support::unique_email("new")).expect("email");
    let roles = vec!["administrator".to_owned()];
    let newcomer = Account::new_staff(email, "New".into(), admin.password_hash.clone(), roles, vec![], now);
    let created = store.create_staff(&newcomer, Some(&admin), &administrator).await.expect("write");
    assert_eq!(created, StaffWrite::AdministratorsUncounted, "an increment must not start a short count");
    let agent = ["field_agent".to_owned()];
    let unrelated = store.set_staff_access(&clerk, &agent, &[], &admin, &[], now);
    assert_eq!(unrelated.await.expect("write"), StaffWrite::Done, "who administers does not change");

    assert_eq!(store.count_administrators().await.expect("count"), 1);
    let created = store.create_staff(&newcomer, Some(&admin), &administrator).await.expect("write");
    assert_eq!(created, StaffWrite::Done);
    assert_eq!(store.count_administrators().await.expect("count"), 2, "counted once, then moved");
    let demoted = store.set_staff_access(&admin, &sales, &[], &admin, &administrator, now);
    assert_eq!(demoted.await.expect("write"), StaffWrite::Done);
    assert_eq!(store.administrator_count().await.expect("read"), Some(1));
}

fn s(value: String) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(value)
}

#[tokio::test]
async fn a_user_change_counted_with_a_role_s_old_grants_is_cancelled() {
    use portico::domain::permission::{Permission, Role};
    use portico::domain::{Account, Email};
    use portico::store::accounts::StaffWrite;
    use portico::store::roles::{RoleCreation, RoleUpdate};

    let app = spawn_app().await;
    let store = &app.state.store;
    let (_, admin_email) = app.admin_token().await;
    let admin = staff_account(store, &admin_email).await;
    let id = format!("chief_{}", ulid::Ulid::generate().to_string().to_lowercase());
    let chief = Role {
        id: id.clone(),
        name: "Chief".into(),
        permissions: vec![Permission::SettingsManage, Permission::UsersManage],
        modules: Default::default(),
        builtin: false,
    };
    assert_eq!(store.create_role(&chief, &admin, Utc::now()).await.expect("create"), RoleCreation::Created);
    let email = Email::parse(&crate::support::unique_email("chief")).expect("email");
    let holder = Account::new_staff(
        email,
        "Chief".into(),
        admin.password_hash.clone(),
        vec![id.clone()],
        vec![],
        Utc::now(),
    );
    let created =
        store.create_staff(&holder, Some(&admin), std::slice::from_ref(&chief)).await.expect("write");
    assert_eq!(created, StaffWrite::Done);
    assert_eq!(store.administrator_count().await.expect("read"), Some(2));

    // A handler read the role, then the role lost users.manage (and the holder with it).
    let read = store.role(&id).await.expect("read").expect("role");
    let narrowed = Role { permissions: vec![Permission::SettingsManage], ..chief.clone() };
    assert_eq!(
        store.update_role(&read, &narrowed, &admin, Utc::now()).await.expect("write"),
        RoleUpdate::Updated
    );
    assert_eq!(store.administrator_count().await.expect("read"), Some(1));

    // Dropping the role, counted as the loss of an administrator, would leave the count one short.
    let stale = store.set_staff_access(&holder, &[], &[], &admin, std::slice::from_ref(&chief), Utc::now());
    assert_eq!(stale.await.expect("write"), StaffWrite::RoleChanged);
    let current =
        store.set_staff_access(&holder, &[], &[], &admin, std::slice::from_ref(&narrowed), Utc::now());
    assert_eq!(current.await.expect("write"), StaffWrite::Done);
    assert_eq!(store.administrator_count().await.expect("read"), Some(1));
}

/// A user manager's right to change someone is decided on that user's projects: a write from a
/// read taken before the projects changed is refused, not applied over them.
#[tokio::test]
async fn a_staff_write_holds_the_projects_it_was_decided_on() {
    use portico::store::accounts::StaffWrite;

    let app = spawn_app().await;
    let store = &app.state.store;
    let (_, admin_email) = app.admin_token().await;
    let read = |email: String| async move {
        store
            .account_by_email(&portico::domain::Email::parse(&email).expect("email"))
            .await
            .expect("read")
            .expect("account")
    };
    let admin = read(admin_email).await;
    let email = crate::support::unique_email("user");
    assert!(
        portico_local::create_staff(&app.state, &email, "User", crate::support::PASSWORD, &[])
            .await
            .expect("seed")
    );
    let stale = read(email.clone()).await;
    let (first, second) = (ulid::Ulid::generate(), ulid::Ulid::generate());
    let moved =
        store.set_staff_access(&stale, &[], &[first, second], &admin, &[], Utc::now()).await.expect("write");
    assert_eq!(moved, StaffWrite::Done);
    // From the old read: both a role change and a disable are refused.
    let roles = store
        .set_staff_access(&stale, &["tech_support".into()], &[], &admin, &[], Utc::now())
        .await
        .expect("write");
    assert_eq!(roles, StaffWrite::Stale);
    let disabled = store
        .change_staff_status(&stale, portico::domain::AccountStatus::Disabled, &admin, &[], Utc::now())
        .await
        .expect("write");
    assert_eq!(disabled, StaffWrite::Stale);
    let now = read(email).await;
    assert_eq!((now.projects, now.status), (vec![first, second], portico::domain::AccountStatus::Active));
}
