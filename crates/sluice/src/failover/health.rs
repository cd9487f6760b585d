//! What the monitor last saw of each host: the view read-only routing picks standbys from, and
//! the one operators see.

use std::time::Duration;

use config::HostPort;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostState {
    /// The elected writer.
    Writer,
    /// In recovery, of this cluster: may serve read-only traffic.
    Standby,
    /// Up but never used: a second primary (split brain) or a host of another cluster.
    Excluded,
    /// Unreachable, or its probe failed.
    Down,
}

impl HostState {
    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Writer => "writer",
            HostState::Standby => "standby",
            HostState::Excluded => "excluded",
            HostState::Down => "down",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostHealth {
    pub host: HostPort,
    pub state: HostState,
    /// Standbys only: how far replay is behind what the standby has received, as time since
    /// the last replayed commit (zero when everything received is replayed). `None` when
    /// unknown: nothing replayed yet since the standby started.
    pub replay_lag: Option<Duration>,
    /// Standby within `max_replica_lag`: read-only transactions may go here.
    pub readable: bool,
}

impl HostHealth {
    pub fn new(
        host: HostPort,
        state: HostState,
        replay_lag: Option<Duration>,
        bound: Duration,
    ) -> Self {
        let readable = state == HostState::Standby && replay_lag.is_some_and(|lag| lag <= bound);
        HostHealth {
            host,
            state,
            replay_lag,
            readable,
        }
    }
}
