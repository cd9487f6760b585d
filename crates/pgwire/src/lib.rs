//! PostgreSQL v3 wire protocol codec for Sluice: pure, no I/O.
//!
//! - [`frame`] walks `tag + length` headers so the proxy can forward bytes without parsing bodies;
//! - [`startup`] handles the untagged first packet (StartupMessage, SSLRequest, CancelRequest);
//! - [`frontend`] and [`backend`] decode the few messages the proxy must act on;
//! - [`encode`] builds messages; [`auth`] holds SCRAM-SHA-256 and md5; [`sqlstate`] names every
//!   SQLSTATE code.
#![forbid(unsafe_code)]

pub mod auth;
pub mod backend;
pub mod encode;
mod error;
pub mod error_fields;
pub mod frame;
pub mod frontend;
mod read;
pub mod scan;
pub mod sqlstate;
pub mod startup;
pub mod tags;

pub use backend::TransactionStatus;
pub use error::ProtocolError;
pub use error_fields::{ErrorFields, Severity};
pub use frame::{Frames, RawMessage};
pub use sqlstate::SqlState;
pub use startup::{CancelKey, StartupMessage, StartupRequest};
pub use tags::{BackendTag, FrontendTag};
