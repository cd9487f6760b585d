//! Borrowing a server connection for a client's next transaction: from the pool if one is idle
//! and healthy, else a new one if the limit allows, else wait in the FIFO queue.

use std::time::Duration;

use pgwire::{ErrorFields, Severity, SqlState};
use pool::{BorrowError, Grant};
use tokio::time::Instant;

use super::give_back::Borrowed;
use crate::auth::UserEntry;
use crate::error::humanize;
use crate::proxy::Shared;
use crate::upstream::{PoolKey, UpstreamError};

/// Why no server connection could be lent. The client gets an ERROR and stays connected.
#[derive(Debug)]
pub enum BorrowFailure {
    Timeout { waited: Duration, max_size: usize },
    Connect(UpstreamError),
    ShuttingDown,
}

pub async fn borrow(
    shared: &Shared,
    key: &PoolKey,
    user: &UserEntry,
) -> Result<Borrowed, BorrowFailure> {
    let timeout = shared.target.settings().connection_borrow_timeout;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match shared.target.pool.borrow(key, left).await {
            Ok(Grant::Idle(conn)) if conn.is_healthy_when_idle() => return Ok(conn),
            // Closed by the server while idle (restart, pg_terminate_backend, idle timeout):
            // replace it without the client noticing.
            Ok(Grant::Idle(conn)) => conn.discard("closed by the server while idle"),
            Ok(Grant::Slot(slot)) => {
                return match shared.target.open(key, &user.credentials).await {
                    Ok(conn) => Ok(slot.fill(conn)),
                    Err(e) => Err(BorrowFailure::Connect(e)),
                }
            }
            Err(BorrowError::Timeout { max_size, .. }) => {
                return Err(BorrowFailure::Timeout {
                    waited: timeout,
                    max_size,
                })
            }
            Err(BorrowError::Closed) => return Err(BorrowFailure::ShuttingDown),
        }
    }
}

impl BorrowFailure {
    /// The ERROR the client gets; its connection stays usable.
    pub fn client_error(&self, shared: &Shared) -> ErrorFields {
        let settings = shared.target.settings();
        match self {
            BorrowFailure::Timeout { waited, max_size } => ErrorFields::new(
                Severity::Error,
                SqlState::TOO_MANY_CONNECTIONS,
                format!(
                    "no server connection available within connection_borrow_timeout ({}): \
                     all {max_size} server connections of the pool are busy",
                    humanize(*waited)
                ),
            )
            .with_detail(format!(
                "The pool is limited to {max_size} connections \
                 (max_connections_percent = {}% of the server's max_connections{}).",
                settings.max_connections_percent,
                settings
                    .max_connections
                    .map(|m| format!(", max_connections = {m}"))
                    .unwrap_or_default()
            ))
            .with_hint("retry later, shorten transactions, or raise the pool limits"),
            BorrowFailure::Connect(e) => e.client_error(Severity::Error),
            BorrowFailure::ShuttingDown => ErrorFields::new(
                Severity::Error,
                SqlState::ADMIN_SHUTDOWN,
                "Sluice is shutting down",
            ),
        }
    }
}
