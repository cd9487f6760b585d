//! Failures while opening or using a server connection, and how each reads to a client.

use std::time::Duration;

use config::{ServerAuth, ServerTlsMode};
use pgwire::auth::ScramError;
use pgwire::{ErrorFields, ProtocolError, Severity, SqlState};

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("could not resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not connect to {host}: {source}")]
    Connect {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connecting to {host} timed out after {after:?}")]
    Timeout { host: String, after: Duration },
    #[error("server connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("server closed the connection during login")]
    ClosedDuringLogin,
    #[error("server rejected the login: {} {}", .0.code, .0.message)]
    Rejected(ErrorFields),
    #[error("server asked for authentication method {0}, which Sluice cannot answer")]
    AuthUnsupported(i32),
    #[error("SCRAM exchange with the server failed: {0}")]
    Scram(#[from] ScramError),
    #[error("server protocol violation: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("no writer (primary) known within {waited:?}")]
    NoWriter {
        waited: Duration,
        /// Why the monitor could not reach the hosts, when it could not.
        probe_failure: Option<String>,
    },
    #[error("TLS with {host} failed: {source}")]
    Tls {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{host} does not accept TLS, and tls_mode = \"{mode}\" does not allow plaintext")]
    TlsRefused { host: String, mode: ServerTlsMode },
    #[error("server asked for {method}, which server_auth = \"{allowed}\" does not allow")]
    AuthNotAllowed {
        method: &'static str,
        allowed: ServerAuth,
    },
    #[error(
        "server asked for a cleartext password over an unencrypted connection; Sluice does not \
         send it (set tls_mode = \"require\" or stronger)"
    )]
    CleartextWithoutTls,
    #[error("no readable standby known within {waited:?}")]
    NoReader { waited: Duration },
    #[error("no server connection became available within {waited:?}")]
    PoolExhausted { waited: Duration },
    #[error("server returned an unexpected reply: {0}")]
    UnexpectedReply(&'static str),
}

impl UpstreamError {
    /// The host could not be reached or is not accepting connections right now (as opposed
    /// to rejecting the login): worth retrying once the monitor has looked at it.
    pub fn is_unreachable(&self) -> bool {
        match self {
            UpstreamError::Resolve { .. }
            | UpstreamError::Connect { .. }
            | UpstreamError::Timeout { .. }
            | UpstreamError::Io(_)
            | UpstreamError::ClosedDuringLogin => true,
            // The database system is starting up or shutting down.
            UpstreamError::Rejected(server) => server.code == SqlState::CANNOT_CONNECT_NOW.code(),
            _ => false,
        }
    }

    /// The server said the password is wrong (28P01): another password version may work.
    pub fn is_password_rejected(&self) -> bool {
        matches!(self, UpstreamError::Rejected(server) if server.code == SqlState::INVALID_PASSWORD.code())
    }

    /// What a client is told when its work could not get a server connection.
    pub fn client_error(&self, severity: Severity) -> ErrorFields {
        match self {
            UpstreamError::Rejected(server) if server.code.starts_with("28") => ErrorFields::new(
                severity,
                SqlState::SQLSERVER_REJECTED_ESTABLISHMENT_OF_SQLCONNECTION,
                format!(
                    "the database server rejected Sluice's login: {}",
                    server.message
                ),
            )
            .with_hint("check the password (or the secret) of this user in Sluice's [[users]] configuration"),
            // Database does not exist, too many connections, starting up, ...: the server's words.
            UpstreamError::Rejected(server) => ErrorFields {
                severity,
                ..server.clone()
            },
            UpstreamError::NoWriter {
                waited,
                probe_failure,
            } => ErrorFields::new(
                severity,
                SqlState::TOO_MANY_CONNECTIONS,
                format!(
                    "no writer (primary) available within connection_borrow_timeout ({}): \
                     the database is failing over or no host accepts writes{}",
                    crate::error::humanize(*waited),
                    probe_failure
                        .as_ref()
                        .map(|why| format!(" (last probe failure: {why})"))
                        .unwrap_or_default()
                ),
            )
            .with_hint("retry shortly; Sluice routes new transactions to the new primary as soon as it sees one"),
            UpstreamError::NoReader { waited } => ErrorFields::new(
                severity,
                SqlState::TOO_MANY_CONNECTIONS,
                format!(
                    "no standby available for this read-only endpoint within \
                     connection_borrow_timeout ({}): every standby is down or lags more than \
                     max_replica_lag",
                    crate::error::humanize(*waited)
                ),
            )
            .with_hint("retry shortly, or set fallback_to_writer = true on the endpoint to use the writer meanwhile"),
            UpstreamError::PoolExhausted { waited } => ErrorFields::new(
                severity,
                SqlState::TOO_MANY_CONNECTIONS,
                format!(
                    "no server connection available within connection_borrow_timeout ({})",
                    crate::error::humanize(*waited)
                ),
            ),
            other => ErrorFields::new(
                severity,
                SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                format!("Sluice could not open a server connection: {other}"),
            ),
        }
    }
}
