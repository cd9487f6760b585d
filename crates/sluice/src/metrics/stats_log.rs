//! `[log] stats_interval`: one line with the proxy's figures, for operators without a
//! Prometheus. Rates are over the interval; counts are as of the line.

use std::sync::Arc;
use std::time::Duration;

use super::ProxyStats;
use crate::proxy::Shared;

/// While `stats_interval` is unset (it may be set by a reload), how often to look again.
const SWITCHED_OFF_CHECK: Duration = Duration::from_secs(1);

/// Runs for the proxy's life; the interval is read from the configuration in force each time.
pub async fn log_stats(shared: Arc<Shared>) {
    let mut last = Totals::read(&shared.stats);
    let mut since = tokio::time::Instant::now();
    loop {
        let every = shared.config().log.stats_interval;
        tokio::time::sleep_until(since + every.unwrap_or(SWITCHED_OFF_CHECK)).await;
        let now = Totals::read(&shared.stats);
        let elapsed = since.elapsed();
        since = tokio::time::Instant::now();
        if every.is_none() || shared.config().log.stats_interval.is_none() {
            last = now;
            continue;
        }
        let pool = shared.target.pool.stats();
        let requests = now.requests - last.requests;
        let latency_micros = (now.latency_micros - last.latency_micros)
            .checked_div(now.timed - last.timed)
            .unwrap_or(0);
        tracing::info!(
            clients = shared.stats.clients_now(),
            servers = pool.idle + pool.borrowed,
            servers_in_use = pool.borrowed,
            waiting = pool.waiting,
            requests,
            requests_per_sec = format_args!("{:.1}", requests as f64 / elapsed.as_secs_f64()),
            avg_latency_us = latency_micros,
            logins = now.logins - last.logins,
            login_failures = now.login_failures - last.login_failures,
            "stats"
        );
        last = now;
    }
}

struct Totals {
    requests: u64,
    timed: u64,
    latency_micros: u64,
    logins: u64,
    login_failures: u64,
}

impl Totals {
    fn read(s: &ProxyStats) -> Self {
        Totals {
            requests: ProxyStats::get(&s.query_requests),
            timed: s.query_latency.count(),
            latency_micros: s.query_latency.sum_micros(),
            logins: ProxyStats::get(&s.clients_setup_succeeded),
            login_failures: ProxyStats::get(&s.clients_setup_failed),
        }
    }
}
