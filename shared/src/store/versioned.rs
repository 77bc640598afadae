//! `Versioned`: how the small configuration sets (forms, workflow rules, OTP rules) store each
//! of their items: a definition with an id, a version every change raises, and its times.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// An item of a configuration set, changed only under a condition on the version read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versioned<D> {
    pub id: Ulid,
    /// Raised by every change; a change names the version it read.
    pub version: u64,
    #[serde(flatten)]
    pub definition: D,
    #[serde(with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl<D> Versioned<D> {
    /// A new item: a fresh id, version 1.
    pub fn new(definition: D, now: DateTime<Utc>) -> Self {
        Self { id: Ulid::generate(), version: 1, definition, created_at: now, updated_at: now }
    }

    /// This item with `definition` instead of its own, as the change of version `read` (the
    /// version the caller read) makes it; the store's replace holds only while the item is
    /// still at `read`.
    pub fn replaced(self, read: u64, definition: D, now: DateTime<Utc>) -> Self {
        Self { version: read.saturating_add(1), definition, updated_at: now, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_follows_the_version_read_and_keeps_id_and_creation() {
        let created = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let later = DateTime::from_timestamp(1_700_000_600, 0).expect("time");
        let item = Versioned::new("first", created);
        assert_eq!((item.version, item.created_at, item.updated_at), (1, created, created));
        let replaced = item.clone().replaced(4, "second", later);
        assert_eq!(
            (replaced.id, replaced.version, replaced.definition, replaced.created_at, replaced.updated_at),
            (item.id, 5, "second", created, later)
        );
        assert_eq!(item.clone().replaced(u64::MAX, "x", later).version, u64::MAX, "saturates");
    }
}
