//! Recent events worth a glance on the status page: elections, hosts going up or down, failed
//! logins. A bounded ring in memory, recorded where the same events are logged; none of them
//! is on the per-request path, so a mutex is cheap enough.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

/// How many events are kept; older ones are dropped. A page polling every two seconds sees
/// every event unless more than this many happen between two polls (a login storm), and then
/// it still sees the latest.
pub const EVENT_CAPACITY: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// An election found a writer (the first one at startup included).
    WriterElected,
    /// An election found no writer where there had been one.
    WriterLost,
    /// A host answered its probe after not answering (or at the first probe).
    HostUp,
    /// A host stopped answering its probe.
    HostDown,
    /// A standby's replay lag went over max_replica_lag.
    LagExceeded,
    /// Server connections to the old writer were cut after an election.
    ConnectionsCut,
    /// A client's login was refused: wrong password, unknown user, database not allowed,
    /// not an admin.
    AuthFailed,
    /// A reload (SIGHUP, RELOAD) applied a new configuration.
    ConfigReloaded,
    /// A reload was refused; the running configuration stays.
    ConfigRefused,
    /// Shutdown requested: no new clients, sessions drain.
    Draining,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::WriterElected => "writer_elected",
            EventKind::WriterLost => "writer_lost",
            EventKind::HostUp => "host_up",
            EventKind::HostDown => "host_down",
            EventKind::LagExceeded => "lag_exceeded",
            EventKind::ConnectionsCut => "connections_cut",
            EventKind::AuthFailed => "auth_failed",
            EventKind::ConfigReloaded => "config_reloaded",
            EventKind::ConfigRefused => "config_refused",
            EventKind::Draining => "draining",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    /// Increases by one per event, from 1, so a reader can tell which ones it has seen.
    pub seq: u64,
    pub at: SystemTime,
    pub kind: EventKind,
    /// One line for a human; never a password.
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct EventLog {
    /// std Mutex: held only to push or copy, never across an await.
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    last_seq: u64,
    events: VecDeque<Event>,
}

impl EventLog {
    pub fn record(&self, kind: EventKind, detail: String) {
        let mut ring = self.ring.lock().expect("event lock is never poisoned");
        ring.last_seq += 1;
        if ring.events.len() == EVENT_CAPACITY {
            ring.events.pop_front();
        }
        let seq = ring.last_seq;
        ring.events.push_back(Event {
            seq,
            at: SystemTime::now(),
            kind,
            detail,
        });
    }

    /// The kept events newer than `after`, oldest first.
    pub fn since(&self, after: u64) -> Vec<Event> {
        let ring = self.ring.lock().expect("event lock is never poisoned");
        let first_new = ring.events.partition_point(|e| e.seq <= after);
        ring.events.range(first_new..).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_events_in_order() {
        let log = EventLog::default();
        for n in 0..EVENT_CAPACITY + 5 {
            log.record(EventKind::HostUp, format!("event {n}"));
        }
        let all = log.since(0);
        assert_eq!(all.len(), EVENT_CAPACITY);
        assert_eq!(all[0].seq, 6, "the five oldest were dropped");
        assert_eq!(all.last().unwrap().seq, EVENT_CAPACITY as u64 + 5);
        let newer = log.since(EVENT_CAPACITY as u64 + 3);
        let seqs: Vec<u64> = newer.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [EVENT_CAPACITY as u64 + 4, EVENT_CAPACITY as u64 + 5]);
        assert!(log.since(u64::MAX).is_empty());
    }
}
