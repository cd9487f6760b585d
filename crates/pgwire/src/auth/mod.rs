//! Authentication exchanges: SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (server and client) and md5.
//!
//! Everything here is pure computation over message bodies; the caller moves the bytes in
//! `AuthenticationSASL*` / `SASLInitialResponse` / `SASLResponse` / `PasswordMessage` frames.

pub mod md5;
pub mod scram;

pub use scram::{ClientBinding, ScramClient, ScramError, ScramKeyCache, ScramSecret, ScramServer};
