//! The current view of the target group: which host, if any, is the writer, and how every
//! host looked at the last probe.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use config::{HostPort, ServerAuth};
use tokio::sync::{watch, Notify};

use super::events::{EventCounts, FailoverEvents};
use super::health::HostHealth;
use crate::events::EventKind;

/// The host new server connections go to, and a generation that changes with every election,
/// so connections opened to an earlier writer can be recognised and retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    pub host: HostPort,
    pub generation: u64,
}

/// What the monitor watches, and how it probes: from `[database]`, replaced by a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub hosts: Vec<HostPort>,
    pub probe_interval: Duration,
    /// A standby further behind than this is not readable.
    pub max_replica_lag: Duration,
    /// Bounds each probe's connect and query.
    pub connect_timeout: Duration,
    /// The same as every other server connection's.
    pub server_auth: ServerAuth,
}

/// Shared between the monitor (which writes it) and the target (which reads it).
#[derive(Debug)]
pub struct Topology {
    writer: watch::Sender<Option<Writer>>,
    /// Elections so far; never reset, so "no writer" in between cannot reuse a generation.
    elections: std::sync::atomic::AtomicU64,
    /// Asks the monitor to probe now (a server connection just failed).
    probe_now: Notify,
    /// Every configured host, in configuration order, as of the last probe round.
    hosts: watch::Sender<Vec<HostHealth>>,
    watched: watch::Sender<Watched>,
    /// `[log] log_failover`: log elections and the loss of the writer.
    pub log_elections: std::sync::atomic::AtomicBool,
    events: FailoverEvents,
    /// When the latest probe round ended, for the admin interface. std Mutex: a timestamp
    /// copied in or out.
    last_round: Mutex<Option<SystemTime>>,
    /// Why the latest probe could not log in, told to clients that find no writer: a TLS or
    /// authentication mistake in the config otherwise shows only as "no writer". std Mutex:
    /// a string swapped in or cloned out.
    probe_failure: std::sync::Mutex<Option<String>>,
}

impl Default for Topology {
    fn default() -> Self {
        Topology::new(Watched {
            hosts: Vec::new(),
            probe_interval: Duration::from_secs(1),
            max_replica_lag: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            server_auth: ServerAuth::default(),
        })
    }
}

impl Topology {
    pub fn new(watched: Watched) -> Self {
        Topology {
            writer: watch::channel(None).0,
            elections: std::sync::atomic::AtomicU64::new(0),
            probe_now: Notify::new(),
            hosts: watch::channel(Vec::new()).0,
            watched: watch::channel(watched).0,
            log_elections: std::sync::atomic::AtomicBool::new(true),
            probe_failure: std::sync::Mutex::new(None),
            events: FailoverEvents::default(),
            last_round: Mutex::new(None),
        }
    }

    /// Wakes the monitor when a reload changes what it watches.
    pub fn subscribe_watched(&self) -> watch::Receiver<Watched> {
        self.watched.subscribe()
    }

    /// A reload's hosts and probe settings; the monitor wakes only if anything changed.
    pub fn set_watched(&self, watched: Watched) {
        self.watched.send_if_modified(|current| {
            let changed = *current != watched;
            *current = watched;
            changed
        });
    }

    pub fn events(&self) -> EventCounts {
        self.events.counts()
    }

    /// The hosts as of the last probe round (empty before the first).
    pub fn hosts(&self) -> Vec<HostHealth> {
        self.hosts.borrow().clone()
    }

    /// Wakes on every probe round that changed a host's state, lag or readability.
    pub fn subscribe_hosts(&self) -> watch::Receiver<Vec<HostHealth>> {
        self.hosts.subscribe()
    }

    /// When the latest probe round ended (None before the first).
    pub fn last_round(&self) -> Option<SystemTime> {
        *self
            .last_round
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a probe round; counts and logs the transitions, and returns them as events.
    pub fn publish_hosts(&self, hosts: Vec<HostHealth>) -> Vec<(EventKind, String)> {
        *self
            .last_round
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(SystemTime::now());
        let mut events = Vec::new();
        self.hosts.send_if_modified(|current| {
            if *current == hosts {
                return false;
            }
            events = self.events.compare(current, &hosts);
            *current = hosts;
            true
        });
        events
    }

    pub fn writer(&self) -> Option<Writer> {
        self.writer.borrow().clone()
    }

    /// Waits up to `timeout` for a writer to be known.
    pub async fn wait_for_writer(&self, timeout: Duration) -> Option<Writer> {
        let mut rx = self.writer.subscribe();
        let found = tokio::time::timeout(timeout, rx.wait_for(Option::is_some)).await;
        // The binding ends the borrow of `rx` before it is dropped (edition 2021 tail rules).
        #[allow(clippy::let_and_return)]
        let writer = match found {
            Ok(Ok(writer)) => writer.clone(),
            _ => None,
        };
        writer
    }

    /// Waits up to `timeout` for an election after the one of `generation`.
    pub async fn wait_for_new_election(&self, generation: u64, timeout: Duration) {
        let mut rx = self.writer.subscribe();
        let newer = rx.wait_for(|_| self.generation() > generation);
        let _ = tokio::time::timeout(timeout, newer).await;
    }

    /// Records the monitor's election; returns true if the writer changed.
    pub fn elect(&self, host: Option<HostPort>) -> bool {
        let mut changed = false;
        self.writer.send_if_modified(|current| {
            let same = current.as_ref().map(|w| &w.host) == host.as_ref();
            if same {
                return false;
            }
            let generation = self.next_generation();
            self.events
                .writer_changed(current.is_some(), host.is_some());
            *current = host.map(|host| Writer { host, generation });
            changed = true;
            true
        });
        changed
    }

    /// The generation the next election will have; every connection opened before it is older.
    pub fn next_generation(&self) -> u64 {
        self.elections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    /// The generation of the latest election (with or without a writer).
    pub fn generation(&self) -> u64 {
        self.elections.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records why a probe failed; true if the reason is new (worth a log line).
    pub fn note_probe_failure(&self, why: String) -> bool {
        let mut last = self
            .probe_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let new = last.as_deref() != Some(why.as_str());
        *last = Some(why);
        new
    }

    pub fn clear_probe_failure(&self) {
        *self
            .probe_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The latest probe failure, if the last probe of some host failed.
    pub fn probe_failure(&self) -> Option<String> {
        self.probe_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn request_probe(&self) {
        self.probe_now.notify_one();
    }

    pub async fn probe_requested(&self) {
        self.probe_now.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(port: u16) -> Option<HostPort> {
        Some(HostPort {
            host: "127.0.0.1".into(),
            port,
        })
    }

    #[tokio::test]
    async fn elections_bump_the_generation_only_on_change() {
        let t = Topology::default();
        assert!(t.writer().is_none());
        assert!(t.elect(host(1)));
        assert!(!t.elect(host(1)));
        assert_eq!(t.writer().unwrap().generation, 1);
        assert!(t.elect(None));
        assert!(t.writer().is_none());
        assert!(t.elect(host(2)));
        assert_eq!(t.writer().unwrap().host.port, 2);
        let events = t.events();
        assert_eq!((events.writer_elected, events.writer_lost), (2, 1));
        assert_eq!(
            t.writer().unwrap().generation,
            3,
            "generations never repeat"
        );
        assert!(t.wait_for_writer(Duration::from_millis(10)).await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_for_a_writer_times_out_or_wakes_on_election() {
        let t = std::sync::Arc::new(Topology::default());
        assert!(t.wait_for_writer(Duration::from_secs(1)).await.is_none());
        let waiter = tokio::spawn({
            let t = t.clone();
            async move { t.wait_for_writer(Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        t.elect(host(3));
        assert_eq!(waiter.await.unwrap().unwrap().host.port, 3);
    }
}
