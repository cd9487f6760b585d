//! Test support for Sluice integration tests.
//!
//! Starts real, throw-away PostgreSQL clusters (initdb into a temp dir, random
//! free port, unix socket inside the temp dir) and offers a tiny raw protocol
//! client for tests that need to send hand-made or malformed bytes.
//!
//! When the tests run as root (CI containers), every server-side command is
//! run through `runuser -u postgres --` because initdb/postgres refuse root.

mod bin;
mod cluster;
mod options;
mod process;
pub mod raw;
mod standby;

pub use bin::{pg_bin, pg_bin_dir};
pub use cluster::PgCluster;
pub use options::{ClusterOptions, ClusterTls, HbaAuth, StopMode};
pub use process::run_client;
pub use raw::RawConn;
