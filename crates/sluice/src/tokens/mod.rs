//! Token authentication: a client sends a short-lived signed token (a JWT) as its password,
//! over TLS only. Two kinds are accepted: tokens Sluice signs itself with its Ed25519 key
//! (`sluice token`), and tokens of the OIDC / JWT identity providers in `[[token_issuers]]`,
//! checked against their JSON Web Key Sets. A token only logs the client in to Sluice; Sluice
//! still logs in to PostgreSQL with the user's configured password. Tokens are checked once,
//! at login: their expiry never ends a session.

mod issue;
mod jwks;
mod peek;
mod refusal;
mod signing_key;
mod verifier;

pub use issue::{issue_token, IssuedToken};
pub use jwks::JwksError;
pub(crate) use peek::looks_like_token;
pub use refusal::TokenRefusal;
pub use signing_key::{SigningKey, SigningKeyError};
pub use verifier::{TokenIdentity, TokenVerifier};
