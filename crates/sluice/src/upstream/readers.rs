//! Read-only routing: one pool per configured host, lent from while that host is a readable
//! standby. Standbys have their own connection limits, so each host gets its own pool rather
//! than a share of the writer's.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use config::HostPort;
use pool::{Group, Limits};

use super::{LiveConnections, PoolKey, ServerConn};
use crate::failover::{HostHealth, HostState};

pub struct ReaderPool {
    pub host: HostPort,
    pub pool: Group<PoolKey, ServerConn>,
    pub live: Arc<LiveConnections>,
    /// Bumped when the host stops being a standby, so connections opened before are cut.
    generation: AtomicU64,
    /// Whether the host was a standby at the last probe round.
    standby: AtomicBool,
    /// Taken out of `database.hosts` by a reload: its pool is closed.
    removed: AtomicBool,
}

impl ReaderPool {
    fn new(host: HostPort, limits: Limits) -> Self {
        ReaderPool {
            host,
            pool: Group::new(limits),
            live: Arc::new(LiveConnections::default()),
            generation: AtomicU64::new(0),
            standby: AtomicBool::new(false),
            removed: AtomicBool::new(false),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// True once a reload took the host out of the configuration.
    pub fn removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    /// Lent, being opened, or waited for: how busy this standby is for Sluice.
    fn load(&self) -> usize {
        self.pool.busy()
    }
}

/// The reader pools, one per configured host. A reload that changes `database.hosts` swaps in
/// a new list: pools of hosts that stay are kept with their connections.
pub struct Readers {
    /// Replaced only by reloads, which run one at a time.
    hosts: ArcSwap<Vec<Arc<ReaderPool>>>,
}

impl Readers {
    pub fn new(hosts: &[HostPort], limits: Limits) -> Self {
        let hosts = hosts
            .iter()
            .map(|host| Arc::new(ReaderPool::new(host.clone(), limits)))
            .collect();
        Readers {
            hosts: ArcSwap::from_pointee(hosts),
        }
    }

    /// Every reader pool, in configuration order.
    pub fn all(&self) -> Arc<Vec<Arc<ReaderPool>>> {
        self.hosts.load_full()
    }

    pub fn set_limits(&self, limits: Limits) {
        for reader in self.hosts.load().iter() {
            reader.pool.set_limits(limits);
        }
    }

    /// Follows a reload of `database.hosts`: added hosts get a pool, removed ones have theirs
    /// closed (idle connections are returned for closing; lent ones finish their transaction
    /// and are closed when given back). Hosts that stay keep their pools.
    pub fn set_hosts(&self, hosts: &[HostPort], limits: Limits) -> Vec<ServerConn> {
        let old = self.hosts.load_full();
        let new: Vec<Arc<ReaderPool>> = hosts
            .iter()
            .map(|host| match old.iter().find(|r| &r.host == host) {
                Some(kept) => kept.clone(),
                None => Arc::new(ReaderPool::new(host.clone(), limits)),
            })
            .collect();
        let mut closed = Vec::new();
        for gone in old.iter().filter(|r| !hosts.contains(&r.host)) {
            gone.removed.store(true, Ordering::Relaxed);
            closed.extend(gone.pool.close());
        }
        self.hosts.store(Arc::new(new));
        closed
    }

    /// The least busy readable standby, skipping the hosts in `skip` (just failed to connect).
    pub fn pick(&self, health: &[HostHealth], skip: &[HostPort]) -> Option<Arc<ReaderPool>> {
        let readers = self.hosts.load();
        health
            .iter()
            .filter(|h| h.readable && !skip.contains(&h.host))
            .filter_map(|h| readers.iter().find(|r| r.host == h.host))
            .min_by_key(|r| r.load())
            .cloned()
    }

    /// Follows a probe round. A host that stops being a standby (down, promoted, excluded)
    /// loses its connections: idle ones are returned for closing, lent ones are cut so their
    /// transactions fail at once rather than run on a host that is no longer a standby. A
    /// standby that only lags keeps its connections; it just gets no new transactions.
    pub fn follow(&self, health: &[HostHealth]) -> Vec<ServerConn> {
        let mut retired = Vec::new();
        for reader in self.hosts.load().iter() {
            let Some(h) = health.iter().find(|h| h.host == reader.host) else {
                // Added by a reload and not probed yet.
                continue;
            };
            let is_standby = h.state == HostState::Standby;
            let was_standby = reader.standby.swap(is_standby, Ordering::Relaxed);
            if was_standby && !is_standby {
                let generation = reader.generation.fetch_add(1, Ordering::Relaxed) + 1;
                retired.extend(reader.pool.retire_all());
                let cut = reader.live.cut_older_than(generation);
                tracing::warn!(host = %reader.host, state = h.state.as_str(), cut, "standby left read-only service");
            }
        }
        retired
    }

    /// Connections past their idle timeout or lifetime, from every host's pool.
    pub fn reap(&self) -> Vec<ServerConn> {
        self.hosts
            .load()
            .iter()
            .flat_map(|r| r.pool.reap())
            .collect()
    }

    pub fn retire_all(&self) -> Vec<ServerConn> {
        self.hosts
            .load()
            .iter()
            .flat_map(|r| r.pool.retire_all())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn host(port: u16) -> HostPort {
        HostPort {
            host: "h".into(),
            port,
        }
    }

    fn health(state: HostState, port: u16) -> HostHealth {
        let lag = Some(Duration::ZERO);
        HostHealth::new(host(port), state, lag, Duration::from_secs(1))
    }

    fn limits() -> Limits {
        Limits {
            max_size: 4,
            max_idle: 4,
            idle_timeout: None,
            lifetime: None,
        }
    }

    #[tokio::test]
    async fn picks_the_least_busy_readable_standby() {
        let readers = Readers::new(&[host(1), host(2), host(3)], limits());
        let round = [
            health(HostState::Writer, 1),
            health(HostState::Standby, 2),
            health(HostState::Standby, 3),
        ];
        assert!(readers.follow(&round).is_empty());
        let key = PoolKey {
            database: "d".into(),
            user: "u".into(),
        };
        // One slot taken on host 2 makes host 3 the least busy.
        let busy = readers.all()[1]
            .pool
            .borrow(&key, Duration::ZERO)
            .await
            .unwrap();
        let picked = |skip: &[HostPort]| readers.pick(&round, skip).map(|r| r.host.port);
        assert_eq!(picked(&[]), Some(3));
        assert_eq!(picked(&[host(3)]), Some(2));
        drop(busy);
        assert!(
            readers.pick(&round[..1], &[]).is_none(),
            "the writer is not a reader"
        );
        // Host 2 goes down: its generation moves so its connections are cut.
        let before = readers.all()[1].generation();
        readers.follow(&[
            round[0].clone(),
            health(HostState::Down, 2),
            round[2].clone(),
        ]);
        assert_eq!(readers.all()[1].generation(), before + 1);
    }

    #[tokio::test]
    async fn a_reload_keeps_the_pools_of_hosts_that_stay() {
        let readers = Readers::new(&[host(1), host(2)], limits());
        let kept = readers.all()[1].clone();
        let gone = readers.all()[0].clone();
        assert!(readers.set_hosts(&[host(2), host(3)], limits()).is_empty());
        let ports: Vec<u16> = readers.all().iter().map(|r| r.host.port).collect();
        assert_eq!(ports, [2, 3]);
        assert!(Arc::ptr_eq(&readers.all()[0], &kept));
        assert!(gone.removed() && !kept.removed());
        let key = PoolKey {
            database: "d".into(),
            user: "u".into(),
        };
        let closed = gone.pool.borrow(&key, Duration::ZERO).await;
        assert!(matches!(closed, Err(pool::BorrowError::Closed)));
        // Host 3 has not been probed yet: nothing to pick, nothing to follow.
        let round = [health(HostState::Standby, 2)];
        assert_eq!(readers.pick(&round, &[]).map(|r| r.host.port), Some(2));
        assert!(readers.follow(&round).is_empty());
    }
}
