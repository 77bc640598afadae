//! Cursor pagination: the store's `LastEvaluatedKey`, signed into an opaque cursor so clients
//! can't forge a position in the table.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Keys;
use crate::error::ApiError;
use crate::store::{Page, PageKey};

pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;

/// `?limit=&cursor=` of every list route.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The validated page size and start key.
    pub fn resolve(&self, keys: &Keys) -> Result<(i32, Option<PageKey>), ApiError> {
        self.resolve_up_to(keys, MAX_PAGE_SIZE)
    }

    /// `resolve` for lists whose pages may hold up to `max` items.
    pub fn resolve_up_to(&self, keys: &Keys, max: u32) -> Result<(i32, Option<PageKey>), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=max).contains(&limit) {
            return Err(ApiError::invalid_field("limit", format!("must be between 1 and {max}")));
        }
        let start = self.cursor.as_deref().map(|cursor| open(keys, cursor)).transpose()?;
        Ok((i32::try_from(limit).unwrap_or(DEFAULT_PAGE_SIZE as i32), start))
    }
}

impl PageQuery {
    /// The validated page size and start key of a list whose cursors are sealed for `context`
    /// (`sealed_cursor`): a cursor of another context is refused as invalid.
    pub fn resolve_sealed(&self, keys: &Keys, context: &[u8]) -> Result<(u32, Option<PageKey>), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::invalid_field("limit", format!("must be between 1 and {MAX_PAGE_SIZE}")));
        }
        let start = self
            .cursor
            .as_deref()
            .map(|cursor| {
                keys.open_sealed_cursor(cursor, context)
                    .and_then(|payload| serde_json::from_slice(&payload).ok())
                    .ok_or_else(ApiError::invalid_cursor)
            })
            .transpose()?;
        Ok((limit, start))
    }
}

/// The cursor of a list position that its holder may not read (index keys holding values of
/// fields they do not see), sealed for `context` (`Keys::seal_cursor`).
pub fn sealed_cursor(keys: &Keys, key: &PageKey, context: &[u8]) -> String {
    keys.seal_cursor(&serde_json::to_vec(key).unwrap_or_default(), context)
}

fn open(keys: &Keys, cursor: &str) -> Result<PageKey, ApiError> {
    keys.open_cursor(cursor)
        .and_then(|payload| serde_json::from_slice(&payload).ok())
        .ok_or_else(ApiError::invalid_cursor)
}

fn seal(keys: &Keys, key: &PageKey) -> String {
    keys.sign_cursor(&serde_json::to_vec(key).unwrap_or_default())
}

/// A page of a list route.
#[derive(Debug, Serialize, ToSchema)]
pub struct PagedResponse<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> PagedResponse<T> {
    pub fn from_page<U>(keys: &Keys, page: Page<U>, render: impl FnMut(U) -> T) -> Self {
        Self {
            next_cursor: page.next.as_ref().map(|key| seal(keys, key)),
            items: page.items.into_iter().map(render).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::derive(&[1; 32], "portico", "portico-api")
    }

    #[test]
    fn cursor_round_trip() {
        let keys = keys();
        let key = PageKey::from([("PK".to_owned(), "ACCOUNT#1".to_owned())]);
        let query = PageQuery { limit: Some(10), cursor: Some(seal(&keys, &key)) };
        assert_eq!(query.resolve(&keys).ok(), Some((10, Some(key))));
    }

    #[test]
    fn tampered_cursor_and_bad_limit_are_refused() {
        let keys = keys();
        let key = PageKey::from([("PK".to_owned(), "ACCOUNT#1".to_owned())]);
        let mut cursor = seal(&keys, &key);
        cursor.replace_range(0..1, if cursor.starts_with('A') { "B" } else { "A" });
        let tampered = PageQuery { limit: None, cursor: Some(cursor) }.resolve(&keys).unwrap_err();
        assert_eq!(tampered.code(), "invalid_cursor");
        let too_big = PageQuery { limit: Some(101), cursor: None }.resolve(&keys).unwrap_err();
        assert_eq!(too_big.fields()[0].field, "limit");
    }
}
