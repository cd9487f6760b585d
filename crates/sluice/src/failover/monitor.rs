//! The probe loop: every `probe_interval` (and at once when a server connection fails), each
//! host is asked `pg_is_in_recovery()` over a dedicated connection. Host names are resolved on
//! every connect, so DNS-based failover is followed. Elections and hosts going up or down are
//! also recorded as events for the status page.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use config::HostPort;
use tokio::task::JoinHandle;

use super::{HostHealth, HostState, Topology, Watched};
use arc_swap::ArcSwap;

use crate::auth::UserDirectory;
use crate::credentials::{Credentials, LoginAs};
use crate::events::{EventKind, EventLog};
use crate::tls::ServerTls;
use crate::upstream::{connect, ConnectParams, ServerConn};

/// Who the monitor logs in as (the first configured user, its credentials rotating with the
/// user's and following a reload) and where.
pub struct MonitorLogin {
    pub users: Arc<ArcSwap<UserDirectory>>,
    pub user: String,
    pub database: String,
    /// The same TLS settings as every other server connection (a reload swaps them).
    pub tls: Arc<ArcSwap<ServerTls>>,
}

impl MonitorLogin {
    /// The user's credentials as of now; `None` if a reload removed the user (reloads refuse
    /// that, so only a bug gets here).
    fn credentials(&self) -> Option<Arc<Credentials>> {
        let users = self.users.load();
        users.get(&self.user).map(|entry| entry.credentials.clone())
    }
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// Not in recovery, on this timeline, of the cluster with this system identifier.
    Primary {
        timeline: u32,
        system_id: String,
    },
    Standby {
        system_id: String,
        replay_lag: Option<Duration>,
    },
    Down,
}

/// Role, the cluster's system identifier, for a primary the current WAL file name (whose first
/// eight hex digits are the timeline), and for a standby its replay lag in seconds: zero when
/// it has replayed all it received, else the age of the last replayed commit (the usual
/// measure; it overstates lag on a primary without writes, which only matters while replay is
/// behind). All readable by an ordinary role.
const PROBE_QUERY: &str = "SELECT pg_is_in_recovery()::text, \
    (SELECT system_identifier FROM pg_control_system())::text, \
    CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END, \
    CASE WHEN NOT pg_is_in_recovery() THEN NULL \
         WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN '0' \
         ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::text END";

/// Probe interval while there is no writer: the time from a promotion to the first queued
/// transaction running on the new primary is at most this, not `probe_interval`.
const NO_WRITER_PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// Probes the hosts of `topology`'s [`Watched`], following a reload that changes them: probe
/// connections to hosts that stay are kept, and so is the cluster identity while any host is
/// kept (it guards against electing a host of another cluster).
pub fn spawn_monitor(
    topology: Arc<Topology>,
    login: MonitorLogin,
    events: Arc<EventLog>,
    on_change: impl Fn() + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut watched = topology.subscribe_watched();
        let mut hosts: Vec<HostPort> = Vec::new();
        let mut probes: Vec<Option<ServerConn>> = Vec::new();
        // The cluster is the one the first writer belonged to; a host of another cluster (a
        // wrongly configured address, a database rebuilt from scratch) is never elected.
        let mut cluster: Option<String> = None;
        let mut tls = login.tls.load_full();
        loop {
            let plan = watched.borrow_and_update().clone();
            if plan.hosts != hosts {
                follow_hosts(&mut hosts, &mut probes, &mut cluster, plan.hosts.clone());
            }
            // A reload swapped the TLS settings: probe over new connections made under them.
            if !Arc::ptr_eq(&tls, &login.tls.load()) {
                tls = login.tls.load_full();
                probes.iter_mut().for_each(|probe| *probe = None);
            }
            // All hosts at once: a frozen host must not delay noticing the others.
            let probing = hosts
                .iter()
                .zip(probes.iter_mut())
                .map(|(host, probe)| probe_host(host, probe, &login, &plan, &topology));
            let roles = futures_util::future::join_all(probing).await;
            let writer = elect(&hosts, &roles, &mut cluster);
            if writer.is_some() {
                topology.clear_probe_failure();
            }
            let health = health(
                &hosts,
                &roles,
                writer.as_ref(),
                cluster.as_deref(),
                plan.max_replica_lag,
            );
            for (kind, detail) in topology.publish_hosts(health) {
                events.record(kind, detail);
            }
            if topology.elect(writer.clone()) {
                let (kind, detail) = election_event(writer.as_ref());
                events.record(kind, detail);
                match &writer {
                    _ if !topology.log_elections.load(Ordering::Relaxed) => {}
                    Some(host) => tracing::info!(writer = %host, ?roles, "writer elected"),
                    None => tracing::warn!(?roles, "no writer: new transactions wait"),
                }
                on_change();
            }
            // Without a writer, transactions are queued: look for the new one more often.
            let pause = match topology.writer() {
                Some(_) => plan.probe_interval,
                None => plan.probe_interval.min(NO_WRITER_PROBE_INTERVAL),
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = topology.probe_requested() => {}
                // A reload: probe the new hosts now. The sender lives in `topology`.
                _ = watched.changed() => {}
            }
        }
    })
}

/// Moves the monitor to a reloaded host list. Probe connections follow their hosts; the
/// cluster identity is forgotten only when no host is kept, since then the configuration
/// names a different target group (a blue/green switch, say).
fn follow_hosts(
    hosts: &mut Vec<HostPort>,
    probes: &mut Vec<Option<ServerConn>>,
    cluster: &mut Option<String>,
    new: Vec<HostPort>,
) {
    let mut old: Vec<(HostPort, Option<ServerConn>)> =
        hosts.drain(..).zip(probes.drain(..)).collect();
    let kept = new.iter().any(|h| old.iter().any(|(o, _)| o == h));
    if !kept && cluster.take().is_some() {
        tracing::warn!(
            "database.hosts shares no host with the previous list: the next writer elected \
             defines the cluster"
        );
    }
    for host in &new {
        let probe = old
            .iter_mut()
            .find(|(o, _)| o == host)
            .and_then(|(_, p)| p.take());
        probes.push(probe);
    }
    *hosts = new;
}

/// The event for an election that changed the writer.
fn election_event(writer: Option<&HostPort>) -> (EventKind, String) {
    match writer {
        Some(host) => (EventKind::WriterElected, format!("writer elected: {host}")),
        None => (
            EventKind::WriterLost,
            "no writer: new transactions wait".to_owned(),
        ),
    }
}

/// The host that is up, not in recovery, of this cluster, and on the newest timeline; none if
/// there is no such host, or if several tie (split brain that timelines cannot settle).
fn elect(hosts: &[HostPort], roles: &[Role], cluster: &mut Option<String>) -> Option<HostPort> {
    let primaries: Vec<(&HostPort, u32, &String)> = hosts
        .iter()
        .zip(roles)
        .filter_map(|(host, role)| match role {
            Role::Primary {
                timeline,
                system_id,
                ..
            } => Some((host, *timeline, system_id)),
            _ => None,
        })
        .filter(|(host, _, system_id)| {
            let ours = cluster.as_ref().is_none_or(|c| c == *system_id);
            if !ours {
                tracing::error!(host = %host, "host belongs to another cluster (system identifier differs): never elected");
            }
            ours
        })
        .collect();
    let newest = primaries.iter().map(|(_, timeline, _)| *timeline).max()?;
    let mut on_newest = primaries
        .iter()
        .filter(|(_, timeline, _)| *timeline == newest);
    let (host, _, system_id) = on_newest.next()?;
    if on_newest.next().is_some() {
        tracing::error!(
            "more than one primary on the newest timeline: no writer until one steps down"
        );
        return None;
    }
    if primaries.len() > 1 {
        tracing::error!(writer = %host, "an old primary is up and writable; it gets no traffic");
    }
    cluster.get_or_insert_with(|| (*system_id).clone());
    Some((*host).clone())
}

/// Every host's state after an election: the writer, standbys of this cluster, the rest.
fn health(
    hosts: &[HostPort],
    roles: &[Role],
    writer: Option<&HostPort>,
    cluster: Option<&str>,
    max_lag: Duration,
) -> Vec<HostHealth> {
    hosts
        .iter()
        .zip(roles)
        .map(|(host, role)| {
            let ours = |id: &String| cluster.is_none_or(|c| c == id);
            let (state, lag) = match role {
                _ if Some(host) == writer => (HostState::Writer, None),
                Role::Standby {
                    system_id,
                    replay_lag,
                } if ours(system_id) => (HostState::Standby, *replay_lag),
                Role::Down => (HostState::Down, None),
                _ => (HostState::Excluded, None),
            };
            HostHealth::new(host.clone(), state, lag, max_lag)
        })
        .collect()
}

async fn probe_host(
    host: &HostPort,
    probe: &mut Option<ServerConn>,
    login: &MonitorLogin,
    plan: &Watched,
    topology: &Topology,
) -> Role {
    if probe.is_none() {
        let tls = login.tls.load_full();
        let tls = &tls;
        let connect_as = |user: LoginAs| async move {
            let params = ConnectParams {
                host,
                user: user.user(),
                password: user.password(),
                database: &login.database,
                init_query: "",
                application_name: Some("sluice-monitor"),
                timeout: plan.connect_timeout,
                key_cache: user.key_cache(),
                max_prepared: 1,
                tls,
                server_auth: plan.server_auth,
            };
            connect(&params).await
        };
        // No patience: the next probe comes soon enough, and a frozen probe would delay the
        // election.
        let Some(credentials) = login.credentials() else {
            return Role::Down;
        };
        match credentials.log_in(Duration::ZERO, connect_as).await {
            Ok(conn) => *probe = Some(conn),
            Err(e) => {
                if topology.note_probe_failure(format!("{host}: {e}")) {
                    tracing::warn!(host = %host, error = %e, "probe connection failed");
                }
                return Role::Down;
            }
        }
    }
    let Some(conn) = probe.as_mut() else {
        return Role::Down;
    };
    let asked = tokio::time::timeout(plan.connect_timeout, conn.simple_query_rows(PROBE_QUERY));
    match asked.await {
        Ok(Ok(rows)) => role_from(rows.first().map(Vec::as_slice).unwrap_or_default()),
        _ => {
            // Reconnect next time: a frozen or dead host must not keep a half-open probe.
            *probe = None;
            Role::Down
        }
    }
}

fn role_from(row: &[Option<String>]) -> Role {
    let (Some(Some(recovery)), Some(Some(system_id))) = (row.first(), row.get(1)) else {
        return Role::Down;
    };
    let system_id = system_id.clone();
    match recovery.as_str() {
        "true" => {
            let lag = row.get(3).cloned().flatten();
            let replay_lag = lag
                .and_then(|secs| secs.parse::<f64>().ok())
                .and_then(|secs| Duration::try_from_secs_f64(secs.max(0.0)).ok());
            Role::Standby {
                system_id,
                replay_lag,
            }
        }
        "false" => {
            let walfile = row.get(2).cloned().flatten().unwrap_or_default();
            let timeline = walfile
                .get(..8)
                .and_then(|t| u32::from_str_radix(t, 16).ok());
            timeline.map_or(Role::Down, |timeline| Role::Primary {
                timeline,
                system_id,
            })
        }
        _ => Role::Down,
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

    fn primary(timeline: u32, system_id: &str) -> Role {
        Role::Primary {
            timeline,
            system_id: system_id.into(),
        }
    }

    fn standby() -> Role {
        Role::Standby {
            system_id: "1".into(),
            replay_lag: Some(Duration::ZERO),
        }
    }

    #[test]
    fn the_primary_on_the_newest_timeline_is_the_writer() {
        let h = hosts(3);
        let mut cluster = None;
        let got = elect(&h, &[standby(), primary(1, "1"), Role::Down], &mut cluster);
        assert_eq!(got.unwrap().port, 2);
        assert_eq!(cluster.as_deref(), Some("1"));
        assert_eq!(
            elect(&h, &[standby(), standby(), Role::Down], &mut cluster),
            None
        );
        assert_eq!(
            elect(&h, &[Role::Down, Role::Down, Role::Down], &mut cluster),
            None
        );
        // The old primary restarted without rewind: the promoted one is on a newer timeline.
        let got = elect(
            &h,
            &[primary(1, "1"), primary(2, "1"), Role::Down],
            &mut cluster,
        );
        assert_eq!(got.unwrap().port, 2);
        // Two on the same timeline: fail closed.
        let tie = [primary(2, "1"), primary(2, "1"), standby()];
        assert_eq!(elect(&h, &tie, &mut cluster), None);
        // Another cluster's primary is never elected.
        let other = [primary(9, "other"), standby(), Role::Down];
        assert_eq!(elect(&h, &other, &mut cluster), None);
    }

    #[test]
    fn standbys_of_the_cluster_within_the_lag_bound_are_readable() {
        let h = hosts(4);
        let lagging = Role::Standby {
            system_id: "1".into(),
            replay_lag: Some(Duration::from_secs(60)),
        };
        let foreign = Role::Standby {
            system_id: "2".into(),
            replay_lag: Some(Duration::ZERO),
        };
        let roles = [primary(1, "1"), standby(), lagging, foreign];
        let got = health(&h, &roles, h.first(), Some("1"), Duration::from_secs(10));
        let states: Vec<_> = got.iter().map(|h| (h.state, h.readable)).collect();
        assert_eq!(
            states,
            [
                (HostState::Writer, false),
                (HostState::Standby, true),
                (HostState::Standby, false),
                (HostState::Excluded, false),
            ]
        );
    }

    #[test]
    fn a_reload_keeps_the_cluster_while_a_host_stays() {
        let mut hosts = Vec::new();
        let mut probes = Vec::new();
        let mut cluster = None;
        follow_hosts(&mut hosts, &mut probes, &mut cluster, self::hosts(2));
        assert_eq!((hosts.len(), probes.len()), (2, 2));
        cluster = Some("1".into());
        let mut next = self::hosts(3);
        next.remove(0);
        follow_hosts(&mut hosts, &mut probes, &mut cluster, next);
        assert_eq!(hosts.iter().map(|h| h.port).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(probes.len(), 2);
        assert_eq!(cluster.as_deref(), Some("1"), "host 2 stayed");
        let elsewhere = vec![HostPort {
            host: "other".into(),
            port: 1,
        }];
        follow_hosts(&mut hosts, &mut probes, &mut cluster, elsewhere);
        assert_eq!(cluster, None, "no host in common: a new target group");
    }

    #[test]
    fn probe_rows_decode() {
        let row = |a: &str, b: &str, c: Option<&str>| {
            vec![
                Some(a.to_string()),
                Some(b.to_string()),
                c.map(str::to_string),
            ]
        };
        let wal = Some("000000020000000000000003");
        assert_eq!(role_from(&row("false", "7", wal)), primary(2, "7"));
        let standby = |lag: Option<Duration>| Role::Standby {
            system_id: "7".into(),
            replay_lag: lag,
        };
        let with_lag = |lag: &str| {
            let mut r = row("true", "7", None);
            r.push(Some(lag.to_string()));
            r
        };
        assert_eq!(role_from(&row("true", "7", None)), standby(None));
        assert_eq!(role_from(&with_lag("0")), standby(Some(Duration::ZERO)));
        let lag = Some(Duration::from_millis(2500));
        assert_eq!(role_from(&with_lag("2.5")), standby(lag));
        assert_eq!(role_from(&[]), Role::Down);
        assert_eq!(role_from(&row("false", "7", Some("zz"))), Role::Down);
    }
}
