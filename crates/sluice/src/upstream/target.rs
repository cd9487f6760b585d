//! The target group: its hosts, its shared pool, the server limits discovered from PostgreSQL,
//! and the server parameters cached for client logins.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use config::DatabaseConfig;
use pool::{BorrowError, Grant, Group, KeyStats, Limits, Pooled};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::{
    connect, ConnectParams, LiveConnections, ReaderPool, Readers, Route, ServerConn, UpstreamError,
    READ_ONLY, READ_WRITE,
};
use crate::credentials::{Credentials, LoginAs};
use crate::failover::{Topology, Watched};
use crate::metrics::{ProxyStats, ServerSetups};
use crate::session::params::{sync_statement, Settings};
use crate::tls::ServerTls;
use config::HostPort;

/// Server connections are pooled per (database, user): a connection logged in as one role
/// into one database can only serve clients of that pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// Server parameters differ between a primary and a standby (`in_hot_standby`), so logins
/// through a read-only endpoint are answered from a standby's.
type ParamsKey = (PoolKey, bool);

pub struct Target {
    /// The writer's pool.
    pub pool: Group<PoolKey, ServerConn>,
    /// One pool per host for read-only endpoints.
    pub readers: Readers,
    pub topology: Arc<Topology>,
    /// Open server connections by writer generation, to cut when the writer changes.
    pub live: Arc<LiveConnections>,
    /// Server connections opened and failed to open, for the metrics.
    pub setups: ServerSetups,
    /// `[database]` as in force; a reload replaces it.
    settings: ArcSwap<DatabaseConfig>,
    max_prepared: usize,
    /// tls_mode applied to every new connection to any host; a reload swaps it.
    pub tls: Arc<ArcSwap<ServerTls>>,
    server_max_connections: OnceCell<u32>,
    // std Mutex: held only to clone an Arc in or out, never across an await.
    params: Mutex<HashMap<ParamsKey, Arc<OnceCell<ServerParams>>>>,
    /// Server parameters as reported with a client's startup settings applied (canonical
    /// spellings, e.g. `DateStyle=ISO, MDY`), per pool and settings. std Mutex: lookups only.
    params_with_settings: Mutex<HashMap<(ParamsKey, Settings), ServerParams>>,
}

/// What the monitor watches, from `[database]`.
fn watched(settings: &DatabaseConfig) -> Watched {
    Watched {
        hosts: settings.hosts.clone(),
        probe_interval: settings.probe_interval,
        max_replica_lag: settings.max_replica_lag,
        connect_timeout: settings.connect_timeout,
        server_auth: settings.server_auth,
    }
}

/// Distinct (pool, startup settings) combinations remembered before the cache starts over.
const MAX_CACHED_SETTINGS: usize = 1024;

impl Target {
    pub fn new(settings: DatabaseConfig, max_prepared: usize, tls: Arc<ServerTls>) -> Self {
        // Until the server's max_connections is known, allow one connection: the first login
        // discovers the real limit with it.
        let limits = limits_for(&settings, None);
        Target {
            pool: Group::new(limits),
            readers: Readers::new(&settings.hosts, limits),
            topology: Arc::new(Topology::new(watched(&settings))),
            live: Arc::new(LiveConnections::default()),
            setups: ServerSetups::default(),
            settings: ArcSwap::from_pointee(settings),
            max_prepared,
            tls: Arc::new(ArcSwap::new(tls)),
            server_max_connections: OnceCell::new(),
            params: Mutex::new(HashMap::new()),
            params_with_settings: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> Arc<DatabaseConfig> {
        self.settings.load_full()
    }

    /// A reloaded `[database]`: timeouts and init_query apply to the next borrow and the next
    /// new connection; pool limits are recomputed now (a smaller pool shrinks as connections
    /// come back; none is taken away from a client). New hosts, probe interval and lag bound
    /// go to the monitor, which probes at once; a host taken out has its reader pool closed,
    /// and if it was the writer, the monitor elects another (see docs/operations.md).
    /// Returns the idle connections of removed hosts, for closing.
    pub fn apply_settings(&self, settings: DatabaseConfig) -> Vec<ServerConn> {
        let server_max = self.server_max_connections.get().copied();
        let limits = limits_for(&settings, server_max);
        let closed = self.readers.set_hosts(&settings.hosts, limits);
        self.topology.set_watched(watched(&settings));
        self.settings.store(Arc::new(settings));
        if server_max.is_some() {
            self.pool.set_limits(limits);
            self.readers.set_limits(limits);
        }
        closed
    }

    /// Opens a new server connection to the writer for `key`, by `deadline`, trying each
    /// password version of the user (see [`Credentials::log_in`]).
    async fn open(
        &self,
        key: &PoolKey,
        creds: &Credentials,
        deadline: Instant,
    ) -> Result<ServerConn, UpstreamError> {
        loop {
            // New connections go to the writer only; while there is none (failover, split
            // brain), they wait for one rather than guess.
            let left = deadline.saturating_duration_since(Instant::now());
            let waited = self.settings().connection_borrow_timeout;
            let writer = self.topology.wait_for_writer(left).await.ok_or_else(|| {
                ProxyStats::bump(&self.setups.failed);
                UpstreamError::NoWriter {
                    waited,
                    probe_failure: self.topology.probe_failure(),
                }
            })?;
            match self.connect_to(&writer.host, key, creds).await {
                Ok(mut conn) => {
                    conn.live = self.live.register(&conn.stream, writer.generation);
                    return Ok(conn);
                }
                // The writer may have just died: the monitor is probing now (connect_to asked
                // it to). Wait for its verdict, then try the writer it elects, instead of
                // failing a transaction that could run on the next writer.
                Err(e) if e.is_unreachable() && Instant::now() < deadline => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let pause = left.min(self.settings().probe_interval);
                    self.topology
                        .wait_for_new_election(writer.generation, pause)
                        .await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Opens a server connection to `reader`'s host.
    async fn open_reader(
        &self,
        reader: &ReaderPool,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<ServerConn, UpstreamError> {
        let generation = reader.generation();
        let mut conn = self.connect_to(&reader.host, key, creds).await?;
        conn.live = reader.live.register(&conn.stream, generation);
        Ok(conn)
    }

    async fn connect_to(
        &self,
        host: &HostPort,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<ServerConn, UpstreamError> {
        let (settings, tls) = (self.settings(), self.tls.load_full());
        let (settings, tls) = (&settings, &tls);
        let connect_as = |login: LoginAs| async move {
            let params = ConnectParams {
                host,
                user: login.user(),
                password: login.password(),
                database: &key.database,
                init_query: &settings.init_query,
                application_name: None,
                timeout: settings.connect_timeout,
                key_cache: login.key_cache(),
                max_prepared: self.max_prepared,
                tls,
                server_auth: settings.server_auth,
            };
            connect(&params).await
        };
        let connected = creds.log_in(settings.connect_timeout, connect_as).await;
        match &connected {
            Ok(_) => ProxyStats::bump(&self.setups.succeeded),
            Err(_) => ProxyStats::bump(&self.setups.failed),
        }
        if let Err(e) = &connected {
            if !matches!(e, UpstreamError::Rejected(_)) {
                tracing::warn!(host = %host, error = %e, "server connection failed");
                self.topology.request_probe();
            }
        }
        connected
    }

    /// Server parameters for a client login to `key`. The first login for a key borrows a
    /// server connection through the pool (which also checks that the database and credentials
    /// work) and reads them from it; concurrent first logins wait for that one; later logins are
    /// answered from the cache without touching the server.
    pub async fn params_for(
        &self,
        route: Route,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<ServerParams, UpstreamError> {
        let params_key = (key.clone(), route.is_reader());
        let cell = self.params_cell(&params_key);
        if let Some(params) = cell.get() {
            return Ok(params.clone());
        }
        self.discover_limits(route, key, creds).await?;
        let found = cell
            .get_or_try_init(|| async {
                let conn = self.borrow_for_login(route, key, creds).await?;
                let params: ServerParams = conn.params.clone().into();
                conn.give_back();
                Ok(params)
            })
            .await
            .cloned();
        if found.is_err() {
            // A database that does not exist must not leave an entry behind per attempt.
            self.forget_params(&params_key);
        }
        found
    }

    fn forget_params(&self, key: &ParamsKey) {
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
        route: Route,
        key: &PoolKey,
        creds: &Credentials,
        settings: &Settings,
    ) -> Result<ServerParams, UpstreamError> {
        let base = self.params_for(route, key, creds).await?;
        if settings.is_empty() {
            return Ok(base);
        }
        let cache_key = ((key.clone(), route.is_reader()), settings.clone());
        if let Some(found) = self.lock_settings_cache().get(&cache_key) {
            return Ok(found.clone());
        }
        let mut conn = self.borrow_for_login(route, key, creds).await?;
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
    ) -> std::sync::MutexGuard<'_, HashMap<(ParamsKey, Settings), ServerParams>> {
        self.params_with_settings
            .lock()
            .expect("settings cache lock is never poisoned: no panics while held")
    }

    fn params_cell(&self, key: &ParamsKey) -> Arc<OnceCell<ServerParams>> {
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
        route: Route,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<Pooled<PoolKey, ServerConn>, UpstreamError> {
        self.borrow(route, key, creds)
            .await
            .map_err(|failure| match failure {
                BorrowFailure::Connect(e) => e,
                BorrowFailure::Timeout { waited, .. } => UpstreamError::PoolExhausted { waited },
                BorrowFailure::ShuttingDown => UpstreamError::UnexpectedReply("shutting down"),
            })
    }

    /// Borrows for `key` on `route`, all within connection_borrow_timeout.
    pub async fn borrow(
        &self,
        route: Route,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<Pooled<PoolKey, ServerConn>, BorrowFailure> {
        // A Guard, not an Arc clone: this runs on every borrow.
        let deadline = Instant::now() + self.settings.load().connection_borrow_timeout;
        match route {
            Route::Writer => self.borrow_writer(key, creds, deadline).await,
            Route::Reader { fallback_to_writer } => {
                self.borrow_reader(key, creds, deadline, fallback_to_writer)
                    .await
            }
        }
    }

    async fn borrow_writer(
        &self,
        key: &PoolKey,
        creds: &Credentials,
        deadline: Instant,
    ) -> Result<Pooled<PoolKey, ServerConn>, BorrowFailure> {
        self.borrow_from(&self.pool, key, deadline, || {
            self.open(key, creds, deadline)
        })
        .await
    }

    /// The least busy readable standby; one that cannot be connected to is skipped until the
    /// next probe round. With none: the writer if allowed, else wait for a standby.
    async fn borrow_reader(
        &self,
        key: &PoolKey,
        creds: &Credentials,
        deadline: Instant,
        fallback_to_writer: bool,
    ) -> Result<Pooled<PoolKey, ServerConn>, BorrowFailure> {
        let mut hosts = self.topology.subscribe_hosts();
        let mut failed = Vec::new();
        loop {
            let picked = self.readers.pick(&hosts.borrow_and_update(), &failed);
            match picked {
                Some(reader) => {
                    let open = || self.open_reader(&reader, key, creds);
                    match self.borrow_from(&reader.pool, key, deadline, open).await {
                        Err(BorrowFailure::Connect(e)) if Instant::now() < deadline => {
                            tracing::debug!(error = %e, "standby unusable, trying another");
                            failed.push(reader.host.clone());
                        }
                        // A reload took the host out while this borrow waited for it.
                        Err(BorrowFailure::ShuttingDown) if reader.removed() => {
                            failed.push(reader.host.clone());
                        }
                        done => return done,
                    }
                }
                None if fallback_to_writer => {
                    return self.borrow_writer(key, creds, deadline).await
                }
                None => {
                    let changed = tokio::time::timeout_at(deadline, hosts.changed()).await;
                    if !matches!(changed, Ok(Ok(()))) {
                        let waited = self.settings().connection_borrow_timeout;
                        return Err(BorrowFailure::Connect(UpstreamError::NoReader { waited }));
                    }
                    failed.clear();
                }
            }
        }
    }

    /// From `pool`: an idle connection if one is healthy, else a new one from `open` if the
    /// limit allows, else a wait in the FIFO queue, until `deadline`.
    async fn borrow_from<F, Fut>(
        &self,
        pool: &Group<PoolKey, ServerConn>,
        key: &PoolKey,
        deadline: Instant,
        open: F,
    ) -> Result<Pooled<PoolKey, ServerConn>, BorrowFailure>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<ServerConn, UpstreamError>>,
    {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match pool.borrow(key, left).await {
                Ok(Grant::Idle(conn)) if conn.is_healthy_when_idle() => return Ok(conn),
                // Closed by the server while idle (restart, pg_terminate_backend, idle
                // timeout): replace it without the client noticing.
                Ok(Grant::Idle(conn)) => conn.discard("closed by the server while idle"),
                Ok(Grant::Slot(slot)) => {
                    let conn = open().await.map_err(BorrowFailure::Connect)?;
                    return Ok(slot.fill(conn));
                }
                Err(BorrowError::Timeout { max_size, .. }) => {
                    return Err(BorrowFailure::Timeout {
                        waited: self.settings().connection_borrow_timeout,
                        max_size,
                    })
                }
                Err(BorrowError::Closed) => return Err(BorrowFailure::ShuttingDown),
            }
        }
    }

    /// Every pool's counts per key, with its role: the writer's, then each standby's (a key
    /// may repeat).
    pub fn pool_stats(&self) -> Vec<(&'static str, PoolKey, KeyStats)> {
        let writer = self.pool.stats().keys.into_iter();
        let mut all: Vec<_> = writer.map(|(k, s)| (READ_WRITE, k, s)).collect();
        for pool in self.readers.all().iter() {
            let keys = pool.pool.stats().keys.into_iter();
            all.extend(keys.map(|(k, s)| (READ_ONLY, k, s)));
        }
        all
    }

    /// Idle connections past their idle timeout or lifetime, in every pool.
    pub fn reap(&self) -> Vec<ServerConn> {
        let mut reaped = self.pool.reap();
        reaped.extend(self.readers.reap());
        reaped
    }

    /// Every idle connection in every pool; lent ones are closed when they come back.
    pub fn retire_all(&self) -> Vec<ServerConn> {
        let mut retired = self.pool.retire_all();
        retired.extend(self.readers.retire_all());
        retired
    }

    /// Reads the server's max_connections once and sizes the pool from it. Until then the pool
    /// allows a single connection: this one.
    async fn discover_limits(
        &self,
        route: Route,
        key: &PoolKey,
        creds: &Credentials,
    ) -> Result<(), UpstreamError> {
        self.server_max_connections
            .get_or_try_init(|| async {
                let mut conn = self.borrow_for_login(route, key, creds).await?;
                let rows = conn.simple_query("SHOW max_connections").await?;
                conn.give_back();
                let max = rows
                    .first()
                    .and_then(|v| v.as_deref())
                    .and_then(|v| v.parse::<u32>().ok())
                    .ok_or(UpstreamError::UnexpectedReply("SHOW max_connections"))?;
                let limits = limits_for(&self.settings(), Some(max));
                tracing::info!(
                    server_max_connections = max,
                    pool_max = limits.max_size,
                    pool_max_idle = limits.max_idle,
                    "pool limits set from the server"
                );
                // Standbys must run with at least the primary's max_connections, so the same
                // limits hold for each standby's pool.
                self.pool.set_limits(limits);
                self.readers.set_limits(limits);
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
