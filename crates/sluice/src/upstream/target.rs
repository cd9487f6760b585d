//! The target group: its hosts, its shared pool, the server limits discovered from PostgreSQL,
//! and the server parameters cached for client logins.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use config::{DatabaseConfig, Secret};
use pgwire::auth::ScramKeyCache;
use pool::{BorrowError, Grant, Group, Limits, Pooled};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::{connect, ConnectParams, LiveConnections, ServerConn, UpstreamError};
use crate::failover::Topology;
use crate::metrics::{ProxyStats, ServerSetups};
use crate::session::params::{sync_statement, Settings};

/// Server connections are pooled per (database, user): a connection logged in as one role
/// into one database can only serve clients of that pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub database: Arc<str>,
    pub user: Arc<str>,
}

/// ParameterStatus values a server reports at login, replayed to clients at their login.
pub type ServerParams = Arc<[(String, String)]>;

/// Why no server connection could be lent.
#[derive(Debug)]
pub enum BorrowFailure {
    Timeout { waited: Duration, max_size: usize },
    Connect(UpstreamError),
    ShuttingDown,
}

/// What Sluice logs in to PostgreSQL with, for one configured user.
pub struct Credentials {
    pub user: String,
    pub password: Secret<String>,
    /// Saves the PBKDF2 rounds of SCRAM on every new server connection after the first.
    pub key_cache: ScramKeyCache,
}

pub struct Target {
    pub pool: Group<PoolKey, ServerConn>,
    pub topology: Arc<Topology>,
    /// Open server connections by writer generation, to cut when the writer changes.
    pub live: Arc<LiveConnections>,
    /// Server connections opened and failed to open, for the metrics.
    pub setups: ServerSetups,
    settings: DatabaseConfig,
    max_prepared: usize,
    server_max_connections: OnceCell<u32>,
    // std Mutex: held only to clone an Arc in or out, never across an await.
    params: Mutex<HashMap<PoolKey, Arc<OnceCell<ServerParams>>>>,
    /// Server parameters as reported with a client's startup settings applied (canonical
    /// spellings, e.g. `DateStyle=ISO, MDY`), per pool and settings. std Mutex: lookups only.
    params_with_settings: Mutex<HashMap<(PoolKey, Settings), ServerParams>>,
}

/// Distinct (pool, startup settings) combinations remembered before the cache starts over.
const MAX_CACHED_SETTINGS: usize = 1024;

impl Target {
    pub fn new(settings: DatabaseConfig, max_prepared: usize) -> Self {
        // Until the server's max_connections is known, allow one connection: the first login
        // discovers the real limit with it.
        let limits = limits_for(&settings, None);
        Target {
            pool: Group::new(limits),
            topology: Arc::new(Topology::default()),
            live: Arc::new(LiveConnections::default()),
            setups: ServerSetups::default(),
            settings,
            max_prepared,
            server_max_connections: OnceCell::new(),
            params: Mutex::new(HashMap::new()),
            params_with_settings: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &DatabaseConfig {
        &self.settings
    }

    /// Opens a new server connection for `key`, trying the hosts in order.
    pub async fn open(
        &self,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<ServerConn, UpstreamError> {
        // New connections go to the writer only; while there is none (failover, split brain),
        // they wait for one rather than guess.
        let wait = self.settings.connection_borrow_timeout;
        let Some(writer) = self.topology.wait_for_writer(wait).await else {
            ProxyStats::bump(&self.setups.failed);
            return Err(UpstreamError::NoWriter { waited: wait });
        };
        let host = &writer.host;
        let params = ConnectParams {
            host,
            user: &creds.user,
            password: creds.password.expose(),
            database: &key.database,
            init_query: &self.settings.init_query,
            timeout: self.settings.connect_timeout,
            key_cache: &creds.key_cache,
            max_prepared: self.max_prepared,
        };
        match connect(&params).await {
            Ok(mut conn) => {
                ProxyStats::bump(&self.setups.succeeded);
                conn.live = self.live.register(&conn.stream, writer.generation);
                Ok(conn)
            }
            Err(e) => {
                ProxyStats::bump(&self.setups.failed);
                if !matches!(e, UpstreamError::Rejected(_)) {
                    tracing::warn!(host = %host, error = %e, "server connection failed");
                    self.topology.request_probe();
                }
                Err(e)
            }
        }
    }

    /// Server parameters for a client login to `key`. The first login for a key borrows a
    /// server connection through the pool (which also checks that the database and credentials
    /// work) and reads them from it; concurrent first logins wait for that one; later logins are
    /// answered from the cache without touching the server.
    pub async fn params_for(
        &self,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<ServerParams, UpstreamError> {
        let cell = self.params_cell(key);
        if let Some(params) = cell.get() {
            return Ok(params.clone());
        }
        self.discover_limits(key, creds).await?;
        let found = cell
            .get_or_try_init(|| async {
                let conn = self.borrow_for_login(key, creds).await?;
                let params: ServerParams = conn.params.clone().into();
                conn.give_back();
                Ok(params)
            })
            .await
            .cloned();
        if found.is_err() {
            // A database that does not exist must not leave an entry behind per attempt.
            self.forget_params(key);
        }
        found
    }

    fn forget_params(&self, key: &PoolKey) {
        let mut params = self
            .params
            .lock()
            .expect("params lock is never poisoned: no panics while held");
        if params.get(key).is_some_and(|cell| cell.get().is_none()) {
            params.remove(key);
        }
    }

    /// Server parameters for a login whose startup packet carries session settings: what the
    /// server reports once they are applied. The first login with a given set applies them on a
    /// pooled connection (an invalid setting is refused here, as PostgreSQL refuses it at
    /// login); later ones come from the cache.
    pub async fn params_with(
        &self,
        key: &PoolKey,
        creds: &Credentials,
        settings: &Settings,
    ) -> Result<ServerParams, UpstreamError> {
        let base = self.params_for(key, creds).await?;
        if settings.is_empty() {
            return Ok(base);
        }
        let cache_key = (key.clone(), settings.clone());
        if let Some(found) = self.lock_settings_cache().get(&cache_key) {
            return Ok(found.clone());
        }
        let mut conn = self.borrow_for_login(key, creds).await?;
        if let Some(sql) = sync_statement(settings, &conn.applied) {
            conn.simple_query(&sql).await?;
            conn.applied = settings.clone();
        }
        let params: ServerParams = conn.params.clone().into();
        conn.give_back();
        let mut cache = self.lock_settings_cache();
        if cache.len() >= MAX_CACHED_SETTINGS {
            cache.clear();
        }
        cache.insert(cache_key, params.clone());
        Ok(params)
    }

    fn lock_settings_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(PoolKey, Settings), ServerParams>> {
        self.params_with_settings
            .lock()
            .expect("settings cache lock is never poisoned: no panics while held")
    }

    fn params_cell(&self, key: &PoolKey) -> Arc<OnceCell<ServerParams>> {
        self.params
            .lock()
            .expect("params lock is never poisoned: no panics while held")
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// A connection for Sluice's own use at login, through the pool and its limits.
    async fn borrow_for_login(
        &self,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<Pooled<PoolKey, ServerConn>, UpstreamError> {
        self.borrow(key, creds)
            .await
            .map_err(|failure| match failure {
                BorrowFailure::Connect(e) => e,
                BorrowFailure::Timeout { waited, .. } => UpstreamError::PoolExhausted { waited },
                BorrowFailure::ShuttingDown => UpstreamError::UnexpectedReply("shutting down"),
            })
    }

    /// Borrows for `key`: an idle connection if one is healthy, else a new one if the limit
    /// allows, else waits in the FIFO queue, all within connection_borrow_timeout.
    pub async fn borrow(
        &self,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<Pooled<PoolKey, ServerConn>, BorrowFailure> {
        let timeout = self.settings.connection_borrow_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.pool.borrow(key, left).await {
                Ok(Grant::Idle(conn)) if conn.is_healthy_when_idle() => return Ok(conn),
                // Closed by the server while idle (restart, pg_terminate_backend, idle
                // timeout): replace it without the client noticing.
                Ok(Grant::Idle(conn)) => conn.discard("closed by the server while idle"),
                Ok(Grant::Slot(slot)) => {
                    let conn = self
                        .open(key, creds)
                        .await
                        .map_err(BorrowFailure::Connect)?;
                    return Ok(slot.fill(conn));
                }
                Err(BorrowError::Timeout { max_size, .. }) => {
                    return Err(BorrowFailure::Timeout {
                        waited: timeout,
                        max_size,
                    })
                }
                Err(BorrowError::Closed) => return Err(BorrowFailure::ShuttingDown),
            }
        }
    }

    /// Reads the server's max_connections once and sizes the pool from it. Until then the pool
    /// allows a single connection: this one.
    async fn discover_limits(
        &self,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<(), UpstreamError> {
        self.server_max_connections
            .get_or_try_init(|| async {
                let mut conn = self.borrow_for_login(key, creds).await?;
                let rows = conn.simple_query("SHOW max_connections").await?;
                conn.give_back();
                let max = rows
                    .first()
                    .and_then(|v| v.as_deref())
                    .and_then(|v| v.parse::<u32>().ok())
                    .ok_or(UpstreamError::UnexpectedReply("SHOW max_connections"))?;
                let limits = limits_for(&self.settings, Some(max));
                tracing::info!(
                    server_max_connections = max,
                    pool_max = limits.max_size,
                    pool_max_idle = limits.max_idle,
                    "pool limits set from the server"
                );
                self.pool.set_limits(limits);
                Ok(max)
            })
            .await
            .map(|_| ())
    }
}

/// max_connections_percent of the server's max_connections, capped by max_connections.
fn limits_for(settings: &DatabaseConfig, server_max: Option<u32>) -> Limits {
    let percent_of =
        |percent: u8| server_max.map_or(1, |max| max as usize * percent as usize / 100);
    let cap = settings.max_connections.unwrap_or(usize::MAX);
    let max_size = percent_of(settings.max_connections_percent).clamp(1, cap);
    let max_idle = percent_of(settings.max_idle_connections_percent).min(max_size);
    Limits {
        max_size,
        max_idle,
        idle_timeout: settings.server_idle_timeout,
        lifetime: settings.server_lifetime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(percent: u8, idle: u8, cap: Option<usize>) -> DatabaseConfig {
        let toml = format!(
            "[database]\nhosts=[\"127.0.0.1:5432\"]\nmax_connections_percent={percent}\n\
             max_idle_connections_percent={idle}\n{}\n[[users]]\nname=\"a\"\npassword=\"b\"\n",
            cap.map(|c| format!("max_connections={c}"))
                .unwrap_or_default()
        );
        config::Config::from_toml_str(&toml).unwrap().database
    }

    #[test]
    fn pool_size_follows_the_server_and_the_cap() {
        let l = limits_for(&settings(90, 50, None), Some(100));
        assert_eq!((l.max_size, l.max_idle), (90, 50));
        let l = limits_for(&settings(90, 50, Some(20)), Some(100));
        assert_eq!((l.max_size, l.max_idle), (20, 20));
        let l = limits_for(&settings(1, 0, None), Some(10));
        assert_eq!((l.max_size, l.max_idle), (1, 0));
        let l = limits_for(&settings(90, 50, Some(20)), None);
        assert_eq!(l.max_size, 1);
    }
}
