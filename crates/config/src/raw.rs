//! The file as written: serde types that mirror the TOML shape.
//!
//! Every field is optional and loosely typed (integers as `i64`, durations
//! and enums as strings) so that the toml crate only rejects what is
//! structurally wrong — bad syntax, unknown keys, a string where a table
//! belongs. Range and format checks happen in `validate`, which can report
//! all of them at once instead of stopping at the first.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::secret::Secret;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawConfig {
    pub proxy: RawProxy,
    pub database: Option<RawDatabase>,
    pub users: Vec<RawUser>,
    pub log: RawLog,
    pub endpoints: Vec<RawEndpoint>,
    pub secrets: RawSecrets,
    pub access: Vec<RawAccess>,
    pub admin: RawAdmin,
    pub tokens: RawTokens,
    pub token_issuers: Vec<RawTokenIssuer>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawProxy {
    pub listen: Option<String>,
    pub max_client_connections: Option<i64>,
    pub idle_client_timeout: Option<StrOrInt>,
    pub pool_mode: Option<String>,
    pub login_timeout: Option<StrOrInt>,
    pub max_message_size: Option<StrOrInt>,
    pub shutdown_timeout: Option<StrOrInt>,
    pub worker_threads: Option<i64>,
    pub max_prepared_statements: Option<i64>,
    pub ignore_pin_reasons: Option<Vec<String>>,
    pub so_reuseport: Option<bool>,
    pub max_failed_logins: Option<i64>,
    pub failed_login_window: Option<StrOrInt>,
    pub tls: Option<RawProxyTls>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawProxyTls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub min_version: Option<String>,
    pub require_tls: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawDatabase {
    pub hosts: Option<Vec<String>>,
    pub max_connections_percent: Option<i64>,
    pub max_connections: Option<i64>,
    pub max_idle_connections_percent: Option<i64>,
    pub connection_borrow_timeout: Option<StrOrInt>,
    pub init_query: Option<String>,
    pub server_idle_timeout: Option<StrOrInt>,
    pub server_lifetime: Option<StrOrInt>,
    pub connect_timeout: Option<StrOrInt>,
    pub probe_interval: Option<StrOrInt>,
    pub max_replica_lag: Option<StrOrInt>,
    pub tls_mode: Option<String>,
    pub tls_ca_file: Option<String>,
    pub server_auth: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawUser {
    pub name: Option<String>,
    pub password: Option<Secret<String>>,
    pub secret: Option<String>,
    pub client_auth: Option<String>,
    pub token_auth: Option<String>,
    pub databases: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawEndpoint {
    pub name: Option<String>,
    pub listen: Option<String>,
    pub role: Option<String>,
    pub fallback_to_writer: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTokens {
    pub signing_key_file: Option<String>,
    pub skew: Option<StrOrInt>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTokenIssuer {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub jwks_file: Option<String>,
    pub jwks_url: Option<String>,
    pub jwks_refresh: Option<StrOrInt>,
    pub claim: Option<String>,
    pub users: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLog {
    pub format: Option<String>,
    pub filter: Option<String>,
    pub log_connections: Option<bool>,
    pub log_pins: Option<bool>,
    pub log_failover: Option<bool>,
    pub stats_interval: Option<StrOrInt>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAdmin {
    pub listen: Option<String>,
    pub users: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSecrets {
    pub refresh_interval: Option<StrOrInt>,
    pub exec_timeout: Option<StrOrInt>,
    pub aws_region: Option<String>,
    pub aws_endpoint_url: Option<String>,
    pub aws_timeout: Option<StrOrInt>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAccess {
    pub action: Option<String>,
    pub address: Option<String>,
    pub users: Vec<String>,
    pub databases: Vec<String>,
    pub methods: Vec<String>,
}

/// A string or an integer. Durations and byte sizes accept either in the
/// file so that a bare number (`login_timeout = 15`) reaches validation and
/// gets a specific message ("add a unit") rather than a generic type error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrOrInt {
    Str(String),
    Int(i64),
}

impl<'de> Deserialize<'de> for StrOrInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StrOrInt;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a string such as "30s" or "64MiB", or an integer"#)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StrOrInt, E> {
                Ok(StrOrInt::Int(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StrOrInt, E> {
                i64::try_from(v)
                    .map(StrOrInt::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrOrInt, E> {
                Ok(StrOrInt::Str(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
