//! The current view of the target group: which host, if any, is the writer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use config::HostPort;
use tokio::sync::{watch, Notify};

/// The host new server connections go to, and a generation that changes with every election,
/// so connections opened to an earlier writer can be recognised and retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    pub host: HostPort,
    pub generation: u64,
}

/// What the latest probe found for one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRole {
    /// The elected writer.
    Writer,
    /// Up and in recovery.
    Standby,
    /// Up and not in recovery, but not elected (an old primary, a tie, another cluster).
    Ineligible,
    /// Could not be reached or asked.
    Unreachable,
}

impl HostRole {
    pub fn as_str(self) -> &'static str {
        match self {
            HostRole::Writer => "writer",
            HostRole::Standby => "standby",
            HostRole::Ineligible => "ineligible",
            HostRole::Unreachable => "unreachable",
        }
    }
}

/// One host as of its latest probe.
#[derive(Debug, Clone)]
pub struct HostStatus {
    pub host: HostPort,
    pub role: HostRole,
    /// For a standby while a writer is known: how many bytes of the writer's WAL it has yet
    /// to replay.
    pub replay_lag_bytes: Option<u64>,
    pub probed_at: SystemTime,
}

/// Shared between the monitor (which writes it) and the target (which reads it).
#[derive(Debug)]
pub struct Topology {
    writer: watch::Sender<Option<Writer>>,
    /// Elections so far; never reset, so "no writer" in between cannot reuse a generation.
    elections: std::sync::atomic::AtomicU64,
    /// Asks the monitor to probe now (a server connection just failed).
    probe_now: Notify,
    /// Elections that found a writer (the first one included).
    writer_elections: AtomicU64,
    /// Elections that found no writer where there had been one.
    writer_losses: AtomicU64,
    /// The latest probe round, for the admin interface. std Mutex: replaced once per round,
    /// copied out by the admin interface; never held across an await.
    hosts: Mutex<Vec<HostStatus>>,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            writer: watch::channel(None).0,
            elections: std::sync::atomic::AtomicU64::new(0),
            probe_now: Notify::new(),
            writer_elections: AtomicU64::new(0),
            writer_losses: AtomicU64::new(0),
            hosts: Mutex::new(Vec::new()),
        }
    }
}

impl Topology {
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

    /// Records the monitor's election; returns true if the writer changed.
    pub fn elect(&self, host: Option<HostPort>) -> bool {
        let mut changed = false;
        self.writer.send_if_modified(|current| {
            let same = current.as_ref().map(|w| &w.host) == host.as_ref();
            if same {
                return false;
            }
            let generation = self.next_generation();
            let event = match host {
                Some(_) => &self.writer_elections,
                None => &self.writer_losses,
            };
            event.fetch_add(1, Ordering::Relaxed);
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

    /// Elections that found a writer, and ones that lost it, so far.
    pub fn failover_events(&self) -> (u64, u64) {
        (
            self.writer_elections.load(Ordering::Relaxed),
            self.writer_losses.load(Ordering::Relaxed),
        )
    }

    /// Records what the latest probe round found; returns the round before it.
    pub fn record_probes(&self, hosts: Vec<HostStatus>) -> Vec<HostStatus> {
        let mut current = self.hosts.lock().expect("hosts lock is never poisoned");
        std::mem::replace(&mut *current, hosts)
    }

    /// Every host as of the latest probe round (empty before the first).
    pub fn hosts(&self) -> Vec<HostStatus> {
        self.hosts
            .lock()
            .expect("hosts lock is never poisoned")
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
        assert_eq!(t.failover_events(), (2, 1));
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
