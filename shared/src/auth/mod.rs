//! Credentials: JWT access tokens, argon2id passwords, random tokens and their keyed hashes.

pub mod challenge;
pub mod jwt;
pub mod keys;
pub mod master_secret;
pub mod password;
pub mod secret;

pub use jwt::{AccessClaims, Grants, JwtError};
pub use keys::Keys;
