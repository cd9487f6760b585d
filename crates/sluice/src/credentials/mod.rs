//! Credentials: what Sluice logs in to PostgreSQL with, and what it checks clients against, per
//! configured user. Inline passwords never change; passwords from a secret store (`file:`,
//! `env:`, `exec:`, `aws:`) are fetched at startup, refreshed on an interval and at once when
//! the database rejects a login, and may carry a previous and a pending version during a
//! rotation.

#[cfg(feature = "aws")]
mod aws;
mod fetch;
mod refresh;
mod store;
mod stores;
mod value;
mod versions;

pub use refresh::refresh_every;
pub use store::Credentials;
pub use stores::{supported, SecretStores};
pub use value::SecretValue;
pub use versions::{LoginAs, Versions};
