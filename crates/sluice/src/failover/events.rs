//! Failover events, logged and counted: what an operator alerts on.

use std::sync::atomic::{AtomicU64, Ordering};

use super::health::{HostHealth, HostState};
use crate::events::EventKind;

#[derive(Debug, Default)]
pub struct FailoverEvents {
    writer_elected: AtomicU64,
    writer_lost: AtomicU64,
    host_up: AtomicU64,
    host_down: AtomicU64,
    lag_exceeded: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// A host became the writer (including the first election at startup).
    pub writer_elected: u64,
    /// The writer stopped being one: it went down, was demoted, or another host took over.
    pub writer_lost: u64,
    /// A host answered a probe after failing one.
    pub host_up: u64,
    /// A host that answered probes stopped answering.
    pub host_down: u64,
    /// A standby's replay lag went over max_replica_lag; it gets no read-only traffic until it
    /// catches up.
    pub lag_exceeded: u64,
}

impl FailoverEvents {
    pub fn counts(&self) -> EventCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EventCounts {
            writer_elected: get(&self.writer_elected),
            writer_lost: get(&self.writer_lost),
            host_up: get(&self.host_up),
            host_down: get(&self.host_down),
            lag_exceeded: get(&self.lag_exceeded),
        }
    }

    pub(super) fn writer_changed(&self, had_writer: bool, has_writer: bool) {
        if had_writer {
            self.writer_lost.fetch_add(1, Ordering::Relaxed);
        }
        if has_writer {
            self.writer_elected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts and logs what changed between two probe rounds, and returns it as events for
    /// the status page. The first round (`before` empty) only sets the baseline.
    pub(super) fn compare(
        &self,
        before: &[HostHealth],
        after: &[HostHealth],
    ) -> Vec<(EventKind, String)> {
        let mut events = Vec::new();
        for (old, new) in before.iter().zip(after) {
            let (was_down, is_down) = (old.state == HostState::Down, new.state == HostState::Down);
            if !was_down && is_down {
                self.host_down.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(host = %new.host, was = old.state.as_str(), "host down");
                events.push((EventKind::HostDown, format!("host {} is down", new.host)));
            } else if was_down && !is_down {
                self.host_up.fetch_add(1, Ordering::Relaxed);
                tracing::info!(host = %new.host, state = new.state.as_str(), "host up");
                let detail = format!("host {} is up ({})", new.host, new.state.as_str());
                events.push((EventKind::HostUp, detail));
            }
            let lagging = |h: &HostHealth| h.state == HostState::Standby && !h.readable;
            if !lagging(old) && lagging(new) {
                self.lag_exceeded.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(host = %new.host, lag = ?new.replay_lag, "standby lag over max_replica_lag: no read-only traffic until it catches up");
                let detail = format!("standby {} lags beyond max_replica_lag", new.host);
                events.push((EventKind::LagExceeded, detail));
            } else if lagging(old) && new.readable {
                tracing::info!(host = %new.host, lag = ?new.replay_lag, "standby caught up: read-only traffic resumes");
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use config::HostPort;

    use super::*;

    fn health(state: HostState, lag_secs: u64) -> HostHealth {
        let host = HostPort {
            host: "h".into(),
            port: 1,
        };
        let bound = Duration::from_secs(10);
        HostHealth::new(host, state, Some(Duration::from_secs(lag_secs)), bound)
    }

    #[test]
    fn transitions_are_counted_once() {
        let events = FailoverEvents::default();
        let up = [health(HostState::Standby, 0)];
        let down = [health(HostState::Down, 0)];
        let lagging = [health(HostState::Standby, 60)];
        events.compare(&[], &down);
        assert_eq!(
            events.counts(),
            EventCounts::default(),
            "first round is the baseline"
        );
        events.compare(&down, &up);
        events.compare(&up, &up);
        events.compare(&up, &lagging);
        events.compare(&lagging, &lagging);
        events.compare(&lagging, &down);
        events.writer_changed(false, true);
        events.writer_changed(true, false);
        let counts = events.counts();
        assert_eq!(
            counts,
            EventCounts {
                writer_elected: 1,
                writer_lost: 1,
                host_up: 1,
                host_down: 1,
                lag_exceeded: 1,
            }
        );
        assert!(!lagging[0].readable && up[0].readable && !down[0].readable);
    }
}
