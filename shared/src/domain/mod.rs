//! Pure types and decisions: no I/O, no AWS SDK, no axum. Values are parsed at the edge into
//! these types, so inner code never sees unchecked input.

pub mod account;
pub mod administrators;
pub mod challenge;
pub mod contact;
pub mod contact_fields;
pub mod display_text;
pub mod forms;
pub mod label;
pub mod lifecycle;
pub mod locale;
pub mod modules;
pub mod otp;
pub mod password;
pub mod permission;
pub mod policy;
pub mod portal;
pub mod signin;
pub mod workflow;

pub use account::{Account, AccountKind, AccountStatus, AccountType};
pub use contact::{Email, Phone};
pub use label::{Colour, Label};
pub use locale::Locale;
pub use permission::{BuiltinRole, ModuleAccess, Permission, Role, RoleGrants, Scope};
pub use policy::{ApprovalMode, RegistrationPolicy, VerificationMode};
