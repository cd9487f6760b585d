//! The proxy's counters, as plain atomics the data path bumps with relaxed additions. Gauges
//! that can be read from elsewhere (pool sizes, hosts, pinned clients) are not kept here but
//! computed when scraped.

use std::sync::atomic::{AtomicU64, Ordering};

use super::LatencyHistogram;

#[derive(Debug, Default)]
pub struct ProxyStats {
    /// TCP connections accepted on the client listener (CancelRequest connections included).
    pub clients_received: AtomicU64,
    /// Clients that finished startup and authentication (sessions and admin consoles).
    pub clients_setup_succeeded: AtomicU64,
    /// Connections refused before or during login: bad password, unknown user or database,
    /// login timeout, over max_client_connections, protocol errors, an unreachable server.
    pub clients_setup_failed: AtomicU64,
    /// Client connections ended, for any reason. Open now = received - closed.
    pub clients_closed: AtomicU64,
    /// Client connections that negotiated TLS. Stays 0 until TLS is supported: the TLS
    /// handshake in `accept/` is to call [`ProxyStats::bump`] on it once it succeeds.
    pub tls_connections: AtomicU64,
    /// Requests answered: each ReadyForQuery relayed from a server to a client, i.e. one
    /// simple Query, one extended-protocol batch up to Sync, or one FunctionCall.
    pub query_requests: AtomicU64,
    /// From forwarding a request to the server to its ReadyForQuery.
    pub query_latency: LatencyHistogram,
    /// How long a client waited for a server connection (successful borrows).
    pub borrow_latency: LatencyHistogram,
}

impl ProxyStats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Client connections open now.
    pub fn clients_now(&self) -> u64 {
        let closed = Self::get(&self.clients_closed);
        Self::get(&self.clients_received).saturating_sub(closed)
    }
}

/// Server connections opened for the pool (the monitor's probe connections not included).
#[derive(Debug, Default)]
pub struct ServerSetups {
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
}
