//! Sluice: a PostgreSQL connection-pooling proxy.
//!
//! The modules follow the data path of one client:
//!
//! ```text
//! accept ─► negotiate (─► TLS) ─► auth ─► route (database, user → pool) ─► session loop:
//!     wait for a request ─► borrow ─► relay both ways ─► give back at ReadyForQuery 'I'
//! ```
//!
//! - [`accept`]: listener, client socket, the first packet (SSLRequest, CancelRequest, startup);
//! - `tls`: TLS for clients (SSLRequest or direct, reloadable certificate) and to PostgreSQL
//!   (tls_mode), and the channel-binding data SCRAM-SHA-256-PLUS needs;
//! - `auth`: access rules, the failed-login limit, SCRAM-SHA-256(-PLUS) / md5 against the
//!   configured users, or a signed token over TLS;
//! - [`tokens`]: token issue (`sluice token`) and verification (own key, OIDC issuers' JWKS);
//! - `credentials`: each user's password versions, from the config or a secret store, rotated;
//! - `session`: login, borrow, relay, give back, cancel routing, refusing without a server;
//! - `upstream`: server connections, server login, the target group and its pool;
//! - `error`: every way a session ends and what the client sees for it;
//! - [`proxy`]: the supervisor that owns the shared state;
//! - `admin`: the admin HTTP listener (metrics, health, JSON API) and the admin console;
//!   `metrics`, `clients`, `events` and `pause` hold what they read and control.
#![forbid(unsafe_code)]

pub mod accept;
mod admin;
mod auth;
mod clients;
mod credentials;
pub mod demo;
mod error;
mod events;
mod failover;
mod metrics;
mod pause;
pub mod proxy;
mod reload;
mod session;
mod statements;
pub mod telemetry;
mod tls;
pub mod tokens;
mod upstream;

pub use proxy::{check_files, CertificateReloader, Observer, Proxy, ReloadHandle, ShutdownHandle};
pub use tls::CertError;
