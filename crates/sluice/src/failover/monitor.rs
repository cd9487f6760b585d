//! The probe loop: every `probe_interval` (and at once when a server connection fails), each
//! host is asked `pg_is_in_recovery()` over a dedicated connection. Host names are resolved on
//! every connect, so DNS-based failover is followed.

use std::sync::Arc;
use std::time::Duration;

use config::HostPort;
use pgwire::auth::ScramKeyCache;
use tokio::task::JoinHandle;

use super::Topology;
use crate::upstream::{connect, ConnectParams, ServerConn};

/// Who the monitor logs in as (the first configured user) and where.
pub struct MonitorLogin {
    pub user: String,
    pub password: config::Secret<String>,
    pub database: String,
    pub connect_timeout: Duration,
}

/// What one probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Primary,
    Standby,
    Down,
}

pub fn spawn_monitor(
    topology: Arc<Topology>,
    hosts: Vec<HostPort>,
    login: MonitorLogin,
    interval: Duration,
    on_change: impl Fn() + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let key_cache = ScramKeyCache::new(login.password.expose());
        let mut probes: Vec<Option<ServerConn>> = hosts.iter().map(|_| None).collect();
        loop {
            let mut roles = Vec::with_capacity(hosts.len());
            for (host, probe) in hosts.iter().zip(probes.iter_mut()) {
                roles.push(probe_host(host, probe, &login, &key_cache).await);
            }
            let writer = elect(&hosts, &roles);
            if topology.elect(writer.clone()) {
                match &writer {
                    Some(host) => tracing::warn!(writer = %host, ?roles, "writer elected"),
                    None => tracing::warn!(?roles, "no writer: new transactions wait"),
                }
                on_change();
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = topology.probe_requested() => {}
            }
        }
    })
}

/// The single host that is up and not in recovery; none if zero or several claim it.
fn elect(hosts: &[HostPort], roles: &[Role]) -> Option<HostPort> {
    let mut primaries = hosts
        .iter()
        .zip(roles)
        .filter(|(_, r)| **r == Role::Primary);
    let first = primaries.next()?;
    if primaries.next().is_some() {
        tracing::error!(
            "more than one host claims to be the primary: no writer until one steps down"
        );
        return None;
    }
    Some(first.0.clone())
}

async fn probe_host(
    host: &HostPort,
    probe: &mut Option<ServerConn>,
    login: &MonitorLogin,
    key_cache: &ScramKeyCache,
) -> Role {
    if probe.is_none() {
        let params = ConnectParams {
            host,
            user: &login.user,
            password: login.password.expose(),
            database: &login.database,
            init_query: "SET application_name = 'sluice-monitor'",
            timeout: login.connect_timeout,
            key_cache,
            max_prepared: 1,
        };
        match connect(&params).await {
            Ok(conn) => *probe = Some(conn),
            Err(e) => {
                tracing::debug!(host = %host, error = %e, "probe connection failed");
                return Role::Down;
            }
        }
    }
    let Some(conn) = probe.as_mut() else {
        return Role::Down;
    };
    let asked = tokio::time::timeout(
        login.connect_timeout,
        conn.simple_query("SELECT pg_is_in_recovery()"),
    );
    match asked.await {
        Ok(Ok(rows)) => match rows.first().and_then(|v| v.as_deref()) {
            Some("f") => Role::Primary,
            Some("t") => Role::Standby,
            _ => Role::Down,
        },
        _ => {
            // Reconnect next time: a frozen or dead host must not keep a half-open probe.
            *probe = None;
            Role::Down
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: u16) -> Vec<HostPort> {
        (1..=n)
            .map(|port| HostPort {
                host: "h".into(),
                port,
            })
            .collect()
    }

    #[test]
    fn exactly_one_primary_is_the_writer() {
        let h = hosts(3);
        assert_eq!(
            elect(&h, &[Role::Standby, Role::Primary, Role::Down])
                .unwrap()
                .port,
            2
        );
        assert_eq!(elect(&h, &[Role::Standby, Role::Standby, Role::Down]), None);
        assert_eq!(
            elect(&h, &[Role::Primary, Role::Primary, Role::Standby]),
            None,
            "split brain fails closed"
        );
        assert_eq!(elect(&h, &[Role::Down, Role::Down, Role::Down]), None);
    }
}
