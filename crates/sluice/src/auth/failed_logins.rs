//! The failed-login limit: per client IP address, at most `max_failed_logins` wrong passwords
//! or unknown users within `failed_login_window`; past that, new connections from the address
//! are refused before any password check, until the oldest failure leaves the window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Addresses tracked at once. Past this, expired entries are dropped; if none have expired,
/// new addresses go untracked until some do (a flood of addresses must not exhaust memory).
const MAX_TRACKED_ADDRESSES: usize = 100_000;

pub struct FailedLogins {
    /// 0: no limit. Atomics, so a reload can change the limit and the window.
    limit: AtomicU32,
    window_micros: AtomicU64,
    // std Mutex: held for a map lookup, never across an await.
    recent: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl FailedLogins {
    pub fn new(limit: Option<u32>, window: Duration) -> Self {
        let limits = FailedLogins {
            limit: AtomicU32::new(0),
            window_micros: AtomicU64::new(0),
            recent: Mutex::new(HashMap::new()),
        };
        limits.set_limits(limit, window);
        limits
    }

    /// A reloaded `max_failed_logins` and `failed_login_window`; failures already counted
    /// stay and are judged by the new values.
    pub fn set_limits(&self, limit: Option<u32>, window: Duration) {
        let micros = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
        self.window_micros.store(micros, Ordering::Relaxed);
        self.limit.store(limit.unwrap_or(0), Ordering::Relaxed);
    }

    fn limits(&self) -> Option<(u32, Duration)> {
        let limit = self.limit.load(Ordering::Relaxed);
        let window = Duration::from_micros(self.window_micros.load(Ordering::Relaxed));
        (limit > 0).then_some((limit, window))
    }

    /// `Err(wait)` when `address` is over the limit: how long until it may try again.
    pub fn check(&self, address: IpAddr) -> Result<(), Duration> {
        let Some((limit, window)) = self.limits() else {
            return Ok(());
        };
        let recent = self.lock();
        let Some(failures) = recent.get(&address.to_canonical()) else {
            return Ok(());
        };
        let now = Instant::now();
        let in_window = failures.iter().filter(|at| now < **at + window);
        match in_window.clone().count() >= limit as usize {
            true => Err(in_window
                .min()
                .map_or(window, |oldest| *oldest + window - now)),
            false => Ok(()),
        }
    }

    /// Counts one failed login from `address`.
    pub fn record(&self, address: IpAddr) {
        let Some((limit, window)) = self.limits() else {
            return;
        };
        let address = address.to_canonical();
        let now = Instant::now();
        let mut recent = self.lock();
        if recent.len() >= MAX_TRACKED_ADDRESSES && !recent.contains_key(&address) {
            recent.retain(|_, failures| failures.back().is_some_and(|at| now < *at + window));
            if recent.len() >= MAX_TRACKED_ADDRESSES {
                return;
            }
        }
        let failures = recent.entry(address).or_default();
        // Only the latest `limit` failures can decide anything.
        while failures.len() >= limit as usize {
            failures.pop_front();
        }
        failures.push_back(now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, VecDeque<Instant>>> {
        self.recent
            .lock()
            .expect("failed-login lock is never poisoned: no panics while held")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "10.0.0.1";
    const OTHER: &str = "10.0.0.2";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn over_the_limit_until_the_oldest_failure_leaves_the_window() {
        let limits = FailedLogins::new(Some(3), Duration::from_secs(60));
        for _ in 0..2 {
            limits.record(ip(ONE));
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        assert_eq!(limits.check(ip(ONE)), Ok(()));
        limits.record(ip(ONE));
        // Failures at t=0, 10, 20; now t=20: the first leaves the window at t=60.
        assert_eq!(limits.check(ip(ONE)), Err(Duration::from_secs(40)));
        assert_eq!(limits.check(ip(OTHER)), Ok(()));
        // An IPv4 client seen through an IPv6 listener is the same address.
        assert!(limits.check(ip("::ffff:10.0.0.1")).is_err());
        tokio::time::advance(Duration::from_secs(40)).await;
        assert_eq!(limits.check(ip(ONE)), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reload_changes_the_limit_and_the_window() {
        let limits = FailedLogins::new(Some(5), Duration::from_secs(60));
        for _ in 0..3 {
            limits.record(ip(ONE));
        }
        assert_eq!(limits.check(ip(ONE)), Ok(()));
        limits.set_limits(Some(2), Duration::from_secs(10));
        assert_eq!(limits.check(ip(ONE)), Err(Duration::from_secs(10)));
        limits.set_limits(None, Duration::from_secs(10));
        assert_eq!(limits.check(ip(ONE)), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn no_limit_counts_nothing() {
        let limits = FailedLogins::new(None, Duration::from_secs(60));
        for _ in 0..100 {
            limits.record(ip(ONE));
        }
        assert_eq!(limits.check(ip(ONE)), Ok(()));
        assert!(limits.lock().is_empty());
    }
}
