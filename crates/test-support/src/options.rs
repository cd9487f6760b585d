//! Cluster configuration types and SQL / conninfo quoting helpers.

/// `pg_hba.conf` method for TCP connections (unix socket is always `trust`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HbaAuth {
    #[default]
    ScramSha256,
    Md5,
    Password,
    Trust,
}

impl HbaAuth {
    /// The method keyword in `pg_hba.conf` / `initdb --auth-host`.
    pub fn method(self) -> &'static str {
        match self {
            HbaAuth::ScramSha256 => "scram-sha-256",
            HbaAuth::Md5 => "md5",
            HbaAuth::Password => "password",
            HbaAuth::Trust => "trust",
        }
    }

    /// `password_encryption` to use: md5 hba needs md5-stored passwords,
    /// otherwise the server silently upgrades the exchange to SCRAM.
    pub(crate) fn password_encryption(self) -> &'static str {
        match self {
            HbaAuth::Md5 => "md5",
            _ => "scram-sha-256",
        }
    }
}

/// How a cluster is configured at initdb time.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// `max_connections` (default 100).
    pub max_connections: u32,
    /// Extra `postgresql.conf` lines `name = value`, written after the
    /// defaults so they win. Values are written verbatim: quote strings.
    pub settings: Vec<(String, String)>,
    /// TCP auth method (default SCRAM-SHA-256); also used for replication.
    pub auth: HbaAuth,
    /// Serve TLS with this certificate (default: no TLS).
    pub tls: Option<ClusterTls>,
}

/// TLS for a test cluster: PEM texts written into the data directory.
#[derive(Clone, Debug)]
pub struct ClusterTls {
    pub cert_pem: String,
    pub key_pem: String,
    /// Reject TCP logins without TLS (the superuser keeps plaintext, for the harness itself).
    pub tls_only: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            max_connections: 100,
            settings: Vec::new(),
            auth: HbaAuth::default(),
            tls: None,
        }
    }
}

/// `pg_ctl stop -m` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    Smart,
    Fast,
    Immediate,
}

impl StopMode {
    pub(crate) fn as_arg(self) -> &'static str {
        match self {
            StopMode::Smart => "smart",
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// Quote a libpq connection-string value when it needs it.
pub(crate) fn conn_value(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '\'', '\\', '\t', '\n']) {
        return v.to_string();
    }
    let escaped = v.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// SQL identifier in double quotes, so any role/database name works.
pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// SQL string literal (standard_conforming_strings is on by default).
pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
