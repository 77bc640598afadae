//! Staff permissions and the built-in roles that grant them.

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

/// Roles every installation has. Custom roles come with the roles administration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinRole {
    Administrator,
}

impl BuiltinRole {
    pub fn id(self) -> &'static str {
        match self {
            Self::Administrator => "administrator",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        match id {
            "administrator" => Some(Self::Administrator),
            _ => None,
        }
    }

    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Self::Administrator => &Permission::ALL,
        }
    }
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
