//! A real PostgreSQL cluster with Sluice in front of it, in-process on a free port.
#![allow(dead_code, clippy::unwrap_used)]

pub mod admin_http;
pub mod binary;
pub mod load;
#[cfg(feature = "aws")]
pub mod moto;
pub mod rotation;
pub mod wire;

use std::net::SocketAddr;
use std::time::Duration;

use sluice::{Proxy, ShutdownHandle};
use test_support::PgCluster;
use tokio_postgres::{Client, NoTls};

pub const APP: &str = "app";
pub const APP_PASSWORD: &str = "app-secret-pw";
pub const MD5_USER: &str = "legacy";
pub const MD5_PASSWORD: &str = "legacy-secret-pw";

/// Knobs the tests turn; everything else is Sluice's default.
#[derive(Clone)]
pub struct Options {
    pub pool_mode: &'static str,
    pub max_connections: usize,
    pub borrow_timeout: &'static str,
    pub login_timeout: &'static str,
    pub idle_client_timeout: &'static str,
    pub max_message_size: &'static str,
    pub max_client_connections: usize,
    /// Extra lines for the [proxy] section.
    pub extra_proxy: &'static str,
    /// How the PostgreSQL cluster authenticates TCP clients (Sluice included).
    pub cluster_auth: test_support::HbaAuth,
    /// Streaming-replication standbys of the primary, listed in `hosts` after it.
    pub standbys: usize,
    /// `secret = ...` for the `app` user instead of its inline password.
    pub app_secret: Option<String>,
    /// Extra lines for the [database] section.
    pub extra_database: &'static str,
    /// Extra sections appended to the file ([secrets], [[access]], [[endpoints]], ...).
    pub extra_config: String,
    /// More sections appended to the config (e.g. `[admin]`).
    pub extra_sections: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_mode: "transaction",
            max_connections: 5,
            borrow_timeout: "10s",
            login_timeout: "15s",
            idle_client_timeout: "30m",
            max_message_size: "1MiB",
            max_client_connections: 1000,
            extra_proxy: "",
            cluster_auth: test_support::HbaAuth::ScramSha256,
            standbys: 0,
            app_secret: None,
            extra_database: "",
            extra_config: String::new(),
            extra_sections: "",
        }
    }
}

pub struct Fixture {
    pub pg: PgCluster,
    pub standbys: Vec<PgCluster>,
    pub addr: SocketAddr,
    /// Where each `[[endpoints]]` entry listens.
    pub endpoints: Vec<SocketAddr>,
    pub observer: sluice::Observer,
    /// The admin HTTP listener, when the config has `[admin] listen`.
    pub admin_addr: Option<SocketAddr>,
    /// The configuration Sluice started with, also written to `config_file` (what RELOAD
    /// reads again).
    pub config_text: String,
    pub config_file: std::path::PathBuf,
    pub reload: sluice::ReloadHandle,
    _config_dir: tempfile::TempDir,
    shutdown: ShutdownHandle,
}

impl Fixture {
    pub async fn start() -> Fixture {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> Fixture {
        let pg = PgCluster::start_with(test_support::ClusterOptions {
            auth: opts.cluster_auth,
            ..Default::default()
        })
        .await
        .unwrap();
        for (user, pw) in [(APP, APP_PASSWORD), (MD5_USER, MD5_PASSWORD)] {
            pg.create_user(user, pw).await.unwrap();
            pg.create_database(user, user).await.unwrap();
        }
        let mut standbys = Vec::new();
        for _ in 0..opts.standbys {
            standbys.push(pg.start_standby().await.unwrap());
        }
        let mut hosts = vec![pg.addr()];
        hosts.extend(standbys.iter().map(|s| s.addr()));
        let config_text = config_toml(&hosts, &opts);
        let config = config::Config::from_toml_str(&config_text).unwrap();
        let proxy = Proxy::bind(config).await.unwrap();
        let config_dir = tempfile::tempdir().unwrap();
        let config_file = config_dir.path().join("sluice.toml");
        std::fs::write(&config_file, &config_text).unwrap();
        proxy.set_config_path(config_file.clone());
        let reload = proxy.reload_handle();
        let addr = proxy.local_addr();
        let endpoints = proxy.endpoint_addrs();
        let admin_addr = proxy.admin_addr();
        let shutdown = proxy.shutdown_handle();
        let observer = proxy.observer();
        tokio::spawn(proxy.run());
        Fixture {
            pg,
            standbys,
            addr,
            endpoints,
            observer,
            admin_addr,
            config_text,
            config_file,
            reload,
            _config_dir: config_dir,
            shutdown,
        }
    }

    pub fn connstr(&self, user: &str, password: &str, db: &str) -> String {
        connstr_at(self.addr, user, password, db)
    }

    /// The app user, connected through the `[[endpoints]]` entry `index`.
    pub async fn endpoint_client(&self, index: usize) -> Result<Client, tokio_postgres::Error> {
        let connstr = connstr_at(self.endpoints[index], APP, APP_PASSWORD, APP);
        let (client, conn) = tokio_postgres::connect(&connstr, NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// A tokio-postgres client through Sluice as `app`.
    pub async fn client(&self) -> Client {
        self.try_client(APP, APP_PASSWORD).await.unwrap()
    }

    pub async fn try_client(&self, user: &str, pw: &str) -> Result<Client, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.connstr(user, pw, user), NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// A superuser client straight to PostgreSQL, to look behind Sluice's back.
    pub async fn direct_superuser(&self) -> Client {
        self.pg.superuser().await.unwrap()
    }

    /// Server backends of `user` as PostgreSQL sees them.
    pub async fn server_backends(&self, user: &str) -> Vec<(i32, String, Option<String>)> {
        let admin = self.direct_superuser().await;
        admin
            .query(
                "SELECT pid, state, backend_xid::text FROM pg_stat_activity \
                 WHERE usename = $1 AND application_name <> 'sluice-monitor'",
                &[&user],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get::<_, Option<String>>(1).unwrap_or_default(),
                    r.get(2),
                )
            })
            .collect()
    }

    pub fn shutdown(&self) {
        self.shutdown.shutdown();
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

pub fn connstr_at(addr: SocketAddr, user: &str, password: &str, db: &str) -> String {
    format!(
        "host={} port={} user={user} password={password} dbname={db} connect_timeout=10",
        addr.ip(),
        addr.port()
    )
}

fn config_toml(hosts: &[String], o: &Options) -> String {
    format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
pool_mode = "{pool_mode}"
login_timeout = "{login_timeout}"
idle_client_timeout = "{idle}"
max_message_size = "{max_message}"
max_client_connections = {max_clients}
shutdown_timeout = "1s"
{extra_proxy}

[database]
hosts = [{hosts}]
probe_interval = "200ms"
max_connections = {max_connections}
connection_borrow_timeout = "{borrow_timeout}"
{extra_database}

[[users]]
name = "{APP}"
{app_credentials}

[[users]]
name = "{MD5_USER}"
password = "{MD5_PASSWORD}"
client_auth = "md5"

[log]
filter = "warn"

{extra_config}
{extra_sections}
"#,
        pool_mode = o.pool_mode,
        login_timeout = o.login_timeout,
        idle = o.idle_client_timeout,
        max_message = o.max_message_size,
        max_clients = o.max_client_connections,
        extra_proxy = o.extra_proxy,
        hosts = hosts
            .iter()
            .map(|h| format!("\"{h}\""))
            .collect::<Vec<_>>()
            .join(", "),
        max_connections = o.max_connections,
        borrow_timeout = o.borrow_timeout,
        extra_database = o.extra_database,
        app_credentials = match &o.app_secret {
            Some(secret) => format!("secret = \"{secret}\""),
            None => format!("password = \"{APP_PASSWORD}\""),
        },
        extra_config = o.extra_config,
        extra_sections = o.extra_sections,
    )
}

/// Why Sluice refuses to start when `app`'s secret is `secret` (with `secrets_section` as the
/// `[secrets]` lines); panics if it starts. No database is needed: secrets come first.
pub async fn startup_error(secret: &str, secrets_section: &str) -> String {
    let config = config::Config::from_toml_str(&format!(
        "[proxy]\nlisten = \"127.0.0.1:0\"\n[database]\nhosts = [\"127.0.0.1:9\"]\n\
         [secrets]\n{secrets_section}\n\
         [[users]]\nname = \"other\"\npassword = \"x\"\n\
         [[users]]\nname = \"{APP}\"\nsecret = \"{secret}\"\n"
    ))
    .unwrap();
    let Err(e) = Proxy::bind(config).await else {
        panic!("{secret}: Sluice started with a secret it cannot fetch");
    };
    format!("{e:#}")
}

/// A raw protocol connection to `addr` (Sluice or PostgreSQL), logged in as the md5 user.
pub async fn raw_login(addr: &str) -> test_support::RawConn {
    let mut conn = test_support::RawConn::connect(addr).await.unwrap();
    conn.login_md5(MD5_USER, MD5_PASSWORD, MD5_USER)
        .await
        .unwrap();
    conn
}

/// The stdout of a client program (pgbench, psql, a driver script) that must have succeeded;
/// a failure shows both of its streams.
pub fn succeeded(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Polls `check` until it returns true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// SQLSTATE of a tokio-postgres error, if the server (or Sluice) sent one.
pub fn sqlstate(e: &tokio_postgres::Error) -> Option<String> {
    e.as_db_error().map(|d| d.code().code().to_owned())
}

/// One row, through the unnamed statement (Parse, Bind, Execute, Sync in one batch). Named
/// prepared statements that outlive a transaction need statement tracking (not built yet), so
/// the pooling tests avoid them.
pub async fn one(
    client: &Client,
    sql: &str,
    params: &[(
        &(dyn tokio_postgres::types::ToSql + Sync),
        tokio_postgres::types::Type,
    )],
) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
    let mut rows = client.query_typed(sql, params).await?;
    assert_eq!(rows.len(), 1, "expected one row from {sql}");
    Ok(rows.remove(0))
}
