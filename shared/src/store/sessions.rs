//! Sign-in sessions: one item per session, holding the keyed hash of its refresh token.

use chrono::{DateTime, Utc};
use serde::Serialize;
use ulid::Ulid;

use super::keys::{self};
use super::{Store, StoreError};

#[derive(Serialize)]
struct SessionItem<'a> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: &'static str,
    account_id: Ulid,
    session_id: Ulid,
    refresh_hash: &'a str,
    device_hash: &'a str,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ttl: i64,
}

/// A new session's stored facts; tokens are never stored, only their keyed hashes.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub account_id: Ulid,
    pub session_id: Ulid,
    pub refresh_hash: &'a str,
    pub device_hash: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    #[tracing::instrument(skip_all, fields(account_id = %session.account_id, session_id = %session.session_id))]
    pub async fn create_session(&self, session: &NewSession<'_>) -> Result<(), StoreError> {
        let (pk, sk) = keys::session(session.account_id, session.session_id);
        let item = SessionItem {
            pk,
            sk,
            entity: "session",
            account_id: session.account_id,
            session_id: session.session_id,
            refresh_hash: session.refresh_hash,
            device_hash: session.device_hash,
            created_at: session.created_at,
            expires_at: session.expires_at,
            ttl: session.expires_at.timestamp(),
        };
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(serde_dynamo::to_item(item)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await?;
        Ok(())
    }
}
