//! Following the primary: a monitor probes every host of the target group, and the writer is
//! the single reachable host that is not in recovery. When there is none, or more than one,
//! there is no writer and new server connections wait (fail closed) rather than guess. Standbys
//! within max_replica_lag serve read-only endpoints.

mod events;
mod health;
mod monitor;
mod topology;

pub use events::EventCounts;
pub use health::{HostHealth, HostState};
pub use monitor::{spawn_monitor, MonitorLogin};
pub use topology::{Topology, Watched};
