//! TLS settings: `[proxy.tls]` (clients to Sluice) and the `tls_*` / `server_auth` keys of
//! `[database]` (Sluice to PostgreSQL). Only paths live here; the files are read when the
//! proxy starts (and on SIGHUP for the client-facing certificate).

use std::fmt;
use std::path::PathBuf;

/// `[proxy.tls]`: the certificate Sluice shows clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTlsConfig {
    /// PEM file with the server certificate, followed by any intermediates.
    pub cert_file: PathBuf,
    /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// Oldest TLS version accepted from clients. Default [`TlsVersion::Tls12`].
    pub min_version: TlsVersion,
    /// Refuse clients that do not use TLS (FATAL 28000 before authentication). Default false.
    pub require_tls: bool,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersion {
    /// TLS 1.2 (`"1.2"`). The default minimum.
    #[default]
    Tls12,
    /// TLS 1.3 (`"1.3"`).
    Tls13,
}

impl TlsVersion {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }

    pub(crate) const ALL: &'static [TlsVersion] = &[TlsVersion::Tls12, TlsVersion::Tls13];
}

/// `[database] tls_mode`: libpq's `sslmode`, for Sluice's connections to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerTlsMode {
    /// Never ask for TLS (`"disable"`).
    Disable,
    /// Ask for TLS, fall back to plaintext if the server declines (`"prefer"`). The default,
    /// as in libpq. The certificate is not verified.
    #[default]
    Prefer,
    /// TLS or no connection, certificate not verified (`"require"`).
    Require,
    /// TLS, and the certificate must chain to `tls_ca_file`; host name not checked
    /// (`"verify-ca"`).
    VerifyCa,
    /// TLS, chain to `tls_ca_file`, and the certificate must name the host (`"verify-full"`).
    VerifyFull,
}

impl ServerTlsMode {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerTlsMode::Disable => "disable",
            ServerTlsMode::Prefer => "prefer",
            ServerTlsMode::Require => "require",
            ServerTlsMode::VerifyCa => "verify-ca",
            ServerTlsMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the server's certificate is checked against `tls_ca_file`.
    pub fn verifies(self) -> bool {
        matches!(self, ServerTlsMode::VerifyCa | ServerTlsMode::VerifyFull)
    }

    pub(crate) const ALL: &'static [ServerTlsMode] = &[
        ServerTlsMode::Disable,
        ServerTlsMode::Prefer,
        ServerTlsMode::Require,
        ServerTlsMode::VerifyCa,
        ServerTlsMode::VerifyFull,
    ];
}

/// `[database] server_auth`: which authentication requests from PostgreSQL Sluice answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerAuth {
    /// SCRAM-SHA-256, md5, or a cleartext password (`"any"`); cleartext only over TLS, so
    /// the password never crosses the network readable. The default.
    #[default]
    Any,
    /// SCRAM-SHA-256 (with channel binding when the link is TLS) only (`"scram-sha-256"`).
    ScramSha256,
}

impl ServerAuth {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerAuth::Any => "any",
            ServerAuth::ScramSha256 => "scram-sha-256",
        }
    }

    pub(crate) const ALL: &'static [ServerAuth] = &[ServerAuth::Any, ServerAuth::ScramSha256];
}

crate::model::display_as_str!(TlsVersion, ServerTlsMode, ServerAuth);
