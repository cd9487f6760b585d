//! Raw (as written) → [`Config`] (as used), collecting every problem.
//!
//! Each field is checked independently; a bad value is recorded as a
//! [`Problem`] and validation carries on, so one run of `sluice check`
//! shows everything wrong with a file instead of one mistake per run.

use std::fmt::Display;
use std::net::SocketAddr;
use std::time::Duration;

use crate::access::{self, AccessAction, AccessRule, AddressMatch};
use crate::error::{ConfigError, Problem};
use crate::model::{
    defaults, AdminConfig, ClientAuth, Config, CredentialSource, DatabaseConfig, EndpointConfig,
    EndpointRole, LogConfig, LogFormat, PoolMode, ProxyConfig, SecretsConfig, UserConfig,
    MAX_MESSAGE_SIZE_LIMIT, MIN_MESSAGE_SIZE,
};
use crate::raw::{
    RawAccess, RawAdmin, RawConfig, RawDatabase, RawEndpoint, RawLog, RawProxy, RawProxyTls,
    RawSecrets, RawUser, StrOrInt,
};
use crate::secret::Secret;
use crate::tls::{ProxyTlsConfig, ServerAuth, ServerTlsMode, TlsVersion};
use crate::tokens::TokenAuth;
use crate::{bytes, duration, host, secret_source};

/// PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; a longer user
/// or database name here would silently name something else on the server.
const MAX_IDENT_BYTES: usize = 63;

pub(crate) fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let mut c = Checker::default();
    let proxy = c.proxy(raw.proxy);
    let database = c.database(raw.database);
    let users = c.users(raw.users);
    let log = c.log(raw.log);
    let endpoints = c.endpoints(raw.endpoints, proxy.listen);
    let secrets = c.secrets(raw.secrets);
    let access = c.access(raw.access);
    let admin = c.admin(raw.admin, &users, proxy.listen);
    // From the raw file: a broken issuer table is reported on its own, not again here.
    let tokens_configured = raw.tokens.signing_key_file.is_some() || !raw.token_issuers.is_empty();
    c.token_users(&users, tokens_configured);
    let tokens = c.tokens(raw.tokens);
    let token_issuers = c.token_issuers(raw.token_issuers, &users);
    if c.problems.is_empty() {
        Ok(Config {
            proxy,
            database,
            users,
            log,
            endpoints,
            secrets,
            access,
            admin,
            tokens,
            token_issuers,
        })
    } else {
        Err(ConfigError {
            problems: c.problems,
        })
    }
}

#[derive(Default)]
pub(crate) struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    pub(crate) fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    /// `default` when absent, the parsed value when valid, `None` (and a
    /// recorded problem) when invalid.
    pub(crate) fn field<R, T>(
        &mut self,
        path: &str,
        raw: Option<R>,
        default: T,
        parse: impl FnOnce(R) -> Result<T, String>,
    ) -> Option<T> {
        match raw.map(parse) {
            None => Some(default),
            Some(Ok(v)) => Some(v),
            Some(Err(msg)) => {
                self.problem(path, msg);
                None
            }
        }
    }

    fn proxy(&mut self, raw: RawProxy) -> ProxyConfig {
        let d = ProxyConfig::default();
        let max_message_size = self.field(
            "proxy.max_message_size",
            raw.max_message_size,
            d.max_message_size,
            message_size,
        );
        ProxyConfig {
            listen: self
                .field("proxy.listen", raw.listen, d.listen, |s| listen_addr(&s))
                .unwrap_or(d.listen),
            max_client_connections: self
                .field(
                    "proxy.max_client_connections",
                    raw.max_client_connections,
                    d.max_client_connections,
                    |v| int_in(v, 1, None),
                )
                .unwrap_or(d.max_client_connections),
            idle_client_timeout: self
                .field(
                    "proxy.idle_client_timeout",
                    raw.idle_client_timeout,
                    d.idle_client_timeout,
                    optional_duration,
                )
                .unwrap_or(d.idle_client_timeout),
            pool_mode: self
                .field("proxy.pool_mode", raw.pool_mode, d.pool_mode, |s| {
                    one_of(&s, PoolMode::ALL)
                })
                .unwrap_or(d.pool_mode),
            login_timeout: self
                .field(
                    "proxy.login_timeout",
                    raw.login_timeout,
                    d.login_timeout,
                    positive_duration,
                )
                .unwrap_or(d.login_timeout),
            max_message_size: max_message_size.unwrap_or(d.max_message_size),
            shutdown_timeout: self
                .field(
                    "proxy.shutdown_timeout",
                    raw.shutdown_timeout,
                    d.shutdown_timeout,
                    any_duration,
                )
                .unwrap_or(d.shutdown_timeout),
            worker_threads: self
                .field("proxy.worker_threads", raw.worker_threads, None, |v| {
                    int_in(v, 1, None).map(Some)
                })
                .flatten(),
            max_prepared_statements: self
                .field(
                    "proxy.max_prepared_statements",
                    raw.max_prepared_statements,
                    d.max_prepared_statements,
                    |v| int_in(v, 1, None),
                )
                .unwrap_or(d.max_prepared_statements),
            ignore_pin_reasons: self
                .field(
                    "proxy.ignore_pin_reasons",
                    raw.ignore_pin_reasons,
                    Vec::new(),
                    pin_reasons,
                )
                .unwrap_or_default(),
            max_failed_logins: self
                .field(
                    "proxy.max_failed_logins",
                    raw.max_failed_logins,
                    d.max_failed_logins,
                    |v| int_in::<u32>(v, 0, None).map(|n| (n > 0).then_some(n)),
                )
                .unwrap_or(d.max_failed_logins),
            failed_login_window: self
                .field(
                    "proxy.failed_login_window",
                    raw.failed_login_window,
                    d.failed_login_window,
                    positive_duration,
                )
                .unwrap_or(d.failed_login_window),
            so_reuseport: raw.so_reuseport.unwrap_or(d.so_reuseport),
            tls: raw.tls.and_then(|t| self.proxy_tls(t)),
        }
    }

    /// `[proxy.tls]`: both files are required once the section is there.
    fn proxy_tls(&mut self, raw: RawProxyTls) -> Option<ProxyTlsConfig> {
        let cert_file = self.path(
            "proxy.tls.cert_file",
            raw.cert_file,
            "the PEM certificate chain",
        );
        let key_file = self.path("proxy.tls.key_file", raw.key_file, "the PEM private key");
        let min_version = self
            .field(
                "proxy.tls.min_version",
                raw.min_version,
                TlsVersion::default(),
                |s| one_of(&s, TlsVersion::ALL),
            )
            .unwrap_or_default();
        Some(ProxyTlsConfig {
            cert_file: cert_file?,
            key_file: key_file?,
            min_version,
            require_tls: raw.require_tls.unwrap_or(false),
        })
    }

    /// A required, non-empty file path.
    pub(crate) fn path(
        &mut self,
        key: &str,
        raw: Option<String>,
        what: &str,
    ) -> Option<std::path::PathBuf> {
        match raw {
            Some(p) if !p.trim().is_empty() => Some(p.into()),
            Some(_) => {
                self.problem(key, "must not be empty");
                None
            }
            None => {
                self.problem(key, format!("required: the path of {what}"));
                None
            }
        }
    }

    /// `[database] tls_mode`, `tls_ca_file`: verify-* need a CA to verify against.
    fn server_tls(
        &mut self,
        mode: Option<String>,
        ca_file: Option<String>,
    ) -> (ServerTlsMode, Option<std::path::PathBuf>) {
        let mode = self
            .field("database.tls_mode", mode, ServerTlsMode::default(), |s| {
                one_of(&s, ServerTlsMode::ALL)
            })
            .unwrap_or_default();
        let ca_file = match ca_file {
            Some(p) if p.trim().is_empty() => {
                self.problem("database.tls_ca_file", "must not be empty");
                None
            }
            other => other.map(std::path::PathBuf::from),
        };
        if mode.verifies() && ca_file.is_none() {
            self.problem(
                "database.tls_ca_file",
                format!(
                    "required when tls_mode is \"{mode}\": the PEM file of the CA that signed \
                     PostgreSQL's certificate"
                ),
            );
        }
        (mode, ca_file)
    }

    fn database(&mut self, raw: Option<RawDatabase>) -> DatabaseConfig {
        let raw = raw.unwrap_or_default();
        let hosts = match raw.hosts {
            None => {
                self.problem(
                    "database.hosts",
                    r#"required: list the PostgreSQL server(s) in [database], e.g. hosts = ["127.0.0.1:5432"]"#,
                );
                Vec::new()
            }
            Some(list) if list.is_empty() => {
                self.problem("database.hosts", "must list at least one server");
                Vec::new()
            }
            Some(list) => list
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    host::parse(s)
                        .map_err(|m| self.problem(format!("database.hosts[{i}]"), m))
                        .ok()
                })
                .collect(),
        };

        let max_pct = self.field(
            "database.max_connections_percent",
            raw.max_connections_percent,
            defaults::MAX_CONNECTIONS_PERCENT,
            |v| int_in(v, 1, Some(100)),
        );
        let idle_pct = self.field(
            "database.max_idle_connections_percent",
            raw.max_idle_connections_percent,
            defaults::MAX_IDLE_CONNECTIONS_PERCENT,
            |v| int_in(v, 0, Some(100)),
        );
        // Only compare two values that are each valid; otherwise the user
        // would get a second, confusing message about the same mistake.
        if let (Some(max), Some(idle)) = (max_pct, idle_pct) {
            if idle > max {
                self.problem(
                    "database.max_idle_connections_percent",
                    format!("must not exceed max_connections_percent ({max}), got {idle}"),
                );
            }
        }

        let (tls_mode, tls_ca_file) = self.server_tls(raw.tls_mode, raw.tls_ca_file);
        let server_auth = self
            .field(
                "database.server_auth",
                raw.server_auth,
                ServerAuth::default(),
                |s| one_of(&s, ServerAuth::ALL),
            )
            .unwrap_or_default();
        DatabaseConfig {
            tls_mode,
            tls_ca_file,
            server_auth,
            hosts,
            max_connections_percent: max_pct.unwrap_or(defaults::MAX_CONNECTIONS_PERCENT),
            max_connections: self
                .field("database.max_connections", raw.max_connections, None, |v| {
                    int_in(v, 1, None).map(Some)
                })
                .flatten(),
            max_idle_connections_percent: idle_pct
                .unwrap_or(defaults::MAX_IDLE_CONNECTIONS_PERCENT),
            connection_borrow_timeout: self
                .field(
                    "database.connection_borrow_timeout",
                    raw.connection_borrow_timeout,
                    defaults::CONNECTION_BORROW_TIMEOUT,
                    positive_duration,
                )
                .unwrap_or(defaults::CONNECTION_BORROW_TIMEOUT),
            init_query: raw.init_query.unwrap_or_default(),
            server_idle_timeout: self
                .field(
                    "database.server_idle_timeout",
                    raw.server_idle_timeout,
                    Some(defaults::SERVER_IDLE_TIMEOUT),
                    optional_duration,
                )
                .flatten(),
            server_lifetime: self
                .field(
                    "database.server_lifetime",
                    raw.server_lifetime,
                    Some(defaults::SERVER_LIFETIME),
                    optional_duration,
                )
                .flatten(),
            connect_timeout: self
                .field(
                    "database.connect_timeout",
                    raw.connect_timeout,
                    defaults::CONNECT_TIMEOUT,
                    positive_duration,
                )
                .unwrap_or(defaults::CONNECT_TIMEOUT),
            probe_interval: self
                .field(
                    "database.probe_interval",
                    raw.probe_interval,
                    defaults::PROBE_INTERVAL,
                    positive_duration,
                )
                .unwrap_or(defaults::PROBE_INTERVAL),
            max_replica_lag: self
                .field(
                    "database.max_replica_lag",
                    raw.max_replica_lag,
                    defaults::MAX_REPLICA_LAG,
                    positive_duration,
                )
                .unwrap_or(defaults::MAX_REPLICA_LAG),
        }
    }

    fn endpoints(&mut self, raw: Vec<RawEndpoint>, main: SocketAddr) -> Vec<EndpointConfig> {
        let mut endpoints: Vec<EndpointConfig> = Vec::with_capacity(raw.len());
        for (i, e) in raw.into_iter().enumerate() {
            let at = |key: &str| format!("endpoints[{i}].{key}");
            let name = e.name.unwrap_or_default();
            if name.is_empty() {
                self.problem(at("name"), "required: a name for logs, e.g. \"reader\"");
            } else if endpoints.iter().any(|prev| prev.name == name) {
                self.problem(at("name"), format!(r#"duplicate endpoint name "{name}""#));
            }
            let listen = match e.listen {
                None => {
                    self.problem(at("listen"), r#"required, e.g. "127.0.0.1:6433""#);
                    None
                }
                Some(s) => self.field(&at("listen"), Some(s), main, |s| listen_addr(&s)),
            };
            if let Some(addr) = listen {
                let taken = addr == main || endpoints.iter().any(|prev| prev.listen == addr);
                if taken && addr.port() != 0 {
                    self.problem(
                        at("listen"),
                        format!("{addr} is already used by proxy.listen or another endpoint"),
                    );
                }
            }
            let role = self
                .field(&at("role"), e.role, EndpointRole::default(), |s| {
                    one_of(&s, EndpointRole::ALL)
                })
                .unwrap_or_default();
            let fallback_to_writer = e.fallback_to_writer.unwrap_or(false);
            if fallback_to_writer && role == EndpointRole::ReadWrite {
                self.problem(
                    at("fallback_to_writer"),
                    r#"only applies to role = "read-only""#,
                );
            }
            endpoints.push(EndpointConfig {
                name,
                listen: listen.unwrap_or(main),
                role,
                fallback_to_writer,
            });
        }
        endpoints
    }

    fn users(&mut self, raw: Vec<RawUser>) -> Vec<UserConfig> {
        if raw.is_empty() {
            self.problem(
                "users",
                "at least one user is required: add a [[users]] table with name and password",
            );
        }
        let mut users: Vec<UserConfig> = Vec::with_capacity(raw.len());
        for (i, u) in raw.into_iter().enumerate() {
            let at = |key: &str| format!("users[{i}].{key}");

            let name = match u.name {
                None => {
                    self.problem(at("name"), "required");
                    String::new()
                }
                Some(n) => {
                    if let Err(m) = identifier(&n) {
                        self.problem(at("name"), m);
                    } else if let Some(j) = users.iter().position(|prev| prev.name == n) {
                        self.problem(
                            at("name"),
                            format!(r#"duplicate user "{n}" (already defined at users[{j}])"#),
                        );
                    }
                    n
                }
            };

            let credentials = self.credentials(&at, u.password, u.secret);

            let token_auth = self
                .field(&at("token_auth"), u.token_auth, TokenAuth::default(), |s| {
                    one_of(&s, TokenAuth::ALL)
                })
                .unwrap_or_default();

            let client_auth = self
                .field(
                    &at("client_auth"),
                    u.client_auth,
                    ClientAuth::default(),
                    |s| one_of(&s, ClientAuth::ALL),
                )
                .unwrap_or_default();

            for (j, db) in u.databases.iter().enumerate() {
                if let Err(m) = identifier(db) {
                    self.problem(at(&format!("databases[{j}]")), m);
                }
            }

            users.push(UserConfig {
                name,
                credentials,
                client_auth,
                token_auth,
                databases: u.databases,
            });
        }
        users
    }

    /// Exactly one of `password` (inline) and `secret` (a store).
    fn credentials(
        &mut self,
        at: &dyn Fn(&str) -> String,
        password: Option<Secret<String>>,
        secret: Option<String>,
    ) -> CredentialSource {
        let placeholder = || CredentialSource::Inline(Secret::new(String::new()));
        match (password, secret) {
            (Some(_), Some(_)) => {
                self.problem(
                    at("secret"),
                    "set either password or secret, not both: secret replaces the inline password",
                );
                placeholder()
            }
            (None, None) => {
                self.problem(
                    at("password"),
                    r#"required: set password = "..." or secret = "file:...", "env:...", "exec:..." or "aws:...""#,
                );
                placeholder()
            }
            (Some(p), None) => {
                if let Err(m) = password_value(p.expose()) {
                    self.problem(at("password"), m);
                }
                CredentialSource::Inline(p)
            }
            (None, Some(s)) => match secret_source::parse(&s) {
                Ok(source) => CredentialSource::Store(source),
                Err(m) => {
                    self.problem(at("secret"), m);
                    placeholder()
                }
            },
        }
    }

    fn secrets(&mut self, raw: RawSecrets) -> SecretsConfig {
        let d = SecretsConfig::default();
        SecretsConfig {
            refresh_interval: self
                .field(
                    "secrets.refresh_interval",
                    raw.refresh_interval,
                    d.refresh_interval,
                    optional_duration,
                )
                .unwrap_or(d.refresh_interval),
            exec_timeout: self
                .field(
                    "secrets.exec_timeout",
                    raw.exec_timeout,
                    d.exec_timeout,
                    positive_duration,
                )
                .unwrap_or(d.exec_timeout),
            aws_region: self
                .field("secrets.aws_region", raw.aws_region, None, |s| {
                    aws_region(s).map(Some)
                })
                .flatten(),
            aws_endpoint_url: self
                .field(
                    "secrets.aws_endpoint_url",
                    raw.aws_endpoint_url,
                    None,
                    |s| endpoint_url(s).map(Some),
                )
                .flatten(),
            aws_timeout: self
                .field(
                    "secrets.aws_timeout",
                    raw.aws_timeout,
                    d.aws_timeout,
                    positive_duration,
                )
                .unwrap_or(d.aws_timeout),
        }
    }

    fn access(&mut self, raw: Vec<RawAccess>) -> Vec<AccessRule> {
        let mut rules = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let at = |key: &str| format!("access[{i}].{key}");
            let action = match r.action {
                None => {
                    self.problem(at("action"), r#"required: "allow" or "reject""#);
                    None
                }
                Some(a) => self.field(&at("action"), Some(a), AccessAction::Allow, |s| {
                    one_of(&s, AccessAction::ALL)
                }),
            };
            let address = self
                .field(&at("address"), r.address, AddressMatch::All, |s| {
                    access::parse_address(s.trim())
                })
                .unwrap_or(AddressMatch::All);
            for (j, name) in r.users.iter().chain(&r.databases).enumerate() {
                let key = match j < r.users.len() {
                    true => format!("users[{j}]"),
                    false => format!("databases[{}]", j - r.users.len()),
                };
                if let Err(m) = identifier(name) {
                    self.problem(at(&key), m);
                }
            }
            let methods = r
                .methods
                .iter()
                .enumerate()
                .filter_map(|(j, m)| {
                    one_of(m, ClientAuth::ALL)
                        .map_err(|msg| self.problem(at(&format!("methods[{j}]")), msg))
                        .ok()
                })
                .collect();
            rules.push(AccessRule {
                action: action.unwrap_or(AccessAction::Reject),
                address,
                users: r.users,
                databases: r.databases,
                methods,
            });
        }
        rules
    }

    fn log(&mut self, raw: RawLog) -> LogConfig {
        let d = LogConfig::default();
        LogConfig {
            format: self
                .field("log.format", raw.format, d.format, |s| {
                    one_of(&s, LogFormat::ALL)
                })
                .unwrap_or(d.format),
            filter: self
                .field("log.filter", raw.filter, d.filter.clone(), log_filter)
                .unwrap_or(d.filter),
            log_connections: raw.log_connections.unwrap_or(d.log_connections),
            log_pins: raw.log_pins.unwrap_or(d.log_pins),
            log_failover: raw.log_failover.unwrap_or(d.log_failover),
            stats_interval: self
                .field(
                    "log.stats_interval",
                    raw.stats_interval,
                    d.stats_interval,
                    optional_duration,
                )
                .unwrap_or(d.stats_interval),
        }
    }

    /// Admin users must be configured users (the console logs them in with their password);
    /// the admin listener must not take the client listener's address.
    fn admin(
        &mut self,
        raw: RawAdmin,
        users: &[UserConfig],
        proxy_listen: SocketAddr,
    ) -> AdminConfig {
        let listen = self
            .field("admin.listen", raw.listen, None, |s| {
                listen_addr(&s).map(Some)
            })
            .flatten();
        if listen.is_some_and(|a| a == proxy_listen && a.port() != 0) {
            self.problem(
                "admin.listen",
                format!("{proxy_listen} is already proxy.listen: pick another port"),
            );
        }
        let names = raw.users.unwrap_or_default();
        for (i, name) in names.iter().enumerate() {
            if !users.iter().any(|u| &u.name == name) {
                self.problem(
                    format!("admin.users[{i}]"),
                    format!(r#"no [[users]] entry named "{name}": admin users log in with a configured user's password"#),
                );
            } else if names[..i].contains(name) {
                self.problem(
                    format!("admin.users[{i}]"),
                    format!(r#"duplicate admin user "{name}""#),
                );
            }
        }
        AdminConfig {
            listen,
            users: names,
        }
    }
}

/// What PostgreSQL can take as a password. Shared with secrets fetched at run time.
pub fn password_value(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        Err("must not be empty")
    } else if p.contains('\0') {
        Err("must not contain NUL characters")
    } else {
        Ok(())
    }
}

/// An AWS region code such as `eu-west-1`: a typo here would otherwise surface as an endpoint
/// that does not resolve.
fn aws_region(s: String) -> Result<String, String> {
    let valid = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    match valid {
        true => Ok(s),
        false => Err(format!(
            r#"invalid region "{s}": expected a region code such as "eu-west-1""#
        )),
    }
}

/// `http://` or `https://` and a host; the SDK checks the rest when it builds the client.
fn endpoint_url(s: String) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty() && !host.starts_with('/') && !s.contains(char::is_whitespace) =>
        {
            Ok(s)
        }
        _ => Err(format!(
            r#"invalid URL "{s}": expected "https://HOST[:PORT]", e.g. "https://secretsmanager.eu-west-1.amazonaws.com""#
        )),
    }
}

fn pin_reasons(names: Vec<String>) -> Result<Vec<String>, String> {
    match names
        .iter()
        .find(|n| !crate::model::PIN_REASONS.contains(&n.as_str()))
    {
        Some(bad) => Err(format!(
            "unknown pin reason \"{bad}\": expected one of {}",
            crate::model::PIN_REASONS.join(", ")
        )),
        None => Ok(names),
    }
}

fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        format!(
            r#"invalid address "{s}": expected "ip:port", e.g. "127.0.0.1:6432" or "[::]:6432""#
        )
    })
}

/// An integer in `min..=max` (no upper bound when `max` is `None`) that also
/// fits the target type.
fn int_in<T: TryFrom<i64>>(v: i64, min: i64, max: Option<i64>) -> Result<T, String> {
    let in_range = v >= min && !matches!(max, Some(m) if v > m);
    match (in_range, max) {
        (true, _) => T::try_from(v).map_err(|_| format!("{v} is too large")),
        (false, Some(max)) => Err(format!("must be between {min} and {max}, got {v}")),
        (false, None) => Err(format!("must be at least {min}, got {v}")),
    }
}

/// Durations must be strings with a unit. A bare number is refused because
/// its unit is anyone's guess (seconds? milliseconds?).
pub(crate) fn any_duration(v: StrOrInt) -> Result<Duration, String> {
    match v {
        StrOrInt::Str(s) => duration::parse(&s),
        StrOrInt::Int(n) => Err(format!(
            r#"expected a duration string with a unit, e.g. "{n}s", got the bare number {n}"#
        )),
    }
}

pub(crate) fn positive_duration(v: StrOrInt) -> Result<Duration, String> {
    let d = any_duration(v)?;
    if d.is_zero() {
        return Err("must be greater than 0".to_string());
    }
    Ok(d)
}

/// `"0s"` disables the feature: `None`.
fn optional_duration(v: StrOrInt) -> Result<Option<Duration>, String> {
    any_duration(v).map(duration::zero_is_none)
}

fn message_size(v: StrOrInt) -> Result<usize, String> {
    let n = match v {
        StrOrInt::Int(n) => {
            u64::try_from(n).map_err(|_| format!("must not be negative, got {n}"))?
        }
        StrOrInt::Str(s) => bytes::parse(&s)?,
    };
    if !(MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE_LIMIT).contains(&n) {
        return Err(format!(
            "must be between {} and {}, got {}",
            bytes::display(MIN_MESSAGE_SIZE),
            bytes::display(MAX_MESSAGE_SIZE_LIMIT),
            bytes::display(n)
        ));
    }
    usize::try_from(n).map_err(|_| format!("{n} bytes does not fit in memory on this platform"))
}

/// Matches the config spelling of an enum variant exactly.
fn one_of<T: Copy + Display>(s: &str, all: &[T]) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|v| v.to_string() == s)
        .ok_or_else(|| {
            let choices: Vec<String> = all.iter().map(|v| format!(r#""{v}""#)).collect();
            format!(r#"unknown value "{s}": expected {}"#, choices.join(" or "))
        })
}

/// A PostgreSQL user or database name as sent in the startup message.
pub(crate) fn identifier(s: &str) -> Result<(), String> {
    if s.is_empty() {
        Err("must not be empty".to_string())
    } else if s.contains('\0') {
        Err("must not contain NUL characters".to_string())
    } else if s.len() > MAX_IDENT_BYTES {
        Err(format!(
            "is {} bytes long; PostgreSQL names are at most {MAX_IDENT_BYTES} bytes",
            s.len()
        ))
    } else {
        Ok(())
    }
}

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// Light check of `RUST_LOG`-style directives: not empty, and in the
/// `target=level` form the level must be a real one. Full parsing belongs to
/// the logging library at startup; this catches the common typo early.
fn log_filter(s: String) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err(r#"must not be empty; use "off" to disable logging"#.to_string());
    }
    for directive in s.split(',') {
        // Span filters (`target[span{field=value}]`) contain '=' of their own.
        let Some((target, level)) = directive.rsplit_once('=') else {
            continue;
        };
        let level = level.trim();
        if !target.contains('[') && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level)) {
            return Err(format!(
                r#"invalid level "{level}" in "{s}": expected one of {}"#,
                LEVELS.join(", ")
            ));
        }
    }
    Ok(s)
}
