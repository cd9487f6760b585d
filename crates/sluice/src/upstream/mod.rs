//! The server side: connecting and logging in to PostgreSQL, the target group's pool, and the
//! server connection type the pool holds.

mod connect;
mod error;
mod live;
mod readers;
mod route;
mod secure;
mod server_auth;
mod server_conn;
mod target;

pub use connect::{connect, send_cancel, ConnectParams};
pub use error::UpstreamError;
pub use live::{LiveConnections, LiveGuard};
pub use readers::{ReaderPool, Readers};
pub use route::{Route, READ_ONLY, READ_WRITE};
pub use server_conn::ServerConn;
pub use target::{BorrowFailure, PoolKey, ServerParams, Target};
