//! Never lock the organisation out. An *administrator* here is an active staff user whose roles
//! (built-in or custom, together) grant both `users.manage` and `settings.manage`: with both,
//! one can define any role and give it to anyone, so while one remains every right can be given
//! back through the API. The store keeps the number of administrators in one item and moves it
//! in the transaction of every write that can change who is one; a decrement holds only while
//! the count stays at least 1.
//!
//! These are the pure parts: who is an administrator, by how much a write moves the count, and
//! which custom roles' grants that answer read (the write holds only while they still grant
//! what they granted).

use std::collections::BTreeMap;

use super::AccountStatus;
use super::permission::{BuiltinRole, Permission, Role};

/// What one role gives towards being an administrator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Share {
    pub users_manage: bool,
    pub settings_manage: bool,
}

impl Share {
    pub const NONE: Self = Self { users_manage: false, settings_manage: false };

    pub fn of_permissions(permissions: &[Permission]) -> Self {
        Self {
            users_manage: permissions.contains(&Permission::UsersManage),
            settings_manage: permissions.contains(&Permission::SettingsManage),
        }
    }

    pub fn of(role: &Role) -> Self {
        Self::of_permissions(&role.permissions)
    }

    fn with(self, other: Self) -> Self {
        Self {
            users_manage: self.users_manage || other.users_manage,
            settings_manage: self.settings_manage || other.settings_manage,
        }
    }

    /// Both permissions.
    pub fn is_whole(self) -> bool {
        self.users_manage && self.settings_manage
    }
}

/// A staff user as far as the count goes: their status and the ids of their roles.
#[derive(Debug, Clone, Copy)]
pub struct StaffState<'a> {
    pub status: AccountStatus,
    pub roles: &'a [String],
}

/// The share of role `id`: built-in ones from code, custom ones from `custom` (a role that is
/// not there gives nothing).
fn share_of(id: &str, custom: &[Role]) -> Share {
    match BuiltinRole::from_id(id) {
        Some(builtin) => Share::of_permissions(builtin.permissions()),
        None => custom.iter().find(|role| role.id == id).map(Share::of).unwrap_or_default(),
    }
}

fn custom_ids<'a>(state: &StaffState<'a>) -> impl Iterator<Item = &'a str> {
    state.roles.iter().map(String::as_str).filter(|id| BuiltinRole::from_id(id).is_none())
}

/// The answer when no custom role can change it: never for an inactive user, always when the
/// built-in roles alone grant both permissions (a role only ever adds to the others).
fn settled(state: &StaffState<'_>) -> Option<bool> {
    if state.status != AccountStatus::Active {
        return Some(false);
    }
    let builtin = state.roles.iter().filter_map(|id| BuiltinRole::from_id(id));
    let share =
        builtin.fold(Share::NONE, |share, role| share.with(Share::of_permissions(role.permissions())));
    share.is_whole().then_some(true)
}

/// Whether `state` is an administrator, given the custom roles that exist.
pub fn administers(state: &StaffState<'_>, custom: &[Role]) -> bool {
    settled(state).unwrap_or_else(|| {
        state.roles.iter().fold(Share::NONE, |share, id| share.with(share_of(id, custom))).is_whole()
    })
}

/// How many of `staff` are administrators.
pub fn count<'a>(staff: impl IntoIterator<Item = StaffState<'a>>, custom: &[Role]) -> u64 {
    staff.into_iter().filter(|state| administers(state, custom)).count() as u64
}

/// How a write moves the number of administrators, and what that figure relies on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recount {
    pub delta: i64,
    /// Custom roles whose shares the figure read, with the shares read. Any other custom role
    /// could grant anything without changing the figure.
    pub relies_on: BTreeMap<String, Share>,
}

impl Recount {
    /// The least count the write may find before it: it must leave one administrator. `None`
    /// when the write does not lower the count.
    pub fn least_before(&self) -> Option<i64> {
        (self.delta < 0).then(|| 1 - self.delta)
    }

    fn rely_on(&mut self, state: &StaffState<'_>, custom: &[Role], except: Option<&str>) {
        if settled(state).is_none() {
            for id in custom_ids(state).filter(|id| Some(*id) != except) {
                self.relies_on.insert(id.to_owned(), share_of(id, custom));
            }
        }
    }
}

/// A staff user changing from `before` (`None`: created) to `after`, given the custom roles
/// that exist (at least those the user holds before or after).
pub fn staff_change(before: Option<StaffState<'_>>, after: StaffState<'_>, custom: &[Role]) -> Recount {
    let was = before.as_ref().is_some_and(|state| administers(state, custom));
    let mut recount =
        Recount { delta: i64::from(administers(&after, custom)) - i64::from(was), ..Recount::default() };
    if let Some(before) = &before {
        recount.rely_on(before, custom, None);
    }
    recount.rely_on(&after, custom, None);
    recount
}

/// Custom role `old` becoming `new`, held by `holders`, given the other custom roles those hold.
/// Nothing moves unless the role's share changes.
pub fn role_change(old: &Role, new: &Role, holders: &[StaffState<'_>], custom: &[Role]) -> Recount {
    let mut recount = Recount::default();
    if Share::of(old) == Share::of(new) {
        return recount;
    }
    let with = |role: &Role| -> Vec<Role> {
        custom.iter().filter(|other| other.id != role.id).cloned().chain([role.clone()]).collect()
    };
    let (before, after) = (with(old), with(new));
    for holder in holders {
        recount.delta += i64::from(administers(holder, &after)) - i64::from(administers(holder, &before));
        recount.rely_on(holder, custom, Some(&old.id));
    }
    recount
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn role(id: &str, share: Share) -> Role {
        let permissions = [
            (share.users_manage, Permission::UsersManage),
            (share.settings_manage, Permission::SettingsManage),
        ];
        Role {
            id: id.to_owned(),
            name: id.to_owned(),
            permissions: permissions.into_iter().filter(|(on, _)| *on).map(|(_, p)| p).collect(),
            modules: BTreeMap::new(),
            builtin: false,
        }
    }

    const BOTH: Share = Share { users_manage: true, settings_manage: true };
    const USERS: Share = Share { users_manage: true, settings_manage: false };
    const SETTINGS: Share = Share { users_manage: false, settings_manage: true };

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    fn active(roles: &[String]) -> StaffState<'_> {
        StaffState { status: AccountStatus::Active, roles }
    }

    #[test]
    fn both_permissions_through_any_roles_make_an_administrator() {
        let custom = [role("hr", USERS), role("ops", SETTINGS), role("boss", BOTH)];
        for (roles, expected) in [
            (ids(&["administrator"]), true),
            (ids(&["hr", "ops"]), true),
            (ids(&["boss"]), true),
            (ids(&["hr", "sales_manager"]), false),
            (ids(&["gone", "ops"]), false),
            (ids(&[]), false),
        ] {
            assert_eq!(administers(&active(&roles), &custom), expected, "{roles:?}");
        }
        let disabled = StaffState { status: AccountStatus::Disabled, roles: &ids(&["administrator"])[..] };
        assert!(!administers(&disabled, &custom));
    }

    #[test]
    fn a_demotion_lowers_the_count_and_needs_another_administrator() {
        let (before, after) = (ids(&["administrator"]), ids(&["sales_manager"]));
        let recount = staff_change(Some(active(&before)), active(&after), &[]);
        assert_eq!((recount.delta, recount.least_before()), (-1, Some(2)));
        assert!(recount.relies_on.is_empty(), "built-in roles rely on no definition");
        let creation = staff_change(None, active(&before), &[]);
        assert_eq!((creation.delta, creation.least_before()), (1, None));
    }

    #[test]
    fn a_decision_through_custom_roles_relies_on_their_shares() {
        let custom = [role("hr", USERS), role("ops", SETTINGS), role("viewer", Share::NONE)];
        let (before, after) = (ids(&["hr", "ops"]), ids(&["hr", "viewer"]));
        let recount = staff_change(Some(active(&before)), active(&after), &custom);
        assert_eq!(recount.delta, -1);
        assert_eq!(
            recount.relies_on,
            BTreeMap::from([("hr".into(), USERS), ("ops".into(), SETTINGS), ("viewer".into(), Share::NONE)])
        );
        // The built-in Administrator role settles both sides: no custom role matters.
        let (before, after) = (ids(&["administrator", "hr"]), ids(&["administrator"]));
        assert_eq!(staff_change(Some(active(&before)), active(&after), &custom), Recount::default());
    }

    #[test]
    fn narrowing_a_role_counts_the_holders_who_lose_both_permissions() {
        let boss = role("boss", BOTH);
        let custom = [boss.clone(), role("ops", SETTINGS)];
        let (only, with_ops, also_admin) =
            (ids(&["boss"]), ids(&["boss", "ops"]), ids(&["boss", "administrator"]));
        let disabled = StaffState { status: AccountStatus::Disabled, roles: &only[..] };
        let holders = [active(&only), active(&with_ops), active(&also_admin), disabled];
        let narrowed = role("boss", SETTINGS);
        let recount = role_change(&boss, &narrowed, &holders, &custom);
        assert_eq!(recount.delta, -2, "the holder with only the role, and the one with ops");
        assert_eq!(recount.relies_on, BTreeMap::from([("ops".into(), SETTINGS)]));
        let renamed = Role { name: "Chief".into(), ..boss.clone() };
        assert_eq!(role_change(&boss, &renamed, &holders, &custom), Recount::default());
        assert_eq!(role_change(&narrowed, &boss, &holders, &custom).delta, 2);
    }

    const CUSTOM: [&str; 4] = ["c0", "c1", "c2", "c3"];
    const ROLE_IDS: [&str; 6] = ["administrator", "sales_manager", "c0", "c1", "c2", "c3"];

    fn share() -> impl Strategy<Value = Share> {
        (any::<bool>(), any::<bool>())
            .prop_map(|(users_manage, settings_manage)| Share { users_manage, settings_manage })
    }

    /// A user: active or disabled, holding a subset of `ROLE_IDS`.
    fn user() -> impl Strategy<Value = (AccountStatus, Vec<String>)> {
        let status = prop_oneof![Just(AccountStatus::Active), Just(AccountStatus::Disabled)];
        let roles = proptest::sample::subsequence(ROLE_IDS.to_vec(), 0..=ROLE_IDS.len())
            .prop_map(|ids| ids.into_iter().map(str::to_owned).collect());
        (status, roles)
    }

    fn definitions(shares: &[Share]) -> Vec<Role> {
        CUSTOM.iter().zip(shares).map(|(id, share)| role(id, *share)).collect()
    }

    fn states(users: &[(AccountStatus, Vec<String>)]) -> Vec<StaffState<'_>> {
        users.iter().map(|(status, roles)| StaffState { status: *status, roles }).collect()
    }

    /// The definitions with every role outside `relies_on` (and `except`) given `shares` instead.
    fn others_changed(custom: &[Role], recount: &Recount, except: &str, shares: &[Share]) -> Vec<Role> {
        custom
            .iter()
            .zip(shares)
            .map(|(role_read, share)| {
                let kept = recount.relies_on.contains_key(&role_read.id) || role_read.id == except;
                if kept { role_read.clone() } else { role(&role_read.id, *share) }
            })
            .collect()
    }

    proptest! {
        /// A user's change moves the count by exactly the recount's delta, and the delta stays
        /// right whatever the roles it does not rely on grant.
        #[test]
        fn a_user_change_moves_the_count_by_its_delta(
            shares in proptest::collection::vec(share(), 4),
            others in proptest::collection::vec(share(), 4),
            users in proptest::collection::vec(user(), 1..6),
            new in user(),
            pick in any::<proptest::sample::Index>(),
            created in any::<bool>(),
        ) {
            let custom = definitions(&shares);
            let index = pick.index(users.len());
            let mut changed = users.clone();
            changed[index] = new.clone();
            let before = if created { None } else { Some(states(&users)[index]) };
            let after = StaffState { status: new.0, roles: &new.1 };
            let recount = staff_change(before, after, &custom);
            let old_staff = if created {
                states(&users).into_iter().enumerate().filter(|(i, _)| *i != index).map(|(_, s)| s).collect()
            } else {
                states(&users)
            };
            let counted = |custom: &[Role]| {
                count(states(&changed), custom) as i64 - count(old_staff.iter().copied(), custom) as i64
            };
            prop_assert_eq!(recount.delta, counted(&custom));
            prop_assert_eq!(recount.delta, counted(&others_changed(&custom, &recount, "", &others)));
        }

        /// Changing a role's grants moves the count by exactly the recount's delta, whatever the
        /// roles it does not rely on grant.
        #[test]
        fn a_role_change_moves_the_count_by_its_delta(
            shares in proptest::collection::vec(share(), 4),
            others in proptest::collection::vec(share(), 4),
            users in proptest::collection::vec(user(), 0..6),
            pick in 0..CUSTOM.len(),
            new in share(),
        ) {
            let custom = definitions(&shares);
            let (old, new) = (custom[pick].clone(), role(CUSTOM[pick], new));
            let holders: Vec<StaffState<'_>> =
                states(&users).into_iter().filter(|s| s.roles.contains(&old.id)).collect();
            let recount = role_change(&old, &new, &holders, &custom);
            prop_assert!(!recount.relies_on.contains_key(&old.id));
            let counted = |custom: &[Role]| {
                let after: Vec<Role> =
                    custom.iter().map(|r| if r.id == new.id { new.clone() } else { r.clone() }).collect();
                count(states(&users), &after) as i64 - count(states(&users), custom) as i64
            };
            prop_assert_eq!(recount.delta, counted(&custom));
            prop_assert_eq!(recount.delta, counted(&others_changed(&custom, &recount, &old.id, &others)));
        }
    }
}
