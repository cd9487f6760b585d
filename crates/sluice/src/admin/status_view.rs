//! `/api/status`: everything the status page draws, in one answer, so one poll is one request.
//! Counters are totals since start; the page turns them into rates and per-interval averages.

use serde::Serialize;

use super::views::{self, TargetView};
use crate::clients::ClientState;
use crate::events::Event;
use crate::metrics::{LatencyHistogram, ProxyStats};
use crate::proxy::Shared;
use crate::session::pinning::PinReason;

#[derive(Debug, Serialize)]
pub struct StatusView {
    /// RFC 3339, UTC.
    pub time: String,
    pub clients: ClientCounts,
    pub servers: ServerCounts,
    /// Requests answered so far (`sluice_query_requests_total`).
    pub requests: u64,
    pub borrow_latency: LatencyTotals,
    pub query_latency: LatencyTotals,
    pub pins: Vec<PinCount>,
    /// The elected writer (`host:port`), if any.
    pub writer: Option<String>,
    pub paused: bool,
    pub targets: Vec<TargetView>,
    /// Events newer than the `events_after` the page asked with, oldest first.
    pub events: Vec<EventView>,
}

/// Logged-in pooled clients by state; admin console connections apart.
#[derive(Debug, Default, Serialize)]
pub struct ClientCounts {
    pub connected: u64,
    pub idle: u64,
    /// Queued for a server connection, or held by PAUSE.
    pub waiting: u64,
    pub active: u64,
    pub admin: u64,
}

#[derive(Debug, Serialize)]
pub struct ServerCounts {
    /// Idle and lent, as `sluice_database_connections`.
    pub open: usize,
    pub borrowed: usize,
    pub idle: usize,
    pub connecting: usize,
    pub max: usize,
}

#[derive(Debug, Serialize)]
pub struct LatencyTotals {
    pub count: u64,
    pub sum_micros: u64,
}

#[derive(Debug, Serialize)]
pub struct PinCount {
    pub reason: &'static str,
    /// Clients pinned for this reason now.
    pub now: u64,
    /// Clients pinned for this reason so far.
    pub total: u64,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub at: String,
    pub kind: &'static str,
    pub detail: String,
}

pub fn status(shared: &Shared, events_after: u64) -> StatusView {
    let pool = shared.target.pool.stats();
    StatusView {
        time: views::timestamp(std::time::SystemTime::now()),
        clients: client_counts(shared),
        servers: ServerCounts {
            open: pool.idle + pool.borrowed,
            borrowed: pool.borrowed,
            idle: pool.idle,
            connecting: pool.connecting,
            max: pool.max_size,
        },
        requests: ProxyStats::get(&shared.stats.query_requests),
        borrow_latency: totals(&shared.stats.borrow_latency),
        query_latency: totals(&shared.stats.query_latency),
        pins: PinReason::ALL
            .iter()
            .map(|r| PinCount {
                reason: r.as_str(),
                now: shared.pins.pinned_now(*r),
                total: shared.pins.get(*r),
            })
            .collect(),
        writer: shared.target.topology.writer().map(|w| w.host.to_string()),
        paused: shared.pause.is_paused(),
        targets: views::targets(shared),
        events: shared
            .events
            .since(events_after)
            .into_iter()
            .map(event_view)
            .collect(),
    }
}

fn client_counts(shared: &Shared) -> ClientCounts {
    let mut counts = ClientCounts::default();
    for client in shared.clients.all() {
        if client.admin {
            counts.admin += 1;
            continue;
        }
        counts.connected += 1;
        match client.state() {
            ClientState::Idle => counts.idle += 1,
            ClientState::Waiting => counts.waiting += 1,
            ClientState::Active => counts.active += 1,
        }
    }
    counts
}

fn totals(histogram: &LatencyHistogram) -> LatencyTotals {
    LatencyTotals {
        count: histogram.count(),
        sum_micros: histogram.sum_micros(),
    }
}

fn event_view(event: Event) -> EventView {
    EventView {
        seq: event.seq,
        at: views::timestamp(event.at),
        kind: event.kind.as_str(),
        detail: event.detail,
    }
}
