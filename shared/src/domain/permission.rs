//! Staff permissions and the built-in roles that grant them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One thing a staff member may do. Carried in the access token, checked by handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Permission {
    /// Change configuration: registration policy, labels, roles, fields, rules.
    #[serde(rename = "settings.manage")]
    SettingsManage,
    /// Approve or reject pending registrations (and be mailed when one waits).
    #[serde(rename = "registrations.approve")]
    RegistrationsApprove,
    /// Create and edit staff users.
    #[serde(rename = "users.manage")]
    UsersManage,
    /// See masked contact fields.
    #[serde(rename = "contacts.view_masked")]
    ContactsViewMasked,
    /// Give records to other staff (set `owner_id` to someone else).
    #[serde(rename = "records.assign")]
    RecordsAssign,
    /// Fill agent forms of one's projects (the form grants writing its bound contact fields).
    #[serde(rename = "forms.fill")]
    FormsFill,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Self::SettingsManage,
        Self::RegistrationsApprove,
        Self::UsersManage,
        Self::ContactsViewMasked,
        Self::RecordsAssign,
        Self::FormsFill,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SettingsManage => "settings.manage",
            Self::RegistrationsApprove => "registrations.approve",
            Self::UsersManage => "users.manage",
            Self::ContactsViewMasked => "contacts.view_masked",
            Self::RecordsAssign => "records.assign",
            Self::FormsFill => "forms.fill",
        }
    }
}

/// Which records of a module an operation reaches: none, the caller's own (`owner_id`), or all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    #[default]
    None,
    Own,
    All,
}

impl Scope {
    /// Whether the operation is allowed on some records.
    pub fn any(self) -> bool {
        self != Self::None
    }

    /// Whether the operation reaches a record owned by `owner`, for `caller`.
    pub fn reaches(self, owner: ulid::Ulid, caller: ulid::Ulid) -> bool {
        match self {
            Self::None => false,
            Self::Own => owner == caller,
            Self::All => true,
        }
    }
}

/// What a role may do with the records of one module: read, write and delete, each over all
/// records or only the caller's own. Written as letters (`"rwd"`: all records), with `:own`
/// for the caller's own records only (`"rw:own"`), and groups joined by commas when the scopes
/// differ (`"r,w:own"`: read all, change only one's own). Carried in access tokens so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModuleAccess {
    pub read: Scope,
    pub write: Scope,
    pub delete: Scope,
}

impl ModuleAccess {
    pub const FULL: Self = Self { read: Scope::All, write: Scope::All, delete: Scope::All };
    pub const READ_WRITE: Self = Self { read: Scope::All, write: Scope::All, delete: Scope::None };
    pub const READ_WRITE_OWN: Self = Self { read: Scope::Own, write: Scope::Own, delete: Scope::None };

    fn union(self, other: Self) -> Self {
        Self {
            read: self.read.max(other.read),
            write: self.write.max(other.write),
            delete: self.delete.max(other.delete),
        }
    }

    /// The operations `self` allows beyond `held`.
    fn beyond(self, held: Self) -> Self {
        let over = |wanted: Scope, held: Scope| if wanted > held { wanted } else { Scope::None };
        Self {
            read: over(self.read, held.read),
            write: over(self.write, held.write),
            delete: over(self.delete, held.delete),
        }
    }

    fn letters(self, scope: Scope) -> String {
        [(self.read, 'r'), (self.write, 'w'), (self.delete, 'd')]
            .iter()
            .filter(|(held, _)| *held == scope)
            .map(|(_, letter)| letter)
            .collect()
    }
}

impl TryFrom<String> for ModuleAccess {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        const FORM: &str = "module access is letters r, w, d, optionally followed by :own (e.g. \"rw:own\"), \
            groups joined by commas (e.g. \"r,w:own\")";
        let mut access = Self::default();
        if text.is_empty() {
            return Ok(access);
        }
        for group in text.split(',') {
            let (letters, scope) = match group.strip_suffix(":own") {
                Some(letters) => (letters, Scope::Own),
                None => (group, Scope::All),
            };
            if letters.is_empty() {
                return Err(FORM.into());
            }
            for letter in letters.chars() {
                let held = match letter {
                    'r' => &mut access.read,
                    'w' => &mut access.write,
                    'd' => &mut access.delete,
                    _ => return Err(FORM.into()),
                };
                *held = (*held).max(scope);
            }
        }
        Ok(access)
    }
}

impl From<ModuleAccess> for String {
    fn from(access: ModuleAccess) -> Self {
        let (all, own) = (access.letters(Scope::All), access.letters(Scope::Own));
        match (all.is_empty(), own.is_empty()) {
            (_, true) => all,
            (true, false) => format!("{own}:own"),
            (false, false) => format!("{all},{own}:own"),
        }
    }
}

/// Roles every installation has; admins add custom ones (`Role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinRole {
    Administrator,
    /// Contacts, accounts, deals and quotes.
    SalesManager,
    /// Cases only.
    TechSupport,
    /// Their own tasks, deliveries and meetings, without deleting.
    FieldAgent,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 4] =
        [Self::Administrator, Self::SalesManager, Self::TechSupport, Self::FieldAgent];

    pub fn id(self) -> &'static str {
        match self {
            Self::Administrator => "administrator",
            Self::SalesManager => "sales_manager",
            Self::TechSupport => "tech_support",
            Self::FieldAgent => "field_agent",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.id() == id)
    }

    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Self::Administrator => &Permission::ALL,
            Self::SalesManager => &[Permission::RecordsAssign, Permission::FormsFill],
            Self::FieldAgent => &[Permission::FormsFill],
            Self::TechSupport => &[],
        }
    }

    /// The modules the role may use, and how.
    pub fn modules(self) -> Vec<(&'static str, ModuleAccess)> {
        let full = |names: &[&'static str]| names.iter().map(|name| (*name, ModuleAccess::FULL)).collect();
        match self {
            Self::Administrator => {
                crate::domain::modules::modules().iter().map(|m| (m.name, ModuleAccess::FULL)).collect()
            }
            Self::SalesManager => full(&["contacts", "accounts", "deals", "quotes"]),
            Self::TechSupport => full(&["cases"]),
            // Field agents see and change only the work given to them.
            Self::FieldAgent => ["tasks", "deliveries", "meetings"]
                .into_iter()
                .map(|name| (name, ModuleAccess::READ_WRITE_OWN))
                .collect(),
        }
    }

    /// The role as a definition, like the ones admins make.
    pub fn definition(self) -> Role {
        let (permissions, modules) = (self.permissions().to_vec(), self.modules());
        Role {
            id: self.id().to_owned(),
            name: self.name().to_owned(),
            permissions,
            modules: modules.into_iter().map(|(module, access)| (module.to_owned(), access)).collect(),
            builtin: true,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Administrator => "Administrator",
            Self::SalesManager => "Sales manager",
            Self::TechSupport => "Tech support",
            Self::FieldAgent => "Field agent",
        }
    }
}

/// A set of permissions and module access under an id: built in, or made by an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// `snake_case`, 2–40 characters; what users' `roles` lists name.
    pub id: String,
    pub name: String,
    pub permissions: Vec<Permission>,
    pub modules: BTreeMap<String, ModuleAccess>,
    pub builtin: bool,
}

/// Role ids look like the built-in ones: a lowercase letter, then lowercase letters, digits
/// and `_`, 2–40 characters in all.
pub fn check_role_id(id: &str) -> Result<(), &'static str> {
    let mut chars = id.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && (2..=40).contains(&id.len());
    if well_formed {
        Ok(())
    } else {
        Err("must be 2–40 characters: a lowercase letter, then lowercase letters, digits or _")
    }
}

/// What roles allow together: the union of their permissions and of their module access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleGrants {
    /// Sorted, without duplicates.
    pub permissions: Vec<Permission>,
    /// Modules with no access are left out.
    pub modules: BTreeMap<String, ModuleAccess>,
}

impl RoleGrants {
    pub fn of<'a>(roles: impl IntoIterator<Item = &'a Role>) -> Self {
        let mut grants = Self::default();
        for role in roles {
            grants.permissions.extend(role.permissions.iter().copied());
            for (module, access) in &role.modules {
                let entry = grants.modules.entry(module.clone()).or_default();
                *entry = entry.union(*access);
            }
        }
        grants.permissions.sort();
        grants.permissions.dedup();
        grants.modules.retain(|_, access| *access != ModuleAccess::default());
        grants
    }

    /// What `other` allows beyond this: a staff member may only hand out what they hold
    /// themselves, so nobody raises their own rights through roles. Empty when `self` covers it.
    pub fn missing(&self, other: &RoleGrants) -> Vec<String> {
        let mut missing: Vec<String> = other
            .permissions
            .iter()
            .filter(|permission| !self.permissions.contains(permission))
            .map(|permission| permission.as_str().to_owned())
            .collect();
        for (module, wanted) in &other.modules {
            let held = self.modules.get(module).copied().unwrap_or_default();
            let beyond = wanted.beyond(held);
            if beyond != ModuleAccess::default() {
                missing.push(format!("{module}:{}", String::from(beyond)));
            }
        }
        missing
    }
}

/// The built-in role with this id, as a definition.
pub fn builtin_role(id: &str) -> Option<Role> {
    BuiltinRole::from_id(id).map(BuiltinRole::definition)
}

/// What `role_ids` allow, given the custom roles that exist; ids of no role allow nothing.
pub fn grants_of(role_ids: &[String], custom: &[Role]) -> RoleGrants {
    let roles: Vec<Role> = role_ids
        .iter()
        .filter_map(|id| builtin_role(id).or_else(|| custom.iter().find(|role| role.id == *id).cloned()))
        .collect();
    RoleGrants::of(&roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(ids: &[&str]) -> RoleGrants {
        grants_of(&ids.iter().map(|id| (*id).to_owned()).collect::<Vec<_>>(), &[])
    }

    #[test]
    fn administrator_has_every_permission() {
        assert_eq!(grants(&["administrator"]).permissions, Permission::ALL.to_vec());
    }

    #[test]
    fn built_in_roles_reach_their_modules() {
        let sales = grants(&["sales_manager"]);
        assert_eq!(
            sales.modules.keys().map(String::as_str).collect::<Vec<_>>(),
            ["accounts", "contacts", "deals", "quotes"]
        );
        let agent = grants(&["field_agent"]);
        assert_eq!(agent.modules.get("tasks"), Some(&ModuleAccess::READ_WRITE_OWN));
        assert_eq!(agent.modules.get("meetings"), Some(&ModuleAccess::READ_WRITE_OWN));
        assert_eq!(agent.modules.get("cases"), None);
        let both = grants(&["field_agent", "administrator"]);
        assert_eq!(both.modules.get("tasks"), Some(&ModuleAccess::FULL));
        assert_eq!(grants(&["administrator"]).modules.len(), 10);
    }

    #[test]
    fn module_access_is_letters() {
        assert_eq!(serde_json::to_string(&ModuleAccess::READ_WRITE).ok(), Some("\"rw\"".into()));
        assert_eq!(
            serde_json::from_str::<ModuleAccess>("\"rd\"").ok(),
            Some(ModuleAccess { read: Scope::All, write: Scope::None, delete: Scope::All })
        );
        for bad in ["\"rx\"", "\":own\"", "\"r,\"", "\"rw:all\""] {
            assert!(serde_json::from_str::<ModuleAccess>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn module_access_scopes_round_trip_as_text() {
        let mixed = ModuleAccess { read: Scope::All, write: Scope::Own, delete: Scope::None };
        for (access, text) in [
            (ModuleAccess::READ_WRITE_OWN, "rw:own"),
            (mixed, "r,w:own"),
            (ModuleAccess::FULL, "rwd"),
            (ModuleAccess::default(), ""),
        ] {
            assert_eq!(String::from(access), text);
            assert_eq!(ModuleAccess::try_from(text.to_owned()), Ok(access));
        }
    }

    #[test]
    fn roles_together_reach_the_widest_scope_per_operation() {
        let reader = Role {
            id: "reader".into(),
            name: "Reader".into(),
            permissions: vec![],
            modules: BTreeMap::from([(
                "tasks".to_owned(),
                ModuleAccess { read: Scope::All, ..Default::default() },
            )]),
            builtin: false,
        };
        let agent = builtin_role("field_agent").expect("built in");
        let both = RoleGrants::of([&reader, &agent]);
        // Reading all tasks does not widen changing them beyond one's own.
        assert_eq!(
            both.modules["tasks"],
            ModuleAccess { read: Scope::All, write: Scope::Own, delete: Scope::None }
        );
        assert_eq!(RoleGrants::of([&agent]).missing(&both), ["tasks:r"]);
        assert!(both.missing(&RoleGrants::of([&agent])).is_empty());
    }

    #[test]
    fn grants_name_what_they_lack() {
        let sales = grants(&["sales_manager"]);
        let admin = grants(&["administrator"]);
        assert!(admin.missing(&sales).is_empty());
        assert!(sales.missing(&sales).is_empty());
        let lacking = sales.missing(&admin);
        assert!(lacking.contains(&"settings.manage".to_owned()));
        assert!(lacking.contains(&"cases:rwd".to_owned()));
        assert!(!lacking.iter().any(|m| m.starts_with("deals")));
        let agent = grants(&["field_agent"]);
        let deleting = RoleGrants {
            modules: BTreeMap::from([("tasks".to_owned(), ModuleAccess::FULL)]),
            ..RoleGrants::default()
        };
        // Field agents reach only their own tasks: all of them is beyond them too.
        assert_eq!(agent.missing(&deleting), ["tasks:rwd"]);
    }

    #[test]
    fn role_ids_are_snake_case() {
        assert!(check_role_id("night_shift2").is_ok());
        assert!(BuiltinRole::ALL.iter().all(|role| check_role_id(role.id()).is_ok()));
        for bad in ["", "a", "Night", "9lives", "night-shift", "ünï", &"a".repeat(41)] {
            assert!(check_role_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn custom_roles_add_to_built_in_ones() {
        let night = Role {
            id: "night_shift".into(),
            name: "Night shift".into(),
            permissions: vec![Permission::RegistrationsApprove],
            modules: BTreeMap::from([(
                "cases".to_owned(),
                ModuleAccess { read: Scope::All, ..ModuleAccess::default() },
            )]),
            builtin: false,
        };
        let ids = ["field_agent".to_owned(), "night_shift".to_owned(), "gone".to_owned()];
        let both = grants_of(&ids, std::slice::from_ref(&night));
        assert_eq!(both.permissions, [Permission::RegistrationsApprove, Permission::FormsFill]);
        assert_eq!(
            both.modules.keys().map(String::as_str).collect::<Vec<_>>(),
            ["cases", "deliveries", "meetings", "tasks"]
        );
        assert_eq!(
            grants_of(&ids, &[]).permissions,
            [Permission::FormsFill],
            "a missing custom role grants nothing"
        );
    }

    #[test]
    fn empty_module_access_is_dropped() {
        let role = Role {
            id: "viewer".into(),
            name: "Viewer".into(),
            permissions: vec![],
            modules: BTreeMap::from([("cases".to_owned(), ModuleAccess::default())]),
            builtin: false,
        };
        assert!(RoleGrants::of([&role]).modules.is_empty());
    }

    #[test]
    fn unknown_roles_grant_nothing() {
        assert!(grants(&["ghost"]) == RoleGrants::default());
    }

    #[test]
    fn permissions_serialise_as_dotted_names() {
        assert_eq!(
            serde_json::to_string(&Permission::RegistrationsApprove).ok(),
            Some("\"registrations.approve\"".into())
        );
    }
}
