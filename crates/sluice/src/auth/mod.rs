//! Client admission and authentication: the failed-login limit and the access rules first,
//! then Sluice checks the client's password (or a signed token, see `crate::tokens`) itself,
//! against the configured users, before any server connection is involved.

mod access;
mod client_auth;
mod failed_logins;
mod token_login;
mod users;

pub use access::admit;
pub use client_auth::authenticate;
pub use failed_logins::FailedLogins;
pub use users::{UserDirectory, UserEntry};
