//! Metrics in Prometheus form, named after RDS Proxy's CloudWatch metrics (docs/operations.md).
//!
//! The data path only bumps plain atomics ([`ProxyStats`], the pin counters, the pool's own
//! counts); everything is read and encoded when `/metrics` is scraped, by one collector.
//!
//! Encoding uses `prometheus-client`, the Prometheus project's own Rust client: its registry is
//! a value rather than a process-wide global (so several proxies can run in one test process,
//! which the `metrics` facade's global recorder would not allow), and its collector interface
//! lets gauges such as pool sizes be computed at scrape time instead of being kept up to date
//! on the hot path.

mod exposition;
mod histogram;
mod stats;
mod stats_log;

pub use exposition::{encode, CONTENT_TYPE};
pub use histogram::{HistogramSnapshot, LatencyHistogram};
pub use stats::{ProxyStats, ServerSetups};
pub use stats_log::log_stats;
