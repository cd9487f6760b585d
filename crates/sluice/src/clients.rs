//! Who is connected: one entry per logged-in client, for the admin interface (`SHOW CLIENTS`,
//! `/api/clients`, `KILL_CLIENT`). The session updates its entry with relaxed atomic stores
//! at each borrow and return; the map itself is locked once at login and once at logout.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use futures_util::task::AtomicWaker;

use crate::session::cancel::CancelRoute;
use crate::session::pinning::PinReason;
use crate::upstream::Route;

/// What a client is doing, in PgBouncer's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ClientState {
    /// Between transactions, holding no server connection.
    Idle = 0,
    /// Waiting for a server connection (queued, or held by PAUSE).
    Waiting = 1,
    /// Holding a server connection.
    Active = 2,
}

impl ClientState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientState::Idle => "idle",
            ClientState::Waiting => "waiting",
            ClientState::Active => "active",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => ClientState::Waiting,
            2 => ClientState::Active,
            _ => ClientState::Idle,
        }
    }
}

/// One logged-in client.
#[derive(Debug)]
pub struct ClientEntry {
    pub id: u64,
    pub user: Arc<str>,
    pub database: Arc<str>,
    pub peer: SocketAddr,
    pub connected_at: SystemTime,
    /// An admin console rather than a pooled session.
    pub admin: bool,
    /// Where its transactions go: the listener or endpoint it connected to decided.
    pub endpoint: Route,
    state: AtomicU8,
    /// When the client last started waiting for a server, in µs after `connected`.
    waiting_since: AtomicU64,
    connected: Instant,
    /// 0 = not pinned, else the index in [`PinReason::ALL`] plus one.
    pin: AtomicU8,
    /// The server connection lent to this client now, if any (also used for cancels).
    pub route: Option<Arc<CancelRoute>>,
    /// KILL_CLIENT or the end of a drain: the [`KillReason`] is set, then the session's task is
    /// woken so it ends. An atomic and an atomic waker rather than a Notify, because the relay
    /// polls it on every wake-up and a Notify takes a lock on each poll.
    killed: AtomicU8,
    kill_waker: AtomicWaker,
}

impl ClientEntry {
    pub fn state(&self) -> ClientState {
        ClientState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub fn set_state(&self, state: ClientState) {
        if state == ClientState::Waiting {
            let since = u64::try_from(self.connected.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.waiting_since.store(since, Ordering::Relaxed);
        }
        self.state.store(state as u8, Ordering::Relaxed);
    }

    /// How long the client has been waiting for a server connection (if it is).
    pub fn waiting_for(&self) -> Duration {
        let since = Duration::from_micros(self.waiting_since.load(Ordering::Relaxed));
        self.connected.elapsed().saturating_sub(since)
    }

    pub fn pin(&self) -> Option<PinReason> {
        let v = self.pin.load(Ordering::Relaxed) as usize;
        v.checked_sub(1)
            .and_then(|i| PinReason::ALL.get(i).copied())
    }

    pub fn set_pin(&self, reason: Option<PinReason>) {
        let v = reason.map_or(0, |r| r.index() + 1);
        self.pin.store(v as u8, Ordering::Relaxed);
    }

    /// Asks the session to end. The first reason given is the one the client is told.
    pub fn kill(&self, reason: KillReason) {
        let _ = self
            .killed
            .compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire);
        self.kill_waker.wake();
    }

    /// Why the session was asked to end, if it was.
    pub fn kill_reason(&self) -> Option<KillReason> {
        KillReason::from_u8(self.killed.load(Ordering::Acquire))
    }

    /// Resolves once [`ClientEntry::kill`] was called. Only the session's own task may await
    /// it (one waker is kept).
    pub fn killed(&self) -> impl Future<Output = KillReason> + '_ {
        std::future::poll_fn(move |cx| {
            if let Some(reason) = self.kill_reason() {
                return Poll::Ready(reason);
            }
            self.kill_waker.register(cx.waker());
            match self.kill_reason() {
                Some(reason) => Poll::Ready(reason),
                None => Poll::Pending,
            }
        })
    }

    /// The server this client holds now: the address its cancel requests would go to.
    pub fn server(&self) -> Option<SocketAddr> {
        self.route.as_ref().and_then(|r| r.get()).map(|r| r.addr)
    }
}

/// Why a session is asked to end from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KillReason {
    /// KILL_CLIENT from the admin console.
    Admin = 1,
    /// Still running when shutdown_timeout ran out.
    ShutdownTimeout = 2,
}

impl KillReason {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(KillReason::Admin),
            2 => Some(KillReason::ShutdownTimeout),
            _ => None,
        }
    }
}

/// What a new entry is made of.
pub struct NewClient {
    pub id: u64,
    pub user: Arc<str>,
    pub database: Arc<str>,
    pub peer: SocketAddr,
    pub admin: bool,
    pub endpoint: Route,
    pub route: Option<Arc<CancelRoute>>,
}

#[derive(Debug, Default)]
pub struct ClientRegistry {
    // std Mutex: insert at login, remove at logout, copy out for the admin interface.
    clients: Mutex<BTreeMap<u64, Arc<ClientEntry>>>,
}

impl ClientRegistry {
    /// Adds a client; the returned guard removes it when the session ends.
    pub fn register(self: &Arc<Self>, new: NewClient) -> ClientHandle {
        let entry = Arc::new(ClientEntry {
            id: new.id,
            user: new.user,
            database: new.database,
            peer: new.peer,
            connected_at: SystemTime::now(),
            admin: new.admin,
            endpoint: new.endpoint,
            state: AtomicU8::new(ClientState::Idle as u8),
            waiting_since: AtomicU64::new(0),
            connected: Instant::now(),
            pin: AtomicU8::new(0),
            route: new.route,
            killed: AtomicU8::new(0),
            kill_waker: AtomicWaker::new(),
        });
        self.lock().insert(new.id, entry.clone());
        ClientHandle {
            registry: self.clone(),
            entry,
        }
    }

    /// Every client, in login order.
    pub fn all(&self) -> Vec<Arc<ClientEntry>> {
        self.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientEntry>> {
        self.lock().get(&id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientEntry>>> {
        self.clients
            .lock()
            .expect("client registry lock is never poisoned: no panics while held")
    }
}

/// A client's entry, removed from the registry on drop.
pub struct ClientHandle {
    registry: Arc<ClientRegistry>,
    pub entry: Arc<ClientEntry>,
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.entry.id);
    }
}
