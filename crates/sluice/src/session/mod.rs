//! One client session, start to end. The loop reads one line per stage:
//! wait for the client's next request → borrow → relay → give back → repeat.

mod borrow;
pub mod cancel;
mod exchange;
mod give_back;
pub(crate) mod io;
mod login;
mod outbox;
pub(crate) mod params;
pub mod pinning;
mod refuse;
mod relay;
mod rewrite;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use config::PoolMode;
use pgwire::scan::Scanner;
use pgwire::FrontendTag;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::Instrument;

use self::cancel::ServerRoute;
use self::exchange::Exchange;
use self::give_back::{Borrowed, Leaving};
use self::login::{Admitted, LoggedIn};
use self::params::{Settings, SqlStatements, Touched};
pub(crate) use self::relay::LAST_WORDS_TIMEOUT;
use self::relay::{relay, RelayEnd, Scanners};
use self::rewrite::Rewriter;
use crate::accept::{negotiate, ClientConn};
use crate::clients::{ClientEntry, ClientState, NewClient};
use crate::error::{SessionError, Side};
use crate::events::EventKind;
use crate::metrics::ProxyStats;
use crate::proxy::Shared;
use crate::statements::ClientStatements;
use crate::upstream::Route;

/// The task spawned for every accepted client.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, route: Route) {
    let mut client = ClientConn::new(stream, peer, shared.config().proxy.max_message_size);
    ProxyStats::bump(&shared.stats.clients_received);
    let Some(_permit) = shared.client_slots.try_take() else {
        ProxyStats::bump(&shared.stats.clients_setup_failed);
        Box::pin(refuse_over_limit(&shared, &mut client)).await;
        ProxyStats::bump(&shared.stats.clients_closed);
        return;
    };
    let id = shared.next_client_id();
    let span = tracing::info_span!(
        "client",
        id,
        %peer,
        user = tracing::field::Empty,
        database = tracing::field::Empty
    );
    async {
        let started = tokio::time::Instant::now();
        let result = run(&shared, &mut client, id, route).await;
        Box::pin(end_session(&shared, &mut client, result, started.elapsed())).await;
        ProxyStats::bump(&shared.stats.clients_closed);
    }
    .instrument(span)
    .await
}

async fn run(
    shared: &Arc<Shared>,
    client: &mut ClientConn,
    id: u64,
    route: Route,
) -> Result<(), SessionError> {
    let deadline = shared.config().proxy.login_timeout;
    // Boxed, like the other stages below: an idle session's task then holds only the small
    // waiting state, not the largest stage's (memory per idle client).
    // One match on the temporary: a named Result here would stay in the task's state for the
    // whole session (memory per idle client).
    let login = match Box::pin(tokio::time::timeout(
        deadline,
        login::login(shared, client, route),
    ))
    .await
    {
        Ok(Ok(Some(login))) => login,
        // A CancelRequest, now handled: neither a login nor a failed one.
        Ok(Ok(None)) => return Ok(()),
        Ok(Err(e)) => return Err(login_failed(shared, client.peer, e)),
        Err(_) => {
            let e = SessionError::LoginTimeout(deadline);
            return Err(login_failed(shared, client.peer, e));
        }
    };
    ProxyStats::bump(&shared.stats.clients_setup_succeeded);
    if shared.config().log.log_connections {
        tracing::info!("login");
    }
    match login {
        Admitted::Session(login) => {
            let entry = shared.clients.register(NewClient {
                id,
                user: login.key.user.clone(),
                database: login.key.database.clone(),
                peer: client.peer,
                admin: false,
                endpoint: login.route,
                route: Some(login.registration.route.clone()),
            });
            Session::new(shared, client, login, entry.entry.clone())
                .run()
                .await
        }
        Admitted::Admin { user } => {
            let entry = shared.clients.register(NewClient {
                id,
                user: user.name.clone(),
                database: crate::admin::ADMIN_DATABASE.into(),
                peer: client.peer,
                admin: true,
                endpoint: Route::Writer,
                route: None,
            });
            Box::pin(crate::admin::console::serve(
                shared,
                client,
                entry.entry.clone(),
            ))
            .await
        }
    }
}

/// Counts the failure; a refused login (not a timeout or a protocol error) is also an event
/// for the status page.
fn login_failed(shared: &Shared, peer: SocketAddr, e: SessionError) -> SessionError {
    ProxyStats::bump(&shared.stats.clients_setup_failed);
    let refused = matches!(
        e,
        SessionError::AuthFailed { .. }
            | SessionError::DatabaseNotAllowed { .. }
            | SessionError::NotAdmin { .. }
    );
    if refused {
        let detail = format!("client {peer}: {e}");
        shared.events.record(EventKind::AuthFailed, detail);
    }
    e
}

/// Tells the client why it ended, if it can still hear it, and logs it.
async fn end_session(
    shared: &Shared,
    client: &mut ClientConn,
    result: Result<(), SessionError>,
    duration: Duration,
) {
    let log = shared.config().log.log_connections;
    match result {
        Ok(()) => {
            if log {
                tracing::info!(?duration, reason = "client terminated", "logout");
            }
        }
        Err(e) => {
            if let Some(fatal) = e.client_fatal() {
                client.send_fatal(&fatal).await;
            }
            match e.side() {
                Side::Client if matches!(e, SessionError::ClientGone) => {
                    if log {
                        tracing::info!(?duration, reason = "client disconnected", "logout")
                    }
                }
                Side::Client | Side::Proxy => tracing::info!(?duration, reason = %e, "logout"),
                Side::Server => tracing::warn!(?duration, reason = %e, "logout"),
            }
        }
    }
}

/// Over max_client_connections: read the startup packet (so libpq shows the message) and refuse.
async fn refuse_over_limit(shared: &Shared, client: &mut ClientConn) {
    let max = shared.config().proxy.max_client_connections;
    let deadline = shared.config().proxy.login_timeout;
    if let Ok(Ok(_)) = tokio::time::timeout(
        deadline,
        negotiate(client, shared.client_tls.load().as_deref()),
    )
    .await
    {
        if let Some(fatal) = SessionError::TooManyClients(max).client_fatal() {
            client.send_fatal(&fatal).await;
        }
    }
    tracing::warn!(peer = %client.peer, max, "client refused: max_client_connections reached");
}

struct Session<'a> {
    shared: &'a Shared,
    client: &'a mut ClientConn,
    login: LoggedIn,
    scanners: Scanners,
    statements: ClientStatements,
    /// The client's session settings now (startup values, then what it SET).
    settings: Settings,
    /// The client's SQL prepared statements (PREPARE name AS ...).
    sql_statements: SqlStatements,
    /// Armed once and kept across requests: re-arming a timer and re-registering for the
    /// shutdown signal on every transaction would cost more than the transaction's own work.
    idle: IdleTimer,
    /// Resolves with why the session must end: shutdown, or KILL_CLIENT.
    stop: Pin<Box<dyn Future<Output = SessionError> + Send>>,
    entry: Arc<ClientEntry>,
}

/// idle_client_timeout, checked lazily: the timer fires at most once per timeout period and
/// re-arms itself if the client was active meanwhile.
struct IdleTimer {
    timeout: Option<Duration>,
    sleep: Pin<Box<tokio::time::Sleep>>,
    idle_since: Instant,
}

impl IdleTimer {
    fn new(timeout: Option<Duration>) -> Self {
        let far = Duration::from_secs(86_400 * 365);
        IdleTimer {
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout.unwrap_or(far))),
            idle_since: Instant::now(),
        }
    }

    /// Resolves once the client has been idle (since `idle_since`) for the whole timeout.
    async fn expired(&mut self) -> Duration {
        let Some(timeout) = self.timeout else {
            return std::future::pending().await;
        };
        loop {
            self.sleep.as_mut().await;
            let due = self.idle_since + timeout;
            if Instant::now() >= due {
                return timeout;
            }
            self.sleep.as_mut().reset(due);
        }
    }
}

impl<'a> Session<'a> {
    fn new(
        shared: &'a Shared,
        client: &'a mut ClientConn,
        login: LoggedIn,
        entry: Arc<ClientEntry>,
    ) -> Self {
        let max = shared.config().proxy.max_message_size;
        Session {
            shared,
            client,
            settings: login.startup.clone(),
            sql_statements: SqlStatements::new(),
            login,
            statements: ClientStatements::default(),
            scanners: Scanners {
                client: Scanner::new(max),
                // The server is trusted with large rows; its messages are streamed, not held.
                server: Scanner::new(usize::MAX),
            },
            idle: IdleTimer::new(shared.config().proxy.idle_client_timeout),
            stop: Box::pin(stop_signal(shared.shutdown.clone(), entry.clone())),
            entry,
        }
    }

    async fn run(&mut self) -> Result<(), SessionError> {
        loop {
            self.wait_for_request().await?;
            if self.client.rbuf[0] == FrontendTag::Terminate.byte() {
                return Ok(());
            }
            self.entry.set_state(ClientState::Waiting);
            let borrowing = borrow::borrow(
                self.shared,
                self.login.route,
                &self.login.key,
                &self.login.user,
            );
            let server = match Box::pin(borrowing).await {
                Ok(server) => {
                    self.entry.set_state(ClientState::Active);
                    server
                }
                Err(failure) => {
                    self.entry.set_state(ClientState::Idle);
                    let error = failure.client_error(self.shared);
                    Box::pin(refuse::refuse_request(self.client, &error)).await?;
                    continue;
                }
            };
            let after = Box::pin(self.transaction(server)).await?;
            self.entry.set_state(ClientState::Idle);
            if after == After::Terminated {
                return Ok(());
            }
        }
    }

    /// Relays one transaction (or, in session mode, the rest of the session).
    async fn transaction(&mut self, mut server: Borrowed) -> Result<After, SessionError> {
        apply_settings(&self.settings, &self.sql_statements, &mut server).await?;
        let route = &self.login.registration.route;
        route.set(Some(ServerRoute {
            addr: server.addr,
            key: server.cancel_key,
        }));
        let (mode, log_pins) = self
            .shared
            .with_config(|c| (c.proxy.pool_mode, c.log.log_pins));
        let mut ex = Exchange::default();
        let mut rewriter = Rewriter {
            statements: &mut self.statements,
            registry: &self.shared.statements,
            touched: Touched::default(),
            pin: None,
            pin_for_good: false,
            maybe_released: false,
            commit_sent: false,
            ignored_pins: self.shared.ignored_pins.get(),
            counters: &self.shared.pins,
            client: &self.entry,
            log_pins,
        };
        let mut unpinned = false;
        let end = loop {
            let end = relay(
                self.client,
                &mut server,
                &mut ex,
                &mut self.scanners,
                &mut rewriter,
                mode == PoolMode::Transaction,
                &self.shared.stats,
            )
            .await;
            if !matches!(end, RelayEnd::CheckPin) {
                break end;
            }
            rewriter.maybe_released = false;
            if pinned_state_gone(&mut server).await {
                if self.shared.config().log.log_pins {
                    tracing::info!("client unpinned: the state that pinned it is gone");
                }
                if let Some(reason) = rewriter.pin.take() {
                    self.shared.pins.release(reason);
                }
                unpinned = true;
                break RelayEnd::Idle;
            }
        };
        if let Some(reason) = rewriter.pin {
            // The pin ends with this relay: the client left, or (session mode) will return
            // the connection now.
            self.shared.pins.release(reason);
        }
        self.entry.set_pin(None);
        route.set(None);
        let commit_sent = rewriter.commit_sent;
        let (touched, pinned) = (rewriter.touched, rewriter.pin.is_some() || unpinned);
        let leaving = match &end {
            RelayEnd::Idle | RelayEnd::ClientTerminated => Leaving::Politely,
            _ => Leaving::Abruptly,
        };
        let scanner = std::mem::replace(&mut self.scanners.server, Scanner::new(usize::MAX));
        let result = match end {
            // CheckPin never leaves the loop above.
            RelayEnd::Idle | RelayEnd::CheckPin => {
                if !touched.is_empty() && self.read_back(&mut server, &touched).await.is_err() {
                    server.discard("could not read back the client's session state");
                    return Ok(After::Continue);
                }
                Ok(After::Continue)
            }
            RelayEnd::ClientTerminated => Ok(After::Terminated),
            RelayEnd::ClientGone => Err(SessionError::ClientGone),
            RelayEnd::Killed {
                reason,
                at_boundary,
            } => Err(SessionError::KilledInTransaction {
                reason,
                at_boundary,
            }),
            RelayEnd::ClientProtocol(e) => Err(e.into()),
            RelayEnd::ServerLost(cause) => {
                // The host may be gone: let the monitor look now rather than at its next tick.
                self.shared.target.topology.request_probe();
                server.discard(&cause);
                if commit_sent && ex.pending_ready() > 0 && !ex.fatal_seen {
                    return Err(SessionError::CommitUnknown { cause });
                }
                return Err(SessionError::ServerLost {
                    cause,
                    fatal_forwarded: ex.fatal_seen,
                });
            }
            RelayEnd::ServerProtocol(e) => {
                server.discard("server protocol violation");
                return Err(SessionError::ServerLost {
                    cause: e.to_string(),
                    fatal_forwarded: false,
                });
            }
        };
        // State Sluice does not track (a pin's reason, settings changed just before the client
        // left) is wiped with DISCARD ALL before anyone else gets the connection.
        let untracked =
            pinned || (!touched.is_empty() && result.as_ref().ok() != Some(&After::Continue));
        if mode == PoolMode::Session || untracked {
            give_back::reset_and_give_back(server, ex, scanner, leaving);
        } else {
            give_back::give_back(server, ex, scanner, leaving);
        }
        result
    }

    /// After a transaction that changed settings or SQL prepared statements: read them back
    /// from the server (the truth, whether the transaction committed or not) and remember them
    /// for this client. Err: the state is unknown and the connection must not be lent again.
    async fn read_back(&mut self, server: &mut Borrowed, touched: &Touched) -> Result<(), ()> {
        if let Some(sql) = touched.read_back_query() {
            let mut rows = server.simple_query_rows(&sql).await.map_err(|_| ())?;
            let values = if rows.is_empty() {
                return Err(());
            } else {
                rows.swap_remove(0)
            };
            touched.apply(
                &self.login.startup,
                &mut self.settings,
                &mut server.applied,
                &values,
            );
        } else {
            touched.apply(
                &self.login.startup,
                &mut self.settings,
                &mut server.applied,
                &[],
            );
        }
        if touched.sql_statements {
            let names = server
                .simple_query(params::SQL_STATEMENTS_QUERY)
                .await
                .map_err(|_| ())?;
            let names: Vec<String> = names.into_iter().flatten().collect();
            params::update_sql_statements(
                touched,
                &names,
                &mut self.sql_statements,
                &mut server.sql_statements,
            );
        }
        Ok(())
    }

    /// Waits, holding no buffers, until the client sends at least a message header.
    async fn wait_for_request(&mut self) -> Result<(), SessionError> {
        const HEADER: usize = 5;
        if self.client.rbuf.len() >= HEADER {
            return Ok(());
        }
        self.client.release_buffers();
        self.idle.idle_since = Instant::now();
        while self.client.rbuf.len() < HEADER {
            tokio::select! {
                biased;
                stop = self.stop.as_mut() => return Err(stop),
                read = self.client.read_more() => read?,
                timeout = self.idle.expired() => return Err(SessionError::IdleTimeout(timeout)),
            }
        }
        Ok(())
    }
}

/// Makes the server connection's session settings the client's own.
async fn apply_settings(
    settings: &Settings,
    statements: &SqlStatements,
    server: &mut Borrowed,
) -> Result<(), SessionError> {
    let sql = [
        params::sync_statement(settings, &server.applied),
        params::sql_statements_sync(statements, &server.sql_statements),
    ]
    .into_iter()
    .flatten()
    .collect::<String>();
    if sql.is_empty() {
        return Ok(());
    }
    if let Err(e) = server.simple_query(&sql).await {
        // The client's own startup settings are invalid, or the server failed: the client
        // sees the server's words, as it would have at login on a plain server.
        tracing::warn!(error = %e, "could not apply the client's session settings");
        return Err(SessionError::Upstream(e));
    }
    server.applied = settings.clone();
    server.sql_statements = statements.clone();
    Ok(())
}

/// True when the server confirms no state that pins is left on this connection.
async fn pinned_state_gone(server: &mut Borrowed) -> bool {
    match server.simple_query(pinning::NOTHING_PINNED_QUERY).await {
        Ok(rows) => rows.first().and_then(|v| v.as_deref()) == Some("t"),
        Err(_) => false,
    }
}

/// What the session does after a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    Continue,
    Terminated,
}

/// Resolves once shutdown is requested or the admin kills this client.
pub(crate) async fn stop_signal(
    shutdown: tokio::sync::watch::Receiver<bool>,
    entry: Arc<ClientEntry>,
) -> SessionError {
    tokio::select! {
        _ = shutdown_signal(shutdown) => SessionError::Shutdown,
        reason = entry.killed() => SessionError::Killed(reason),
    }
}

/// Resolves once shutdown is requested, and keeps resolving immediately after that.
pub(crate) async fn shutdown_signal(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            // The supervisor is gone without a signal: nothing left to wait for.
            std::future::pending::<()>().await;
        }
    }
}
