//! Following the primary: a monitor probes every host of the target group, and the writer is
//! the single reachable host that is not in recovery. When there is none, or more than one,
//! there is no writer and new server connections wait (fail closed) rather than guess.

mod host_events;
mod monitor;
mod topology;

pub use monitor::{spawn_monitor, MonitorLogin};
pub use topology::{HostRole, HostStatus, Topology};
