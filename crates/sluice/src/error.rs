//! Every way a client session can end or fail, and the one place that decides what the client
//! sees for each (DESIGN.md, "Errors").

use std::time::Duration;

use pgwire::{ErrorFields, ProtocolError, Severity, SqlState};

use crate::clients::KillReason;
use crate::tokens::TokenRefusal;
use crate::upstream::UpstreamError;

/// Which side a failure came from; decides whether the client can be told anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
    Proxy,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("client protocol violation: {0}")]
    ClientProtocol(#[from] ProtocolError),
    #[error("client connection failed: {0}")]
    ClientIo(#[source] std::io::Error),
    #[error("client closed the connection")]
    ClientGone,
    #[error("authentication failed for user {user:?}: {reason}")]
    AuthFailed { user: String, reason: &'static str },
    /// A token user over plaintext: the token would cross the network readable.
    #[error("user {user:?} logs in with a token, which needs TLS")]
    TokenNeedsTls { user: String },
    /// A token user on plaintext whose password was wrong; it may have been a token.
    #[error("authentication failed for user {user:?}: wrong password (tokens need TLS)")]
    PasswordFailedTokenNeedsTls { user: String },
    #[error("token authentication failed for user {user:?}: {refusal}")]
    TokenRefused { user: String, refusal: TokenRefusal },
    #[error("user {user:?} may not connect to database {database:?}")]
    DatabaseNotAllowed { user: String, database: String },
    #[error("access rules reject host {address}, user {user:?}, database {database:?}")]
    AccessRejected {
        address: std::net::IpAddr,
        user: String,
        database: String,
    },
    #[error("too many failed logins from {address}")]
    TooManyFailedLogins {
        address: std::net::IpAddr,
        retry_after: Duration,
    },
    #[error("startup packet has no user name")]
    NoUser,
    /// require_tls is on and the client sent its startup message in plaintext.
    #[error("client did not use TLS, and require_tls is on")]
    TlsRequired,
    /// Bytes arrived after SSLRequest before the handshake: they could be read as part of the
    /// encrypted session by mistake (CVE-2021-23214, CVE-2021-3935), so the connection is refused.
    #[error("client sent data after SSLRequest before the TLS handshake")]
    DataAfterSslRequest,
    /// SSLRequest on a connection that is already encrypted.
    #[error("client sent SSLRequest inside TLS")]
    SslRequestInsideTls,
    #[error("TLS handshake with the client failed: {0}")]
    TlsHandshake(#[source] std::io::Error),
    #[error("login did not finish within {0:?}")]
    LoginTimeout(Duration),
    #[error("too many client connections (max_client_connections = {0})")]
    TooManyClients(usize),
    #[error("client idle for longer than idle_client_timeout ({0:?})")]
    IdleTimeout(Duration),
    #[error("shutting down")]
    Shutdown,
    #[error("{}", kill_text(*.0))]
    Killed(KillReason),
    /// Killed while the client's transaction ran. The relay first finished the message it was
    /// forwarding (`at_boundary`) so a FATAL can follow; if it could not, the connection
    /// closes without one rather than corrupt a reply.
    #[error("{} during a transaction", kill_text(*.reason))]
    KilledInTransaction {
        reason: KillReason,
        at_boundary: bool,
    },
    #[error("user {user:?} may not use the admin console")]
    NotAdmin { user: String },
    /// The server closed or failed under a running transaction or query. `fatal_forwarded`
    /// is true when the server's own FATAL already reached the client.
    #[error("server connection lost: {cause}")]
    ServerLost {
        cause: String,
        fatal_forwarded: bool,
    },
    /// The server was lost after a COMMIT was sent and before it answered.
    #[error("server connection lost during COMMIT: {cause}")]
    CommitUnknown { cause: String },
    /// Could not set up a server connection at login (bad database, server down, ...).
    #[error("could not open a server connection: {0}")]
    Upstream(#[from] UpstreamError),
}

impl SessionError {
    pub fn side(&self) -> Side {
        match self {
            SessionError::ClientProtocol(_)
            | SessionError::ClientIo(_)
            | SessionError::ClientGone
            | SessionError::AuthFailed { .. }
            | SessionError::TokenNeedsTls { .. }
            | SessionError::PasswordFailedTokenNeedsTls { .. }
            | SessionError::TokenRefused { .. }
            | SessionError::DatabaseNotAllowed { .. }
            | SessionError::AccessRejected { .. }
            | SessionError::TooManyFailedLogins { .. }
            | SessionError::NoUser
            | SessionError::TlsRequired
            | SessionError::DataAfterSslRequest
            | SessionError::SslRequestInsideTls
            | SessionError::TlsHandshake(_)
            | SessionError::NotAdmin { .. }
            | SessionError::LoginTimeout(_)
            | SessionError::IdleTimeout(_) => Side::Client,
            SessionError::ServerLost { .. }
            | SessionError::CommitUnknown { .. }
            | SessionError::Upstream(_) => Side::Server,
            SessionError::TooManyClients(_)
            | SessionError::Shutdown
            | SessionError::Killed(_)
            | SessionError::KilledInTransaction { .. } => Side::Proxy,
        }
    }

    /// The FATAL the client gets before its connection closes, if it can still hear one.
    pub fn client_fatal(&self) -> Option<ErrorFields> {
        let fatal = |code, msg: String| Some(ErrorFields::new(Severity::Fatal, code, msg));
        match self {
            // A failed handshake leaves no channel to send anything on.
            SessionError::ClientIo(_)
            | SessionError::ClientGone
            | SessionError::TlsHandshake(_)
            | SessionError::KilledInTransaction {
                at_boundary: false,
                ..
            } => None,
            SessionError::ClientProtocol(e) => fatal(SqlState::PROTOCOL_VIOLATION, e.to_string()),
            // Same text for unknown users and wrong passwords, as PostgreSQL does.
            SessionError::AuthFailed { user, .. } => fatal(
                SqlState::INVALID_PASSWORD,
                format!("password authentication failed for user \"{user}\""),
            ),
            SessionError::TokenNeedsTls { user } => Some(
                ErrorFields::new(
                    Severity::Fatal,
                    SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                    format!("token authentication for user \"{user}\" requires TLS"),
                )
                .with_hint("connect with sslmode=require (or stronger)"),
            ),
            SessionError::PasswordFailedTokenNeedsTls { user } => Some(
                ErrorFields::new(
                    Severity::Fatal,
                    SqlState::INVALID_PASSWORD,
                    format!("password authentication failed for user \"{user}\""),
                )
                .with_hint(
                    "this user may log in with a token, but only over TLS: connect with \
                     sslmode=require",
                ),
            ),
            SessionError::TokenRefused { user, refusal } => fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                format!("token authentication failed for user \"{user}\": {refusal}"),
            ),
            SessionError::DatabaseNotAllowed { user, database } => fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                format!("user \"{user}\" is not allowed to connect to database \"{database}\""),
            ),
            // The same words whether or not the user exists: rules match names, not users.
            SessionError::AccessRejected {
                address,
                user,
                database,
            } => fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                format!(
                    "access rules reject connection for host \"{address}\", user \"{user}\", database \"{database}\""
                ),
            ),
            SessionError::TooManyFailedLogins {
                address,
                retry_after,
            } => fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                format!(
                    "too many failed logins from {address}; try again in {}s",
                    retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)
                ),
            ),
            SessionError::NoUser => fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                "no PostgreSQL user name specified in startup packet".into(),
            ),
            SessionError::TlsRequired => Some(
                ErrorFields::new(
                    Severity::Fatal,
                    SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                    "TLS is required: this Sluice accepts only encrypted connections \
                     (require_tls)",
                )
                .with_hint("connect with sslmode=require (or stronger)"),
            ),
            SessionError::DataAfterSslRequest => fatal(
                SqlState::PROTOCOL_VIOLATION,
                "received unencrypted data after SSL request".into(),
            ),
            SessionError::SslRequestInsideTls => fatal(
                SqlState::PROTOCOL_VIOLATION,
                "SSLRequest received on an encrypted connection".into(),
            ),
            SessionError::LoginTimeout(_) => fatal(
                SqlState::PROTOCOL_VIOLATION,
                "canceling authentication due to timeout".into(),
            ),
            SessionError::TooManyClients(max) => fatal(
                SqlState::TOO_MANY_CONNECTIONS,
                format!("sorry, too many clients already (max_client_connections = {max})"),
            ),
            SessionError::IdleTimeout(t) => fatal(
                SqlState::IDLE_SESSION_TIMEOUT,
                format!(
                    "terminating connection due to idle timeout (idle_client_timeout = {})",
                    humanize(*t)
                ),
            ),
            SessionError::Shutdown => fatal(
                SqlState::ADMIN_SHUTDOWN,
                "terminating connection because Sluice is shutting down".into(),
            ),
            SessionError::Killed(reason)
            | SessionError::KilledInTransaction { reason, .. } => {
                fatal(SqlState::ADMIN_SHUTDOWN, kill_fatal_text(*reason).into())
            }
            SessionError::NotAdmin { user } => Some(
                ErrorFields::new(
                    Severity::Fatal,
                    SqlState::INSUFFICIENT_PRIVILEGE,
                    format!("user \"{user}\" may not use the Sluice admin console"),
                )
                .with_hint("list the user in [admin] users to allow it"),
            ),
            SessionError::ServerLost {
                fatal_forwarded: true,
                ..
            } => None,
            SessionError::ServerLost { cause, .. } => fatal(
                SqlState::CONNECTION_FAILURE,
                format!("server connection lost: {cause}"),
            ),
            SessionError::CommitUnknown { cause } => Some(
                ErrorFields::new(
                    Severity::Fatal,
                    SqlState::TRANSACTION_RESOLUTION_UNKNOWN,
                    format!(
                        "server connection lost during COMMIT; its outcome is unknown: {cause}"
                    ),
                )
                .with_hint(
                    "check whether the transaction's changes are present before retrying it",
                ),
            ),
            SessionError::Upstream(e) => Some(e.client_error(Severity::Fatal)),
        }
    }
}

/// "120s" rather than "120s 0ms"; durations in messages read like the config.
pub fn humanize(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

fn kill_text(reason: KillReason) -> &'static str {
    match reason {
        KillReason::Admin => "disconnected by KILL_CLIENT",
        KillReason::ShutdownTimeout => "disconnected at shutdown_timeout",
    }
}

fn kill_fatal_text(reason: KillReason) -> &'static str {
    match reason {
        KillReason::Admin => "terminating connection due to administrator command (KILL_CLIENT)",
        KillReason::ShutdownTimeout => {
            "terminating connection because Sluice is shutting down and shutdown_timeout ran out"
        }
    }
}
