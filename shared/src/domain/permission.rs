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
}

impl Permission {
    pub const ALL: [Permission; 4] =
        [Self::SettingsManage, Self::RegistrationsApprove, Self::UsersManage, Self::ContactsViewMasked];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SettingsManage => "settings.manage",
            Self::RegistrationsApprove => "registrations.approve",
            Self::UsersManage => "users.manage",
            Self::ContactsViewMasked => "contacts.view_masked",
        }
    }
}

/// What a role may do with the records of one module. Carried in access tokens as letters
/// (`"rwd"`, `"r"`, …) to keep them small.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModuleAccess {
    pub read: bool,
    pub write: bool,
    pub delete: bool,
}

impl ModuleAccess {
    pub const FULL: Self = Self { read: true, write: true, delete: true };
    pub const READ_WRITE: Self = Self { read: true, write: true, delete: false };

    fn union(self, other: Self) -> Self {
        Self {
            read: self.read || other.read,
            write: self.write || other.write,
            delete: self.delete || other.delete,
        }
    }
}

impl TryFrom<String> for ModuleAccess {
    type Error = String;
    fn try_from(letters: String) -> Result<Self, Self::Error> {
        if !letters.chars().all(|c| matches!(c, 'r' | 'w' | 'd')) {
            return Err("module access is a combination of r, w and d".into());
        }
        Ok(Self { read: letters.contains('r'), write: letters.contains('w'), delete: letters.contains('d') })
    }
}

impl From<ModuleAccess> for String {
    fn from(access: ModuleAccess) -> Self {
        [(access.read, 'r'), (access.write, 'w'), (access.delete, 'd')]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| c)
            .collect()
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
    /// Tasks and deliveries, without deleting.
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
            Self::SalesManager | Self::TechSupport | Self::FieldAgent => &[],
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
            Self::FieldAgent => {
                vec![("tasks", ModuleAccess::READ_WRITE), ("deliveries", ModuleAccess::READ_WRITE)]
            }
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
            let beyond = ModuleAccess {
                read: wanted.read && !held.read,
                write: wanted.write && !held.write,
                delete: wanted.delete && !held.delete,
            };
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
        assert_eq!(agent.modules.get("tasks"), Some(&ModuleAccess::READ_WRITE));
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
            Some(ModuleAccess { read: true, write: false, delete: true })
        );
        assert!(serde_json::from_str::<ModuleAccess>("\"rx\"").is_err());
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
        assert_eq!(agent.missing(&deleting), ["tasks:d"]);
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
                ModuleAccess { read: true, ..ModuleAccess::default() },
            )]),
            builtin: false,
        };
        let ids = ["field_agent".to_owned(), "night_shift".to_owned(), "gone".to_owned()];
        let both = grants_of(&ids, std::slice::from_ref(&night));
        assert_eq!(both.permissions, [Permission::RegistrationsApprove]);
        assert_eq!(
            both.modules.keys().map(String::as_str).collect::<Vec<_>>(),
            ["cases", "deliveries", "tasks"]
        );
        assert_eq!(grants_of(&ids, &[]).permissions, []);
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
