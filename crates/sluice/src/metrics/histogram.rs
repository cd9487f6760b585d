//! A latency histogram of plain atomics: observing is three relaxed additions and no lock, so
//! it can sit on the per-request path. (prometheus-client's own Histogram takes a lock per
//! observation.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds: 25 µs to 10 s, roughly ×2.5 apart, which
/// covers a pooled borrow or a point query on a local network (tens of microseconds) up to a
/// borrow that queued for seconds.
const BOUNDS_MICROS: [u64; 14] = [
    25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 500_000, 2_500_000,
    10_000_000,
];

#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Observations per bucket, not cumulative; the last one is above every bound (+Inf).
    buckets: [AtomicU64; BOUNDS_MICROS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// A consistent-enough copy for one scrape (each field is read atomically on its own).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound in seconds, observations in this bucket only); the last bound is +Inf.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl LatencyHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let index = BOUNDS_MICROS.partition_point(|bound| *bound < micros);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn sum_micros(&self) -> u64 {
        self.sum_micros.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let bounds = BOUNDS_MICROS
            .iter()
            .map(|b| *b as f64 / 1e6)
            .chain([f64::INFINITY]);
        let buckets = bounds
            .zip(&self.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        HistogramSnapshot {
            buckets,
            count: self.count(),
            sum_seconds: self.sum_micros() as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket() {
        let h = LatencyHistogram::default();
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets[2], (0.0001, 1), "the bound itself is inclusive");
        assert_eq!(s.buckets[3], (0.00025, 1));
        assert_eq!(*s.buckets.last().unwrap(), (f64::INFINITY, 1));
        assert_eq!(s.buckets.iter().map(|b| b.1).sum::<u64>(), 3);
        assert!((s.sum_seconds - 60.000201).abs() < 1e-9);
    }
}
