//! Borrowing a server connection for a client's next transaction: from the pool if one is idle
//! and healthy, else a new one if the limit allows, else wait in the FIFO queue.

use pgwire::{ErrorFields, Severity, SqlState};
use tokio::time::Instant;

use super::give_back::Borrowed;
use crate::auth::UserEntry;
use crate::error::humanize;
use crate::proxy::Shared;
use crate::upstream::{BorrowFailure, PoolKey, Route};

/// Waits out a PAUSE first; the borrow latency recorded is the pool's part only.
pub async fn borrow(
    shared: &Shared,
    route: Route,
    key: &PoolKey,
    user: &UserEntry,
) -> Result<Borrowed, BorrowFailure> {
    shared.pause.wait_until_resumed().await;
    let started = Instant::now();
    let borrowed = shared.target.borrow(route, key, &user.credentials).await;
    if borrowed.is_ok() {
        shared.stats.borrow_latency.observe(started.elapsed());
    }
    borrowed
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
