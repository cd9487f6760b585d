//! Where a session's transactions go, decided by the listener the client connected to.

use config::{EndpointConfig, EndpointRole};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Route {
    /// The elected writer: the main listener and read-write endpoints.
    #[default]
    Writer,
    /// A readable standby, the least busy one; with none, the writer if allowed, else wait.
    Reader { fallback_to_writer: bool },
}

/// The roles, as [`Route::role`] and the pool views spell them.
pub const READ_WRITE: &str = "read-write";
pub const READ_ONLY: &str = "read-only";

impl Route {
    pub fn for_endpoint(endpoint: &EndpointConfig) -> Route {
        match endpoint.role {
            EndpointRole::ReadWrite => Route::Writer,
            EndpointRole::ReadOnly => Route::Reader {
                fallback_to_writer: endpoint.fallback_to_writer,
            },
        }
    }

    pub fn is_reader(self) -> bool {
        matches!(self, Route::Reader { .. })
    }

    /// `read-write` or `read-only`, as endpoints are configured and pools are shown.
    pub fn role(self) -> &'static str {
        match self {
            Route::Writer => READ_WRITE,
            Route::Reader { .. } => READ_ONLY,
        }
    }
}
