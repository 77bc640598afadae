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

/// Roles every installation has. Custom roles come with the roles administration.
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
}

/// What `role_ids` together allow per module; unknown ids allow nothing.
pub fn module_access_of<'a>(role_ids: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, ModuleAccess> {
    let mut access: BTreeMap<String, ModuleAccess> = BTreeMap::new();
    for role in role_ids.into_iter().filter_map(BuiltinRole::from_id) {
        for (module, grant) in role.modules() {
            let entry = access.entry(module.to_owned()).or_default();
            *entry = entry.union(grant);
        }
    }
    access
}

/// The union of the permissions of `role_ids`, sorted and without duplicates; unknown ids grant nothing.
pub fn permissions_of<'a>(role_ids: impl IntoIterator<Item = &'a str>) -> Vec<Permission> {
    let mut permissions: Vec<Permission> = role_ids
        .into_iter()
        .filter_map(BuiltinRole::from_id)
        .flat_map(|role| role.permissions().iter().copied())
        .collect();
    permissions.sort();
    permissions.dedup();
    permissions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrator_has_every_permission() {
        assert_eq!(permissions_of(["administrator"]), Permission::ALL.to_vec());
    }

    #[test]
    fn built_in_roles_reach_their_modules() {
        let sales = module_access_of(["sales_manager"]);
        assert_eq!(
            sales.keys().map(String::as_str).collect::<Vec<_>>(),
            ["accounts", "contacts", "deals", "quotes"]
        );
        let agent = module_access_of(["field_agent"]);
        assert_eq!(agent.get("tasks"), Some(&ModuleAccess::READ_WRITE));
        assert_eq!(agent.get("cases"), None);
        let both = module_access_of(["field_agent", "administrator"]);
        assert_eq!(both.get("tasks"), Some(&ModuleAccess::FULL));
        assert_eq!(module_access_of(["administrator"]).len(), 10);
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
    fn unknown_roles_grant_nothing() {
        assert!(permissions_of(["ghost"]).is_empty());
    }

    #[test]
    fn permissions_serialise_as_dotted_names() {
        assert_eq!(
            serde_json::to_string(&Permission::RegistrationsApprove).ok(),
            Some("\"registrations.approve\"".into())
        );
    }
}
