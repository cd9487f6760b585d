//! The validated configuration types the proxy runs on.
//!
//! Everything here has already passed validation: ranges hold, durations are
//! parsed, hosts are split. Optional durations use `None` for "disabled"
//! rather than a zero that every caller would have to remember to check.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::access::AccessRule;
use crate::host::HostPort;
use crate::secret::Secret;
use crate::secret_source::SecretSource;
use crate::tls::{ProxyTlsConfig, ServerAuth, ServerTlsMode};
use crate::tokens::{TokenAuth, TokenIssuerConfig, TokensConfig};

/// Default values, in one place so `Default` impls, validation and tests agree.
pub(crate) mod defaults {
    use super::*;

    pub const LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 6432);
    pub const MAX_CLIENT_CONNECTIONS: usize = 10_000;
    pub const IDLE_CLIENT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
    pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(15);
    pub const MAX_MESSAGE_SIZE: usize = 64 << 20;
    pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

    pub const MAX_CONNECTIONS_PERCENT: u8 = 90;
    pub const MAX_IDLE_CONNECTIONS_PERCENT: u8 = 50;
    pub const CONNECTION_BORROW_TIMEOUT: Duration = Duration::from_secs(120);
    pub const SERVER_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
    pub const SERVER_LIFETIME: Duration = Duration::from_secs(60 * 60);
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
    pub const MAX_REPLICA_LAG: Duration = Duration::from_secs(30);

    pub const MAX_FAILED_LOGINS: u32 = 20;
    pub const FAILED_LOGIN_WINDOW: Duration = Duration::from_secs(60);
    pub const SECRETS_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);
    pub const SECRETS_EXEC_TIMEOUT: Duration = Duration::from_secs(10);
    pub const SECRETS_AWS_TIMEOUT: Duration = Duration::from_secs(10);

    pub const LOG_FILTER: &str = "info";
    pub const STATS_INTERVAL: Duration = Duration::from_secs(60);
}

/// Bounds on `proxy.max_message_size`. Below 8 KiB ordinary queries would
/// fail; above 1 GiB exceeds what PostgreSQL itself accepts for a message.
pub(crate) const MIN_MESSAGE_SIZE: u64 = 8 << 10;
pub(crate) const MAX_MESSAGE_SIZE_LIMIT: u64 = 1 << 30;

/// The whole, validated configuration. Build it with
/// [`Config::from_toml_str`] or [`Config::load`].
#[derive(Debug, Clone)]
pub struct Config {
    /// `[proxy]`: the client-facing side.
    pub proxy: ProxyConfig,
    /// `[database]`: the PostgreSQL servers and the server-side pool.
    pub database: DatabaseConfig,
    /// `[[users]]`: who may log in, and with which credentials. Never empty.
    pub users: Vec<UserConfig>,
    /// `[log]`: logging output.
    pub log: LogConfig,
    /// `[[endpoints]]`: extra listeners, e.g. a read-only one that routes to standbys.
    pub endpoints: Vec<EndpointConfig>,
    /// `[secrets]`: how credentials from secret stores are kept fresh.
    pub secrets: SecretsConfig,
    /// `[[access]]`: who may try to log in, first match wins. Empty allows everyone.
    pub access: Vec<AccessRule>,
    /// `[admin]`: the admin HTTP listener and the admin console.
    pub admin: AdminConfig,
    /// `[tokens]`: Sluice's own token signing key and the clock skew allowed.
    pub tokens: TokensConfig,
    /// `[[token_issuers]]`: identity providers whose tokens log users in. May be empty.
    pub token_issuers: Vec<TokenIssuerConfig>,
}

impl Config {
    /// The user named exactly `name` (PostgreSQL user names are case-sensitive
    /// once they reach the server, so no folding here).
    pub fn user(&self, name: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.name == name)
    }
}

/// `[proxy]`: how Sluice accepts and treats client connections.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Address to accept client connections on. Default `127.0.0.1:6432`.
    pub listen: SocketAddr,
    /// Most client connections open at once; further ones are refused with
    /// `too_many_connections`. Default 10000, at least 1.
    pub max_client_connections: usize,
    /// Close a client connection that has sent nothing for this long.
    /// `None` ("0s") means never. Default 30 minutes.
    pub idle_client_timeout: Option<Duration>,
    /// When a server connection goes back to the pool. Default
    /// [`PoolMode::Transaction`].
    pub pool_mode: PoolMode,
    /// Startup and authentication must finish within this, so half-open
    /// clients cannot hold slots. Default 15s, always > 0.
    pub login_timeout: Duration,
    /// Largest protocol message accepted from either side, in bytes; bigger
    /// ones end the connection instead of being buffered. Default 64 MiB,
    /// between 8 KiB and 1 GiB.
    pub max_message_size: usize,
    /// On shutdown, how long to wait for in-flight transactions before
    /// closing connections. "0s" closes at once. Default 30s.
    pub shutdown_timeout: Duration,
    /// Runtime worker threads. `None` means one per CPU. At least 1 if set.
    pub worker_threads: Option<usize>,
    /// Named prepared statements kept per server connection in transaction mode; past this
    /// the least recently used is closed. Default 500, at least 1.
    pub max_prepared_statements: usize,
    /// Pin reasons switched off (RDS Proxy's session pinning filters): state of these kinds
    /// no longer pins the client, and may then be lost between transactions. Names from
    /// [`PIN_REASONS`]. Default none.
    pub ignore_pin_reasons: Vec<String>,
    /// Failed logins (wrong password or unknown user) allowed per client IP address within
    /// `failed_login_window`; past it, new connections from that address are refused without a
    /// password check. `None` ("0") disables the limit. Default 20.
    pub max_failed_logins: Option<u32>,
    /// The sliding window `max_failed_logins` counts over. Default 1 minute, > 0.
    pub failed_login_window: Duration,
    /// Set SO_REUSEPORT on the listeners, so a new Sluice can start on the same addresses
    /// beside the old one for a zero-downtime upgrade. Default false: a second instance on the
    /// same port by mistake is then an error, not a silent split of the traffic.
    pub so_reuseport: bool,
    /// `[proxy.tls]`: TLS for clients. `None` (no section): SSLRequest is answered 'N'.
    pub tls: Option<ProxyTlsConfig>,
}

/// The reasons a client can be pinned to its server connection (see docs/pinning.md).
pub const PIN_REASONS: [&str; 7] = [
    "temp_object",
    "advisory_lock",
    "listen",
    "cursor_with_hold",
    "load",
    "set_role",
    "unknown_session_state",
];

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: defaults::LISTEN,
            max_client_connections: defaults::MAX_CLIENT_CONNECTIONS,
            idle_client_timeout: Some(defaults::IDLE_CLIENT_TIMEOUT),
            pool_mode: PoolMode::default(),
            login_timeout: defaults::LOGIN_TIMEOUT,
            max_message_size: defaults::MAX_MESSAGE_SIZE,
            shutdown_timeout: defaults::SHUTDOWN_TIMEOUT,
            worker_threads: None,
            max_prepared_statements: 500,
            ignore_pin_reasons: Vec::new(),
            max_failed_logins: Some(defaults::MAX_FAILED_LOGINS),
            failed_login_window: defaults::FAILED_LOGIN_WINDOW,
            so_reuseport: false,
            tls: None,
        }
    }
}

/// When a server connection is returned to the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PoolMode {
    /// At the end of each transaction (`"transaction"`). The default: many
    /// clients share few server connections. Session state (`SET`, temp
    /// tables, advisory locks, `LISTEN`) does not survive between
    /// transactions.
    #[default]
    Transaction,
    /// When the client disconnects (`"session"`). Full PostgreSQL semantics,
    /// one server connection per connected client.
    Session,
}

impl PoolMode {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Transaction => "transaction",
            PoolMode::Session => "session",
        }
    }

    pub(crate) const ALL: &'static [PoolMode] = &[PoolMode::Transaction, PoolMode::Session];
}

/// `[database]`: the PostgreSQL servers and the server-side pool.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The primary and its standbys, in any order; the monitor finds the writer. Never empty.
    pub hosts: Vec<HostPort>,
    /// Share of the server's `max_connections` setting (read from the server)
    /// that Sluice may use, in percent. 1..=100, default 90, leaving room for
    /// admin and replication connections.
    pub max_connections_percent: u8,
    /// Absolute cap on server connections. When set, the effective limit is
    /// the smaller of this and `max_connections_percent`. At least 1.
    pub max_connections: Option<usize>,
    /// Share of the server's `max_connections` that may sit idle in the pool
    /// before idle ones are closed, in percent. 0..=100 and never above
    /// `max_connections_percent` (RDS Proxy's rule). Default 50.
    pub max_idle_connections_percent: u8,
    /// How long a client waits for a pooled server connection before getting
    /// an error. Default 120s, always > 0.
    pub connection_borrow_timeout: Duration,
    /// SQL run on every new server connection before first use (e.g.
    /// `SET statement_timeout = '30s'`). Empty means none. Default empty.
    pub init_query: String,
    /// Close pooled server connections unused for this long. `None` ("0s")
    /// means never. Default 10 minutes.
    pub server_idle_timeout: Option<Duration>,
    /// Retire a server connection this long after it was opened, once it is
    /// back in the pool. `None` ("0s") means keep forever. Default 1 hour.
    pub server_lifetime: Option<Duration>,
    /// TCP connect plus server authentication must finish within this.
    /// Default 5s, always > 0.
    pub connect_timeout: Duration,
    /// How often the monitor asks every host whether it is the primary (and at once when a
    /// server connection fails). Default 1s, > 0.
    pub probe_interval: Duration,
    /// A standby whose replay lag exceeds this gets no read-only traffic until it catches up.
    /// Default 30s, > 0.
    pub max_replica_lag: Duration,
    /// TLS to PostgreSQL, as libpq's sslmode. Default [`ServerTlsMode::Prefer`].
    pub tls_mode: ServerTlsMode,
    /// PEM file with the CA certificate(s) PostgreSQL's certificate must chain to. Required
    /// for verify-ca and verify-full.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// Authentication requests from PostgreSQL that Sluice answers. Default
    /// [`ServerAuth::Any`].
    pub server_auth: ServerAuth,
}

/// `[[users]]`: one login that clients may use.
#[derive(Debug, Clone)]
pub struct UserConfig {
    /// PostgreSQL user name; unique, non-empty, at most 63 bytes.
    pub name: String,
    /// Where the password Sluice logs in to PostgreSQL with (and clients must
    /// present to Sluice) comes from.
    pub credentials: CredentialSource,
    /// How clients prove they know the password. Default
    /// [`ClientAuth::ScramSha256`].
    pub client_auth: ClientAuth,
    /// Whether clients may present a signed token instead of the password. Default
    /// [`TokenAuth::Disabled`].
    pub token_auth: TokenAuth,
    /// Databases this user may connect to. Empty means any.
    pub databases: Vec<String>,
}

/// `users[].password` or `users[].secret`: exactly one of them.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// `password = "..."`, inline in the file; never changes while Sluice runs.
    Inline(Secret<String>),
    /// `secret = "file:..." | "env:..." | "exec:..." | "aws:..."`, fetched at startup and
    /// refreshed.
    Store(SecretSource),
}

/// `[secrets]`: refreshing credentials that come from secret stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsConfig {
    /// Fetch every secret again this often. `None` ("0s") means only at startup and when the
    /// database rejects a login. Default 5 minutes.
    pub refresh_interval: Option<Duration>,
    /// An `exec:` command must print its secret within this, or it is killed. Default 10s, > 0.
    pub exec_timeout: Duration,
    /// The region of AWS Secrets Manager for `aws:` secrets. `None`: the SDK's own chain
    /// (`AWS_REGION`, the profile, instance metadata).
    pub aws_region: Option<String>,
    /// Where to send Secrets Manager requests instead of the region's public endpoint (a VPC
    /// endpoint, LocalStack, moto). `None`: `AWS_ENDPOINT_URL_SECRETS_MANAGER`,
    /// `AWS_ENDPOINT_URL`, or the region's endpoint.
    pub aws_endpoint_url: Option<String>,
    /// One fetch of an `aws:` secret (credentials, every stage, retries) must finish within
    /// this. Default 10s, > 0.
    pub aws_timeout: Duration,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            refresh_interval: Some(defaults::SECRETS_REFRESH_INTERVAL),
            exec_timeout: defaults::SECRETS_EXEC_TIMEOUT,
            aws_region: None,
            aws_endpoint_url: None,
            aws_timeout: defaults::SECRETS_AWS_TIMEOUT,
        }
    }
}

impl UserConfig {
    /// Whether this user may connect to `database`.
    pub fn may_access(&self, database: &str) -> bool {
        self.databases.is_empty() || self.databases.iter().any(|d| d == database)
    }
}

/// How clients authenticate to Sluice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// SCRAM-SHA-256 (`"scram-sha-256"`): the password never crosses the wire.
    /// The default.
    #[default]
    ScramSha256,
    /// MD5 (`"md5"`): for old clients only; weaker against eavesdroppers.
    Md5,
}

impl ClientAuth {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::ScramSha256 => "scram-sha-256",
            ClientAuth::Md5 => "md5",
        }
    }

    pub(crate) const ALL: &'static [ClientAuth] = &[ClientAuth::ScramSha256, ClientAuth::Md5];
}

/// `[log]`: what Sluice logs and how.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Line format. Default [`LogFormat::Text`].
    pub format: LogFormat,
    /// `RUST_LOG`-style directives, e.g. `"info"` or `"info,sluice=debug"`.
    /// Default `"info"`.
    pub filter: String,
    /// Log a line for every client login and logout. Default true.
    pub log_connections: bool,
    /// Log a line when a client is pinned to its server connection, with the reason.
    /// Default true.
    pub log_pins: bool,
    /// Log writer elections and the loss of the writer. Default true.
    pub log_failover: bool,
    /// Log a one-line summary of the proxy's figures this often. `None` ("0s") disables it.
    /// Default 60s.
    pub stats_interval: Option<Duration>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            filter: defaults::LOG_FILTER.to_string(),
            log_connections: true,
            log_pins: true,
            log_failover: true,
            stats_interval: Some(defaults::STATS_INTERVAL),
        }
    }
}

/// `[admin]`: operating Sluice. Both parts are off unless configured.
#[derive(Debug, Clone, Default)]
pub struct AdminConfig {
    /// Address of the admin HTTP listener (`/metrics`, `/livez`, `/readyz`, `/api/...`).
    /// `None`: no admin listener. Default none.
    pub listen: Option<SocketAddr>,
    /// Names of `[[users]]` entries that may open the admin console (the virtual database
    /// `sluice`). Empty: nobody may. Default empty.
    pub users: Vec<String>,
}

impl AdminConfig {
    /// Whether `user` may use the admin console.
    pub fn is_admin(&self, user: &str) -> bool {
        self.users.iter().any(|u| u == user)
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (`"text"`). The default.
    #[default]
    Text,
    /// One JSON object per line (`"json"`), for log shippers.
    Json,
}

impl LogFormat {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }

    pub(crate) const ALL: &'static [LogFormat] = &[LogFormat::Text, LogFormat::Json];
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(PoolMode, ClientAuth, LogFormat, crate::access::AccessAction);
pub(crate) use display_as_str;

/// `[[endpoints]]`: an extra listener with its own routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Unique; appears in logs.
    pub name: String,
    pub listen: SocketAddr,
    pub role: EndpointRole,
    /// Read-only endpoints only: with no healthy standby, send transactions to the writer
    /// instead of waiting for a standby. Default false.
    pub fallback_to_writer: bool,
}

/// Where an endpoint's transactions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointRole {
    /// The writer, like the main listener (`"read-write"`).
    ReadWrite,
    /// A healthy standby, the least busy one (`"read-only"`). The default for an endpoint.
    #[default]
    ReadOnly,
}

impl EndpointRole {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointRole::ReadWrite => "read-write",
            EndpointRole::ReadOnly => "read-only",
        }
    }

    pub(crate) const ALL: &'static [EndpointRole] =
        &[EndpointRole::ReadOnly, EndpointRole::ReadWrite];
}

impl fmt::Display for EndpointRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
