//! `[log] stats_interval`: one line with the proxy's figures, for operators without a
//! Prometheus. Rates are over the interval; counts are as of the line.

use std::sync::Arc;
use std::time::Duration;

use super::ProxyStats;
use crate::proxy::Shared;

pub async fn log_stats(shared: Arc<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last = Totals::read(&shared.stats);
    loop {
        tick.tick().await;
        let now = Totals::read(&shared.stats);
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
            requests_per_sec = format_args!("{:.1}", requests as f64 / every.as_secs_f64()),
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
