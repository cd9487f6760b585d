//! Client authentication: Sluice checks the client's password itself, against the configured
//! users, before any server connection is involved.

mod client_auth;
mod users;

pub use client_auth::authenticate;
pub use users::{UserDirectory, UserEntry};
