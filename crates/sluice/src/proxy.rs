//! The supervisor: owns the shared state (config, users, target group, cancel registry), binds
//! the listener, runs the background tasks and the drain on shutdown. No process-wide globals,
//! so several proxies can run in one process (the tests do).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use arc_swap::{ArcSwap, ArcSwapOption};
use config::{Config, CredentialSource, EndpointConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::accept::{serve_listener, ClientSlots, Endpoints};
use crate::auth::{FailedLogins, UserDirectory};
use crate::clients::{ClientRegistry, KillReason};
use crate::credentials::{self, refresh_every};
use crate::events::{EventKind, EventLog};
use crate::failover::{spawn_monitor, EventCounts, HostHealth, MonitorLogin};
use crate::metrics::ProxyStats;
use crate::pause::PauseGate;
use crate::session::cancel::CancelRegistry;
use crate::session::pinning::{PinCounters, PinReason, PinReasonSet, SharedPinReasonSet};
use crate::statements::StatementRegistry;
use crate::tls::{CertError, ClientTls, ServerTls};
use crate::tokens::TokenVerifier;
use crate::upstream::{Route, Target};

/// State every session reads.
pub struct Shared {
    /// The configuration in force; replaced by a reload (see `reload.rs`). Read it with
    /// [`Shared::config`].
    config: ArcSwap<Config>,
    /// The file it came from, for RELOAD and SIGHUP; `None` when built in code (tests).
    config_path: std::sync::Mutex<Option<std::path::PathBuf>>,
    /// Held for a whole reload: SIGHUP and RELOAD at once must not interleave (the one that
    /// read the older file could otherwise apply last).
    pub(crate) reloading: tokio::sync::Mutex<()>,
    /// `[proxy.tls]`, loaded; `None` when clients get 'N' to SSLRequest.
    pub client_tls: ArcSwapOption<ClientTls>,
    /// Replaced whole by a reload; the monitor reads it too.
    pub users: Arc<ArcSwap<UserDirectory>>,
    /// Keys of the tokens clients may log in with.
    pub tokens: ArcSwap<TokenVerifier>,
    pub target: Target,
    pub cancels: Arc<CancelRegistry>,
    pub statements: StatementRegistry,
    pub pins: PinCounters,
    /// Pin reasons the operator switched off (RDS Proxy's session pinning filters).
    pub ignored_pins: SharedPinReasonSet,
    /// Failed logins per client address, for `max_failed_logins`.
    pub failed_logins: FailedLogins,
    /// Keys the fake SCRAM verifiers of unknown users, so they look like real ones.
    pub process_key: [u8; 32],
    pub client_slots: ClientSlots,
    /// `[[endpoints]]` accepting now.
    pub endpoints: Endpoints,
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
    /// The configuration in force now.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Reads the configuration without taking a reference count: for the per-transaction path.
    pub fn with_config<R>(&self, read: impl FnOnce(&Config) -> R) -> R {
        read(&self.config.load())
    }

    /// The users in force now.
    pub fn users(&self) -> Arc<UserDirectory> {
        self.users.load_full()
    }

    pub fn config_path(&self) -> Option<std::path::PathBuf> {
        self.config_path
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn replace_config(&self, config: Config, users: UserDirectory) {
        self.users.store(Arc::new(users));
        self.follow_settings(&config);
        self.config.store(Arc::new(config));
    }

    /// The settings kept outside the config, where the data path reads them without a load of
    /// the whole config.
    fn follow_settings(&self, config: &Config) {
        let topology = &self.target.topology;
        topology
            .log_elections
            .store(config.log.log_failover, Ordering::Relaxed);
        let ignored = PinReasonSet::from_names(&config.proxy.ignore_pin_reasons);
        self.ignored_pins.set(ignored);
        let p = &config.proxy;
        self.failed_logins
            .set_limits(p.max_failed_logins, p.failed_login_window);
        self.client_slots.set_limit(p.max_client_connections);
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// A bound, not yet running proxy.
pub struct Proxy {
    shared: Arc<Shared>,
    listener: TcpListener,
    /// `[[endpoints]]`, bound, to start accepting in `run`.
    endpoints: Vec<(EndpointConfig, TcpListener)>,
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

    /// The writer pool's size limit in force.
    pub fn pool_limit(&self) -> usize {
        self.0.target.pool.limits().max_size
    }

    /// Failover events so far (see docs/failover.md).
    pub fn failover_events(&self) -> EventCounts {
        self.0.target.topology.events()
    }

    /// The recent events the status page lists, as (kind, detail), oldest first.
    pub fn events(&self) -> Vec<(&'static str, String)> {
        let events = self.0.events.since(0).into_iter();
        events.map(|e| (e.kind.as_str(), e.detail)).collect()
    }

    /// Where each running `[[endpoints]]` entry listens, by name.
    pub fn endpoints(&self) -> Vec<(String, SocketAddr)> {
        self.0.endpoints.addrs()
    }

    /// Every host as of the monitor's last probe round.
    pub fn hosts(&self) -> Vec<HostHealth> {
        self.0.target.topology.hosts()
    }
}

/// Re-reads the client-facing certificate and key (the files `[proxy.tls]` names now) while
/// the proxy runs. New connections get the new certificate; sessions already running keep
/// theirs. A pair that does not load is refused and the current one stays. Without client
/// TLS there is nothing to reload.
#[derive(Clone)]
pub struct CertificateReloader(Arc<Shared>);

impl CertificateReloader {
    pub fn reload(&self) -> Result<(), CertError> {
        match &*self.0.client_tls.load() {
            Some(tls) => tls.store.reload(),
            None => Ok(()),
        }
    }

    /// [`CertificateReloader::reload`] with the outcome logged, for the SIGHUP handler.
    pub fn reload_and_log(&self) {
        if let Some(tls) = &*self.0.client_tls.load() {
            tls.store.reload_and_log();
        }
    }
}

/// Applies a new configuration to a running proxy, as far as it can change while running.
#[derive(Clone)]
pub struct ReloadHandle(Arc<Shared>);

impl ReloadHandle {
    /// Applies `config`; Ok holds the keys that keep their running values until a restart.
    pub async fn reload(&self, config: Config) -> anyhow::Result<Vec<String>> {
        let outcome = crate::reload::reload(&self.0, config).await;
        crate::reload::report(&self.0, &outcome);
        outcome.map(|r| r.restart_needed)
    }

    /// Reads the configuration file again (see [`Proxy::set_config_path`]) and applies it.
    pub async fn reload_file(&self) -> anyhow::Result<Vec<String>> {
        let outcome = crate::reload::reload_file(&self.0).await;
        crate::reload::report(&self.0, &outcome);
        outcome.map(|r| r.restart_needed)
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

/// Loads the files the configuration names (certificates, keys, CA), as starting would, and
/// checks that this build can fetch every secret source; for `sluice check`.
pub fn check_files(config: &Config) -> anyhow::Result<()> {
    for user in &config.users {
        if let CredentialSource::Store(source) = &user.credentials {
            credentials::supported(source)
                .map_err(|problem| anyhow!("user \"{}\": secret {source}: {problem}", user.name))?;
        }
    }
    if let Some(tls) = &config.proxy.tls {
        ClientTls::new(tls).context("proxy.tls: cannot load the certificate")?;
    }
    ServerTls::new(&config.database)?;
    Ok(())
}

impl Proxy {
    /// Fetches every user's credentials (an unreadable secret is an error naming the user and
    /// the source) and binds the listener.
    pub async fn bind(config: Config) -> anyhow::Result<Proxy> {
        let users = UserDirectory::load(&config, None).await?;
        let reuse_port = config.proxy.so_reuseport;
        let listener = bind_listener(config.proxy.listen, reuse_port)
            .with_context(|| format!("could not listen on {}", config.proxy.listen))?;
        let mut endpoints = Vec::with_capacity(config.endpoints.len());
        for endpoint in &config.endpoints {
            let bound = bind_listener(endpoint.listen, reuse_port).with_context(|| {
                format!(
                    "could not listen on {} for endpoint {:?}",
                    endpoint.listen, endpoint.name
                )
            })?;
            endpoints.push((endpoint.clone(), bound));
        }
        let client_tls = match &config.proxy.tls {
            Some(tls) => Some(Arc::new(
                ClientTls::new(tls).context("proxy.tls: cannot load the certificate")?,
            )),
            None => None,
        };
        let server_tls = Arc::new(ServerTls::new(&config.database)?);
        let admin_listener = match config.admin.listen {
            Some(addr) => Some(
                bind_listener(addr, false)
                    .with_context(|| format!("could not listen on {addr} ([admin] listen)"))?,
            ),
            None => None,
        };
        let tokens = TokenVerifier::load(&config)
            .await
            .context("token authentication: cannot load the keys")?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Shared {
            client_tls: ArcSwapOption::new(client_tls),
            users: Arc::new(ArcSwap::from_pointee(users)),
            tokens: ArcSwap::from_pointee(tokens),
            target: Target::new(
                config.database.clone(),
                config.proxy.max_prepared_statements,
                server_tls,
            ),
            cancels: Arc::new(CancelRegistry::default()),
            statements: StatementRegistry::default(),
            pins: PinCounters::default(),
            ignored_pins: SharedPinReasonSet::default(),
            failed_logins: FailedLogins::new(
                config.proxy.max_failed_logins,
                config.proxy.failed_login_window,
            ),
            process_key: rand::random(),
            client_slots: ClientSlots::new(config.proxy.max_client_connections),
            endpoints: Endpoints::default(),
            shutdown: shutdown_rx,
            shutdown_handle: ShutdownHandle(shutdown.clone()),
            stats: ProxyStats::default(),
            clients: Arc::new(ClientRegistry::default()),
            pause: PauseGate::default(),
            events: Arc::new(EventLog::default()),
            next_client_id: AtomicU64::new(1),
            config: ArcSwap::from_pointee(config),
            config_path: std::sync::Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        };
        shared.follow_settings(&shared.config());
        Ok(Proxy {
            shared: Arc::new(shared),
            listener,
            endpoints,
            admin_listener,
            shutdown,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has a local address")
    }

    /// Where each `[[endpoints]]` entry listens, in configuration order (ports chosen by the
    /// system when configured as 0).
    pub fn endpoint_addrs(&self) -> Vec<SocketAddr> {
        self.endpoints
            .iter()
            .map(|(_, l)| {
                l.local_addr()
                    .expect("a bound listener has a local address")
            })
            .collect()
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

    /// Reloads `[proxy.tls]`'s certificate files (what SIGHUP does).
    pub fn certificate_reloader(&self) -> CertificateReloader {
        CertificateReloader(self.shared.clone())
    }

    /// Reloads for tests and for SIGHUP (see `reload.rs`).
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle(self.shared.clone())
    }

    /// The file RELOAD and SIGHUP read the configuration from again.
    pub fn set_config_path(&self, path: std::path::PathBuf) {
        *self
            .shared
            .config_path
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(path);
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
            endpoints,
            admin_listener,
            shutdown,
        } = self;
        let reaper = tokio::spawn(reap_idle_servers(shared.clone()));
        let monitor = start_monitor(&shared);
        let readers = tokio::spawn(follow_standbys(shared.clone()));
        let refresher = tokio::spawn({
            let (config, users) = (shared.clone(), shared.users.clone());
            refresh_every(
                move || config.config().secrets.refresh_interval,
                move || users.load().all_credentials(),
            )
        });
        let admin = admin_listener.map(|l| {
            tracing::info!(listen = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(), "admin listener up");
            tokio::spawn(crate::admin::serve_http(l, shared.clone()))
        });
        let stats_log = tokio::spawn(crate::metrics::log_stats(shared.clone()));
        for (config, listener) in endpoints {
            shared.endpoints.start(&shared, config, listener);
        }
        let addr = listener.local_addr().map(|a| a.to_string());
        tracing::info!(listen = %addr.unwrap_or_default(), "accepting clients");
        // The main listener is never removed: its stop signal never fires.
        let (_never, stop) = watch::channel(false);
        serve_listener(listener, shared.clone(), Route::Writer, stop).await;
        // Transactions held by PAUSE must be able to finish during the drain.
        shared.pause.set(false);
        drain(&shared).await;
        reaper.abort();
        monitor.abort();
        readers.abort();
        for task in [refresher, stats_log].into_iter().chain(admin) {
            task.abort();
        }
        for conn in shared.target.retire_all() {
            conn.terminate().await;
        }
        drop(shutdown);
        tracing::info!("stopped");
    }
}

/// Probes every host and elects the writer; when the writer changes, every connection to the
/// old one is retired (idle ones closed now, lent ones when they come back).
fn start_monitor(shared: &Arc<Shared>) -> tokio::task::JoinHandle<()> {
    let config = shared.config();
    let first = &config.users[0];
    let login = MonitorLogin {
        users: shared.users.clone(),
        user: first.name.clone(),
        database: first
            .databases
            .first()
            .cloned()
            .unwrap_or_else(|| "postgres".into()),
        tls: shared.target.tls.clone(),
    };
    let pool = shared.target.pool.clone();
    let live = shared.target.live.clone();
    let topology = shared.target.topology.clone();
    let events = shared.events.clone();
    spawn_monitor(
        shared.target.topology.clone(),
        login,
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

/// After every probe round, takes standbys that went down or were promoted out of read-only
/// service (their connections are closed or cut).
async fn follow_standbys(shared: Arc<Shared>) {
    let mut hosts = shared.target.topology.subscribe_hosts();
    while hosts.changed().await.is_ok() {
        let retired = shared.target.readers.follow(&hosts.borrow_and_update());
        for conn in retired {
            conn.terminate().await;
        }
    }
}

/// SO_REUSEADDR so a restart does not wait out TIME_WAIT; SO_REUSEPORT if configured.
pub(crate) fn bind_listener(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    // Lets an upgraded Sluice listen beside the old one; the kernel spreads new connections
    // over both until the old one stops accepting (docs/operations.md).
    socket.set_reuseport(reuse_port)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn drain(shared: &Shared) {
    let timeout = shared.config().proxy.shutdown_timeout;
    tracing::info!(?timeout, "draining client sessions");
    let detail = format!(
        "shutting down: draining {} client sessions (shutdown_timeout {})",
        shared.clients.all().len(),
        crate::error::humanize(timeout)
    );
    shared.events.record(EventKind::Draining, detail);
    let waited = tokio::time::timeout(timeout, shared.client_slots.all_free()).await;
    if waited.is_ok() {
        return;
    }
    // Those left are told 57P01 once the message they are being sent is whole; a session that
    // cannot get there (its client stopped reading) is closed without it.
    let running = shared.clients.all();
    tracing::warn!(
        sessions = running.len(),
        "shutdown_timeout reached: closing the sessions still running"
    );
    for entry in &running {
        entry.kill(KillReason::ShutdownTimeout);
    }
    let grace = crate::session::LAST_WORDS_TIMEOUT + Duration::from_secs(1);
    if tokio::time::timeout(grace, shared.client_slots.all_free())
        .await
        .is_err()
    {
        tracing::warn!("sessions still open after closing them; stopping anyway");
    }
}

/// Closes server connections past server_idle_timeout or server_lifetime, or beyond the idle
/// limit, and sends each a Terminate.
async fn reap_idle_servers(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for conn in shared.target.reap() {
            conn.terminate().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_on(listen: &str, reuse_port: bool) -> Config {
        Config::from_toml_str(&format!(
            "[proxy]\nlisten = \"{listen}\"\nso_reuseport = {reuse_port}\n\
             [database]\nhosts = [\"127.0.0.1:9\"]\n[[users]]\nname = \"a\"\npassword = \"b\"\n"
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn so_reuseport_lets_a_second_proxy_listen_beside_the_first() {
        let first = Proxy::bind(config_on("127.0.0.1:0", true)).await.unwrap();
        let addr = first.local_addr().to_string();
        let second = Proxy::bind(config_on(&addr, true)).await.unwrap();
        assert_eq!(second.local_addr(), first.local_addr());

        let plain = Proxy::bind(config_on("127.0.0.1:0", false)).await.unwrap();
        let taken = plain.local_addr().to_string();
        let err = Proxy::bind(config_on(&taken, false)).await.err().unwrap();
        assert!(format!("{err:#}").contains(&format!("could not listen on {taken}")));
    }

    /// Thousands of idle clients each hold one session task: its size is most of what an idle
    /// client costs (2.5 KiB measured with 5,000 clients, see docs/benchmarks.md), so a change
    /// that grows it should be a decision, not an accident. 1,432 bytes when this was written;
    /// 1,584 once each session kept its entry in the client registry and a stop signal that
    /// KILL_CLIENT can fire (the admin interface), a cost accepted for SHOW CLIENTS; 1,640 with
    /// the client's TLS transport and its route (writer or standby endpoint).
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
        let task = crate::session::serve(proxy.shared.clone(), stream, peer, Route::Writer);
        let size = std::mem::size_of_val(&task);
        println!("session task future: {size} bytes");
        assert!(size <= 1664, "session future grew to {size} bytes");
        drop(client);
    }
}
