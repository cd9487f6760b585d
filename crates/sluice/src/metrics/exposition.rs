//! Encoding every metric at scrape time, from the proxy's shared state.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::{HistogramSnapshot, ProxyStats};
use crate::failover::HostState;
use crate::proxy::Shared;
use crate::session::pinning::PinReason;
use crate::upstream::PoolKey;

/// What `/metrics` answers with (OpenMetrics text, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The whole exposition, as text.
pub fn encode(shared: &Arc<Shared>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SluiceCollector(shared.clone())));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}

struct SluiceCollector(Arc<Shared>);

impl fmt::Debug for SluiceCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SluiceCollector")
    }
}

impl Collector for SluiceCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let shared = &self.0;
        clients(&mut e, &shared.stats)?;
        requests(&mut e, &shared.stats)?;
        pins(&mut e, shared)?;
        servers(&mut e, shared)?;
        pools(&mut e, shared)?;
        targets(&mut e, shared)
    }
}

/// A counter's name is given without `_total`: the encoder adds it.
fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&value, None)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

fn histogram(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    h: HistogramSnapshot,
) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(h.sum_seconds, h.count, &h.buckets, None)
}

fn signed(v: impl TryInto<i64>) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}

fn clients(e: &mut DescriptorEncoder, s: &ProxyStats) -> fmt::Result {
    let get = ProxyStats::get;
    gauge(
        e,
        "sluice_client_connections",
        "Client connections open now.",
        signed(s.clients_now()),
    )?;
    counter(
        e,
        "sluice_client_connections_received",
        "Client connections accepted (cancel requests included).",
        get(&s.clients_received),
    )?;
    counter(
        e,
        "sluice_client_connections_setup_succeeded",
        "Client connections that logged in.",
        get(&s.clients_setup_succeeded),
    )?;
    counter(
        e,
        "sluice_client_connections_setup_failed",
        "Client connections refused before or during login.",
        get(&s.clients_setup_failed),
    )?;
    counter(
        e,
        "sluice_client_connections_closed",
        "Client connections ended, for any reason.",
        get(&s.clients_closed),
    )?;
    counter(
        e,
        "sluice_client_connections_tls",
        "Client connections that negotiated TLS (0 until TLS is supported).",
        get(&s.tls_connections),
    )
}

fn requests(e: &mut DescriptorEncoder, s: &ProxyStats) -> fmt::Result {
    counter(e, "sluice_query_requests", "Client requests answered by a server: each ReadyForQuery relayed (a simple Query, an extended batch up to Sync, or a FunctionCall).", ProxyStats::get(&s.query_requests))?;
    histogram(
        e,
        "sluice_query_response_latency_seconds",
        "From forwarding a request to the server until its ReadyForQuery.",
        s.query_latency.snapshot(),
    )?;
    histogram(
        e,
        "sluice_database_connection_borrow_latency_seconds",
        "How long a client waited for a server connection (successful borrows).",
        s.borrow_latency.snapshot(),
    )
}

fn pins(e: &mut DescriptorEncoder, shared: &Shared) -> fmt::Result {
    let mut now = e.encode_descriptor(
        "sluice_client_connections_pinned",
        "Clients pinned to their server connection now, by reason.",
        None,
        MetricType::Gauge,
    )?;
    for reason in PinReason::ALL {
        let labels = [("reason", reason.as_str())];
        now.encode_family(&labels)?
            .encode_gauge(&signed(shared.pins.pinned_now(reason)))?;
    }
    let mut total = e.encode_descriptor(
        "sluice_client_pins",
        "Clients pinned so far, by reason.",
        None,
        MetricType::Counter,
    )?;
    for reason in PinReason::ALL {
        let labels = [("reason", reason.as_str())];
        total
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&shared.pins.get(reason), None)?;
    }
    Ok(())
}

fn servers(e: &mut DescriptorEncoder, shared: &Shared) -> fmt::Result {
    let pool = shared.target.pool.stats();
    let setups = &shared.target.setups;
    gauge(
        e,
        "sluice_database_connections",
        "Server connections open in the pool (idle and in use).",
        signed(pool.idle + pool.borrowed),
    )?;
    gauge(
        e,
        "sluice_database_connections_borrowed",
        "Server connections lent to clients now.",
        signed(pool.borrowed),
    )?;
    gauge(
        e,
        "sluice_database_connections_max",
        "The pool's size limit in force.",
        signed(pool.max_size),
    )?;
    counter(
        e,
        "sluice_database_connections_setup_succeeded",
        "Server connections opened for the pool.",
        ProxyStats::get(&setups.succeeded),
    )?;
    counter(
        e,
        "sluice_database_connections_setup_failed",
        "Server connections that could not be opened (no writer, refused, timed out).",
        ProxyStats::get(&setups.failed),
    )?;
    let events = shared.target.topology.events();
    counter(
        e,
        "sluice_writer_elections",
        "Elections that found a writer (the first one included).",
        events.writer_elected,
    )?;
    counter(
        e,
        "sluice_writer_lost",
        "Times the writer stopped being one: down, demoted or replaced.",
        events.writer_lost,
    )?;
    counter(
        e,
        "sluice_host_down",
        "Times a host that answered probes stopped answering.",
        events.host_down,
    )?;
    counter(
        e,
        "sluice_host_up",
        "Times a host answered probes again after failing them.",
        events.host_up,
    )?;
    counter(
        e,
        "sluice_replica_lag_exceeded",
        "Times a standby's replay lag went over max_replica_lag.",
        events.lag_exceeded,
    )
}

fn pools(e: &mut DescriptorEncoder, shared: &Shared) -> fmt::Result {
    // The standbys' pools add up per key into one read-only series.
    let mut keys: BTreeMap<(&str, PoolKey), pool::KeyStats> = BTreeMap::new();
    for (role, key, stats) in shared.target.pool_stats() {
        let sum = keys.entry((role, key)).or_default();
        sum.idle += stats.idle;
        sum.borrowed += stats.borrowed;
        sum.connecting += stats.connecting;
        sum.waiting += stats.waiting;
    }
    type Figure = fn(&pool::KeyStats) -> usize;
    let figures: [(&str, &str, Figure); 4] = [
        (
            "sluice_pool_connections",
            "Server connections of this pool (idle, in use, connecting).",
            |k| k.idle + k.borrowed + k.connecting,
        ),
        (
            "sluice_pool_idle_connections",
            "Idle server connections of this pool.",
            |k| k.idle,
        ),
        (
            "sluice_pool_in_use_connections",
            "Server connections of this pool lent to clients.",
            |k| k.borrowed,
        ),
        (
            "sluice_pool_waiting_clients",
            "Clients queued for a server connection of this pool.",
            |k| k.waiting,
        ),
    ];
    for (name, help, figure) in figures {
        let mut family = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for ((role, key), stats) in &keys {
            let labels = [
                ("database", &*key.database),
                ("user", &*key.user),
                ("role", *role),
            ];
            family
                .encode_family(&labels)?
                .encode_gauge(&signed(figure(stats)))?;
        }
    }
    Ok(())
}

fn targets(e: &mut DescriptorEncoder, shared: &Shared) -> fmt::Result {
    let hosts = shared.target.topology.hosts();
    let mut available = e.encode_descriptor(
        "sluice_target_available",
        "1 if the host answered its latest probe, else 0.",
        None,
        MetricType::Gauge,
    )?;
    for h in &hosts {
        let labels = [("host", h.host.to_string())];
        let up = i64::from(h.state != HostState::Down);
        available.encode_family(&labels)?.encode_gauge(&up)?;
    }
    let mut writer = e.encode_descriptor(
        "sluice_target_writer",
        "1 for the elected writer, else 0.",
        None,
        MetricType::Gauge,
    )?;
    for h in &hosts {
        let labels = [("host", h.host.to_string())];
        let is_writer = i64::from(h.state == HostState::Writer);
        writer.encode_family(&labels)?.encode_gauge(&is_writer)?;
    }
    let mut lag = e.encode_descriptor(
        "sluice_target_replay_lag_seconds",
        "Standbys: replay lag (0 when all received WAL is replayed); no series while unknown.",
        None,
        MetricType::Gauge,
    )?;
    for h in hosts.iter().filter(|h| h.state == HostState::Standby) {
        if let Some(seconds) = h.replay_lag.map(|l| l.as_secs_f64()) {
            let labels = [("host", h.host.to_string())];
            lag.encode_family(&labels)?.encode_gauge(&seconds)?;
        }
    }
    let mut readable = e.encode_descriptor(
        "sluice_target_readable",
        "1 for a standby within max_replica_lag (read-only endpoints may use it), else 0.",
        None,
        MetricType::Gauge,
    )?;
    for h in &hosts {
        let labels = [("host", h.host.to_string())];
        readable
            .encode_family(&labels)?
            .encode_gauge(&i64::from(h.readable))?;
    }
    Ok(())
}
