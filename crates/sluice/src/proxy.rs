//! The supervisor: owns the shared state (config, users, target group, cancel registry), binds
//! the listener, runs the background tasks and the drain on shutdown. No process-wide globals,
//! so several proxies can run in one process (the tests do).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use config::Config;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::accept::serve_listener;
use crate::auth::UserDirectory;
use crate::clients::ClientRegistry;
use crate::events::{EventKind, EventLog};
use crate::failover::{spawn_monitor, MonitorLogin};
use crate::metrics::ProxyStats;
use crate::pause::PauseGate;
use crate::session::cancel::CancelRegistry;
use crate::session::pinning::{PinCounters, PinReason};
use crate::statements::StatementRegistry;
use crate::upstream::Target;

/// State every session reads.
pub struct Shared {
    pub config: Config,
    pub users: UserDirectory,
    pub target: Target,
    pub cancels: Arc<CancelRegistry>,
    pub statements: StatementRegistry,
    pub pins: PinCounters,
    /// Pin reasons the operator switched off (RDS Proxy's session pinning filters).
    pub ignored_pins: Vec<PinReason>,
    /// Keys the fake SCRAM verifiers of unknown users, so they look like real ones.
    pub process_key: [u8; 32],
    pub client_slots: Arc<Semaphore>,
    pub shutdown: watch::Receiver<bool>,
    /// For the admin console's SHUTDOWN.
    pub shutdown_handle: ShutdownHandle,
    /// Counters for the metrics, bumped by the data path.
    pub stats: ProxyStats,
    /// Logged-in clients, for the admin interface.
    pub clients: Arc<ClientRegistry>,
    /// PAUSE / RESUME.
    pub pause: PauseGate,
    /// Recent elections, host changes and failed logins, for the status page.
    pub events: Arc<EventLog>,
    next_client_id: AtomicU64,
}

impl Shared {
    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// A bound, not yet running proxy.
pub struct Proxy {
    shared: Arc<Shared>,
    listener: TcpListener,
    /// `[admin] listen`, when configured.
    admin_listener: Option<TcpListener>,
    shutdown: watch::Sender<bool>,
}

/// Reads a running proxy's counters (for tests and, later, the admin interface).
#[derive(Clone)]
pub struct Observer(Arc<Shared>);

impl Observer {
    /// Clients pinned so far, per reason name (see docs/pinning.md).
    pub fn pins(&self) -> Vec<(&'static str, u64)> {
        PinReason::ALL
            .iter()
            .map(|r| (r.as_str(), self.0.pins.get(*r)))
            .collect()
    }

    pub fn pins_total(&self) -> u64 {
        self.pins().iter().map(|(_, n)| n).sum()
    }

    /// The Prometheus exposition, as `/metrics` serves it.
    pub fn metrics_text(&self) -> String {
        crate::metrics::encode(&self.0)
    }
}

/// Asks a running proxy to stop accepting and drain.
#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl Proxy {
    /// Binds the listener; derives the SCRAM verifiers of every user (slow on purpose: PBKDF2).
    pub async fn bind(config: Config) -> anyhow::Result<Proxy> {
        let listener = bind_listener(config.proxy.listen)
            .with_context(|| format!("could not listen on {}", config.proxy.listen))?;
        let admin_listener = match config.admin.listen {
            Some(addr) => Some(
                bind_listener(addr)
                    .with_context(|| format!("could not listen on {addr} ([admin] listen)"))?,
            ),
            None => None,
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Shared {
            users: UserDirectory::from_config(&config),
            target: Target::new(
                config.database.clone(),
                config.proxy.max_prepared_statements,
            ),
            cancels: Arc::new(CancelRegistry::default()),
            statements: StatementRegistry::default(),
            pins: PinCounters::default(),
            ignored_pins: PinReason::ALL
                .into_iter()
                .filter(|r| {
                    config
                        .proxy
                        .ignore_pin_reasons
                        .iter()
                        .any(|n| n == r.as_str())
                })
                .collect(),
            process_key: rand::random(),
            client_slots: Arc::new(Semaphore::new(config.proxy.max_client_connections)),
            shutdown: shutdown_rx,
            shutdown_handle: ShutdownHandle(shutdown.clone()),
            stats: ProxyStats::default(),
            clients: Arc::new(ClientRegistry::default()),
            pause: PauseGate::default(),
            events: Arc::new(EventLog::default()),
            next_client_id: AtomicU64::new(1),
            config,
        };
        Ok(Proxy {
            shared: Arc::new(shared),
            listener,
            admin_listener,
            shutdown,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has a local address")
    }

    /// A read-only view of the running proxy's counters.
    /// Where the admin HTTP listener is bound, if `[admin] listen` is set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn observer(&self) -> Observer {
        Observer(self.shared.clone())
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Serves until shut down, then waits up to shutdown_timeout for sessions to finish their
    /// transactions (idle ones are told 57P01 at once).
    pub async fn run(self) {
        let Proxy {
            shared,
            listener,
            admin_listener,
            shutdown,
        } = self;
        tracing::info!(listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "accepting clients");
        let reaper = tokio::spawn(reap_idle_servers(shared.clone()));
        let monitor = start_monitor(&shared);
        let admin = admin_listener.map(|l| {
            tracing::info!(listen = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(), "admin listener up");
            tokio::spawn(crate::admin::serve_http(l, shared.clone()))
        });
        let stats_log = shared
            .config
            .log
            .stats_interval
            .map(|every| tokio::spawn(crate::metrics::log_stats(shared.clone(), every)));
        serve_listener(listener, shared.clone(), shared.shutdown.clone()).await;
        // Transactions held by PAUSE must be able to finish during the drain.
        shared.pause.set(false);
        drain(&shared).await;
        reaper.abort();
        monitor.abort();
        for task in [admin, stats_log].into_iter().flatten() {
            task.abort();
        }
        for conn in shared.target.pool.retire_all() {
            conn.terminate().await;
        }
        drop(shutdown);
        tracing::info!("stopped");
    }
}

/// Probes every host and elects the writer; when the writer changes, every connection to the
/// old one is retired (idle ones closed now, lent ones when they come back).
fn start_monitor(shared: &Arc<Shared>) -> tokio::task::JoinHandle<()> {
    let db = &shared.config.database;
    let first = &shared.config.users[0];
    let login = MonitorLogin {
        user: first.name.clone(),
        password: first.password.clone(),
        database: first
            .databases
            .first()
            .cloned()
            .unwrap_or_else(|| "postgres".into()),
        connect_timeout: db.connect_timeout,
        log_elections: shared.config.log.log_failover,
    };
    let pool = shared.target.pool.clone();
    let live = shared.target.live.clone();
    let topology = shared.target.topology.clone();
    let events = shared.events.clone();
    spawn_monitor(
        shared.target.topology.clone(),
        db.hosts.clone(),
        login,
        db.probe_interval,
        shared.events.clone(),
        move || {
            drop(pool.retire_all());
            let cut = live.cut_older_than(topology.generation());
            if cut > 0 {
                tracing::warn!(
                    connections = cut,
                    "cut server connections to the old writer"
                );
                let detail = format!("cut {cut} server connections to the old writer");
                events.record(EventKind::ConnectionsCut, detail);
            }
        },
    )
}

/// SO_REUSEADDR so a restart does not wait out TIME_WAIT.
fn bind_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn drain(shared: &Shared) {
    let max = shared.config.proxy.max_client_connections;
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let timeout = shared.config.proxy.shutdown_timeout;
    tracing::info!(?timeout, "draining client sessions");
    let waited = tokio::time::timeout(timeout, shared.client_slots.acquire_many(all)).await;
    if waited.is_err() {
        tracing::warn!("shutdown_timeout reached with sessions still running");
    }
}

/// Closes server connections past server_idle_timeout or server_lifetime, or beyond the idle
/// limit, and sends each a Terminate.
async fn reap_idle_servers(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for conn in shared.target.pool.reap() {
            conn.terminate().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Thousands of idle clients each hold one session task: its size is most of what an idle
    /// client costs (2.5 KiB measured with 5,000 clients, see docs/benchmarks.md), so a change
    /// that grows it should be a decision, not an accident. 1,432 bytes when this was written;
    /// 1,584 once each session kept its entry in the client registry and a stop signal that
    /// KILL_CLIENT can fire (the admin interface), a cost accepted for SHOW CLIENTS.
    #[tokio::test]
    async fn a_session_task_stays_small() {
        let config = Config::from_toml_str(
            "[proxy]\nlisten = \"127.0.0.1:0\"\n[database]\nhosts = [\"127.0.0.1:9\"]\n\
             [[users]]\nname = \"a\"\npassword = \"b\"\n",
        )
        .unwrap();
        let proxy = Proxy::bind(config).await.unwrap();
        let addr = proxy.local_addr();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (stream, peer) = proxy.listener.accept().await.unwrap();
        let task = crate::session::serve(proxy.shared.clone(), stream, peer);
        let size = std::mem::size_of_val(&task);
        println!("session task future: {size} bytes");
        assert!(size <= 1600, "session future grew to {size} bytes");
        drop(client);
    }
}
