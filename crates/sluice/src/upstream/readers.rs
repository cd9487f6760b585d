//! Read-only routing: one pool per configured host, lent from while that host is a readable
//! standby. Standbys have their own connection limits, so each host gets its own pool rather
//! than a share of the writer's.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

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
}

impl ReaderPool {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Lent, being opened, or waited for: how busy this standby is for Sluice.
    fn load(&self) -> usize {
        self.pool.busy()
    }
}

pub struct Readers {
    hosts: Vec<ReaderPool>,
}

impl Readers {
    pub fn new(hosts: &[HostPort], limits: Limits) -> Self {
        let hosts = hosts
            .iter()
            .map(|host| ReaderPool {
                host: host.clone(),
                pool: Group::new(limits),
                live: Arc::new(LiveConnections::default()),
                generation: AtomicU64::new(0),
                standby: AtomicBool::new(false),
            })
            .collect();
        Readers { hosts }
    }

    pub fn get(&self, index: usize) -> &ReaderPool {
        &self.hosts[index]
    }

    pub fn set_limits(&self, limits: Limits) {
        for reader in &self.hosts {
            reader.pool.set_limits(limits);
        }
    }

    /// The least busy readable standby, skipping the hosts in `skip` (just failed to connect).
    pub fn pick(&self, health: &[HostHealth], skip: &[usize]) -> Option<usize> {
        health
            .iter()
            .enumerate()
            .filter(|(i, h)| h.readable && !skip.contains(i) && *i < self.hosts.len())
            .min_by_key(|(i, _)| self.hosts[*i].load())
            .map(|(i, _)| i)
    }

    /// Follows a probe round. A host that stops being a standby (down, promoted, excluded)
    /// loses its connections: idle ones are returned for closing, lent ones are cut so their
    /// transactions fail at once rather than run on a host that is no longer a standby. A
    /// standby that only lags keeps its connections; it just gets no new transactions.
    pub fn follow(&self, health: &[HostHealth]) -> Vec<ServerConn> {
        let mut retired = Vec::new();
        for (reader, h) in self.hosts.iter().zip(health) {
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
        self.hosts.iter().flat_map(|r| r.pool.reap()).collect()
    }

    pub fn retire_all(&self) -> Vec<ServerConn> {
        self.hosts
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
        let busy = readers
            .get(1)
            .pool
            .borrow(&key, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(readers.pick(&round, &[]), Some(2));
        assert_eq!(readers.pick(&round, &[2]), Some(1));
        drop(busy);
        assert_eq!(
            readers.pick(&round[..1], &[]),
            None,
            "the writer is not a reader"
        );
        // Host 2 goes down: its generation moves so its connections are cut.
        let before = readers.get(1).generation();
        readers.follow(&[
            round[0].clone(),
            health(HostState::Down, 2),
            round[2].clone(),
        ]);
        assert_eq!(readers.get(1).generation(), before + 1);
    }
}
