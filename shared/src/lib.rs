//! `portico`: everything the Portico functions share.
//!
//! Dependencies point one way: `http`, `store` and `notify` use `domain`; `domain` is pure
//! (no I/O, no AWS SDK, no axum) so its decisions are unit-tested without a network.

pub mod app;
pub mod auth;
pub mod config;
pub mod criteria;
pub mod domain;
pub mod error;
pub mod http;
pub mod notify;
pub mod records;
pub mod store;
pub mod time;

pub use app::AppState;
pub use config::Config;
pub use error::ApiError;
