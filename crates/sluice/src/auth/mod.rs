//! Client authentication: Sluice checks the client's password itself, against the configured
//! users (or a signed token, see `crate::tokens`), before any server connection is involved.

mod client_auth;
mod token_login;
mod users;

pub use client_auth::authenticate;
pub use users::{UserDirectory, UserEntry};
