//! Snapshots of the proxy's state, shared by the HTTP API and the console. Each is taken
//! without holding more than one lock at a time, so figures from different sources may be a
//! moment apart.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use serde::Serialize;

use crate::clients::ClientState;
use crate::proxy::Shared;

/// One (database, user) pool, in PgBouncer's SHOW POOLS terms. Read-only endpoints have their
/// own rows: their clients, and the server connections of every standby's pool together.
#[derive(Debug, Serialize)]
pub struct PoolView {
    pub database: String,
    pub user: String,
    /// `read-write` (the writer's pool) or `read-only` (the standbys' pools).
    pub role: &'static str,
    /// Logged-in clients not waiting for a server connection (idle or holding one).
    pub cl_active: u64,
    /// Clients waiting for a server connection (queued in the pool, or held by PAUSE).
    pub cl_waiting: u64,
    /// Server connections lent to clients.
    pub sv_active: u64,
    /// Server connections idle in the pool.
    pub sv_idle: u64,
    /// Server connections being opened.
    pub sv_login: u64,
    /// Longest current wait of a waiting client, in seconds.
    pub maxwait: f64,
    pub pool_mode: &'static str,
}

pub fn pools(shared: &Shared) -> Vec<PoolView> {
    let mode = shared.config().proxy.pool_mode.as_str();
    let mut pools: BTreeMap<PoolRow, PoolView> = BTreeMap::new();
    for (role, key, stats) in shared.target.pool_stats() {
        let pool = pool_entry(&mut pools, (&key.database, &key.user, role), mode);
        pool.sv_active += stats.borrowed as u64;
        pool.sv_idle += stats.idle as u64;
        pool.sv_login += stats.connecting as u64;
    }
    for client in shared.clients.all().iter().filter(|c| !c.admin) {
        let role = client.endpoint.role();
        let pool = pool_entry(&mut pools, (&client.database, &client.user, role), mode);
        match client.state() {
            ClientState::Waiting => {
                pool.cl_waiting += 1;
                let waited = client.waiting_for().as_secs_f64();
                pool.maxwait = pool.maxwait.max(waited);
            }
            _ => pool.cl_active += 1,
        }
    }
    pools.into_values().collect()
}

/// (database, user, role)
type PoolRow = (String, String, &'static str);

fn pool_entry<'p>(
    pools: &'p mut BTreeMap<PoolRow, PoolView>,
    (database, user, role): (&str, &str, &'static str),
    mode: &'static str,
) -> &'p mut PoolView {
    pools
        .entry((database.to_owned(), user.to_owned(), role))
        .or_insert_with(|| PoolView {
            database: database.to_owned(),
            user: user.to_owned(),
            role,
            cl_active: 0,
            cl_waiting: 0,
            sv_active: 0,
            sv_idle: 0,
            sv_login: 0,
            maxwait: 0.0,
            pool_mode: mode,
        })
}

/// One client connection.
#[derive(Debug, Serialize)]
pub struct ClientView {
    pub id: u64,
    pub user: String,
    pub database: String,
    pub client_addr: String,
    /// `idle`, `waiting` or `active`.
    pub state: &'static str,
    /// RFC 3339, UTC.
    pub connected_since: String,
    pub pinned: bool,
    pub pin_reason: Option<&'static str>,
    /// The server connection this client holds now (`host:port`), if any.
    pub server: Option<String>,
    /// The backend process id of that server connection.
    pub server_pid: Option<i32>,
    /// An admin console connection rather than a pooled session.
    pub admin: bool,
}

pub fn clients(shared: &Shared) -> Vec<ClientView> {
    shared
        .clients
        .all()
        .iter()
        .map(|c| {
            let route = c.route.as_ref().and_then(|r| r.get());
            ClientView {
                id: c.id,
                user: c.user.to_string(),
                database: c.database.to_string(),
                client_addr: c.peer.to_string(),
                state: c.state().as_str(),
                connected_since: timestamp(c.connected_at),
                pinned: c.pin().is_some(),
                pin_reason: c.pin().map(|r| r.as_str()),
                server: route.map(|r| r.addr.to_string()),
                server_pid: route.map(|r| r.key.process_id),
                admin: c.admin,
            }
        })
        .collect()
}

/// One server connection of the pool.
#[derive(Debug, Serialize)]
pub struct ServerView {
    pub user: String,
    pub database: String,
    /// `active` (lent to a client) or `idle`.
    pub state: &'static str,
    pub addr: SocketAddr,
    pub remote_pid: i32,
    /// The client holding it (`active` only).
    pub link: Option<u64>,
    /// How long it has been idle (`idle` only), in seconds.
    pub idle_for: Option<f64>,
}

pub fn servers(shared: &Shared) -> Vec<ServerView> {
    let mut servers: Vec<ServerView> = shared
        .clients
        .all()
        .iter()
        .filter_map(|c| {
            let route = c.route.as_ref()?.get()?;
            Some(ServerView {
                user: c.user.to_string(),
                database: c.database.to_string(),
                state: "active",
                addr: route.addr,
                remote_pid: route.key.process_id,
                link: Some(c.id),
                idle_for: None,
            })
        })
        .collect();
    servers.extend(
        shared
            .target
            .pool
            .describe_idle(|key, conn, idle_for| ServerView {
                user: key.user.to_string(),
                database: key.database.to_string(),
                state: "idle",
                addr: conn.addr,
                remote_pid: conn.cancel_key.process_id,
                link: None,
                idle_for: Some(idle_for.as_secs_f64()),
            }),
    );
    servers
}

/// One host of the target group.
#[derive(Debug, Serialize)]
pub struct TargetView {
    pub host: String,
    /// `writer`, `standby`, `excluded` (up but never used: a second primary, another cluster)
    /// or `down`.
    pub role: &'static str,
    /// Standbys: replay lag in seconds (0 when all received WAL is replayed), if known.
    pub replay_lag_seconds: Option<f64>,
    /// A standby within max_replica_lag: read-only endpoints may use it.
    pub readable: bool,
    /// End of the latest probe round, RFC 3339, UTC.
    pub last_probe: String,
}

pub fn targets(shared: &Shared) -> Vec<TargetView> {
    let topology = &shared.target.topology;
    let last_probe = topology.last_round().map(timestamp).unwrap_or_default();
    topology
        .hosts()
        .into_iter()
        .map(|h| TargetView {
            host: h.host.to_string(),
            role: h.state.as_str(),
            replay_lag_seconds: h.replay_lag.map(|lag| lag.as_secs_f64()),
            readable: h.readable,
            last_probe: last_probe.clone(),
        })
        .collect()
}

/// Whole-proxy totals, in PgBouncer's SHOW STATS terms (times in microseconds).
#[derive(Debug, Serialize)]
pub struct StatsView {
    /// Successful borrows: transactions in transaction mode, sessions in session mode.
    pub total_xact_count: u64,
    /// Requests answered (see `sluice_query_requests_total`).
    pub total_query_count: u64,
    pub total_query_time: u64,
    pub total_wait_time: u64,
    pub avg_query_time: u64,
    pub avg_wait_time: u64,
}

pub fn stats(shared: &Shared) -> StatsView {
    let s = &shared.stats;
    let avg = |sum: u64, n: u64| sum.checked_div(n).unwrap_or(0);
    let (queries, query_time) = (s.query_latency.count(), s.query_latency.sum_micros());
    let (borrows, wait_time) = (s.borrow_latency.count(), s.borrow_latency.sum_micros());
    StatsView {
        total_xact_count: borrows,
        total_query_count: crate::metrics::ProxyStats::get(&s.query_requests),
        total_query_time: query_time,
        total_wait_time: wait_time,
        avg_query_time: avg(query_time, queries),
        avg_wait_time: avg(wait_time, borrows),
    }
}

pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}
