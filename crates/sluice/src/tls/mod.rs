//! TLS on both sides: clients to Sluice ([`ClientTls`], with a certificate that reloads on
//! SIGHUP) and Sluice to PostgreSQL ([`ServerTls`], libpq's sslmode semantics). Both hand the
//! session code a plain socket ([`hand_over`]) and the channel-binding data that
//! SCRAM-SHA-256-PLUS needs (`end_point`).

mod acceptor;
mod cert_store;
mod connector;
mod end_point;
mod pump;
mod verifiers;

use std::sync::Arc;

pub use acceptor::ClientTls;
pub use cert_store::CertError;
pub use connector::ServerTls;
pub use pump::{hand_over, local_pair};

/// ring: builds with a C compiler alone (aws-lc-rs would need cmake).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
