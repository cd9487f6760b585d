//! Sluice: a PostgreSQL connection-pooling proxy.
//!
//! The modules follow the data path of one client:
//!
//! ```text
//! accept ─► negotiate ─► auth ─► route (database, user → pool) ─► session loop:
//!     wait for a request ─► borrow ─► relay both ways ─► give back at ReadyForQuery 'I'
//! ```
//!
//! - [`accept`]: listener, client socket, the first packet (SSLRequest, CancelRequest, startup);
//! - `auth`: SCRAM-SHA-256 / md5 against the configured users, or a signed token over TLS;
//! - [`tokens`]: token issue (`sluice token`) and verification (own key, OIDC issuers' JWKS);
//! - `session`: login, borrow, relay, give back, cancel routing, refusing without a server;
//! - `upstream`: server connections, server login, the target group and its pool;
//! - `error`: every way a session ends and what the client sees for it;
//! - [`proxy`]: the supervisor that owns the shared state.
#![forbid(unsafe_code)]

pub mod accept;
mod auth;
pub mod demo;
mod error;
mod failover;
pub mod proxy;
mod session;
mod statements;
pub mod telemetry;
mod tls;
pub mod tokens;
mod upstream;

pub use proxy::{CertificateReloader, Observer, Proxy, ShutdownHandle};
pub use tls::CertError;
