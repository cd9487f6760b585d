//! The probe loop: every `probe_interval` (and at once when a server connection fails), each
//! host is asked `pg_is_in_recovery()` over a dedicated connection. Host names are resolved on
//! every connect, so DNS-based failover is followed. Elections and hosts going up or down are
//! also recorded as events for the status page.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use config::HostPort;
use pgwire::auth::ScramKeyCache;
use tokio::task::JoinHandle;

use super::host_events::{election_event, host_changes};
use super::{HostRole, HostStatus, Topology};
use crate::events::EventLog;
use crate::upstream::{connect, ConnectParams, ServerConn};

/// Who the monitor logs in as (the first configured user) and where.
pub struct MonitorLogin {
    pub user: String,
    pub password: config::Secret<String>,
    pub database: String,
    pub connect_timeout: Duration,
    /// Log elections and the loss of the writer (`[log] log_failover`).
    pub log_elections: bool,
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// Not in recovery, on this timeline, of the cluster with this system identifier.
    Primary {
        timeline: u32,
        system_id: String,
        /// Where its WAL ends now, for the standbys' replay lag.
        wal_lsn: Option<u64>,
    },
    Standby {
        system_id: String,
        /// How far it has replayed.
        replay_lsn: Option<u64>,
    },
    Down,
}

/// Role, the cluster's system identifier, (for a primary) the current WAL file name, whose
/// first eight hex digits are the timeline, and the WAL position: written for a primary,
/// replayed for a standby. All readable by an ordinary role.
const PROBE_QUERY: &str = "SELECT pg_is_in_recovery()::text, \
    (SELECT system_identifier FROM pg_control_system())::text, \
    CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END, \
    (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text";

pub fn spawn_monitor(
    topology: Arc<Topology>,
    hosts: Vec<HostPort>,
    login: MonitorLogin,
    interval: Duration,
    events: Arc<EventLog>,
    on_change: impl Fn() + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let key_cache = ScramKeyCache::new(login.password.expose());
        let mut probes: Vec<Option<ServerConn>> = hosts.iter().map(|_| None).collect();
        // The cluster is the one the first writer belonged to; a host of another cluster (a
        // wrongly configured address, a database rebuilt from scratch) is never elected.
        let mut cluster: Option<String> = None;
        loop {
            // All hosts at once: a frozen host must not delay noticing the others.
            let probing = hosts
                .iter()
                .zip(probes.iter_mut())
                .map(|(host, probe)| probe_host(host, probe, &login, &key_cache));
            let roles = futures_util::future::join_all(probing).await;
            let writer = elect(&hosts, &roles, &mut cluster);
            let now = statuses(&hosts, &roles, writer.as_ref());
            let before = topology.record_probes(now.clone());
            for (kind, detail) in host_changes(&before, &now) {
                events.record(kind, detail);
            }
            if topology.elect(writer.clone()) {
                let (kind, detail) = election_event(writer.as_ref());
                events.record(kind, detail);
                match &writer {
                    _ if !login.log_elections => {}
                    Some(host) => tracing::info!(writer = %host, ?roles, "writer elected"),
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

fn statuses(hosts: &[HostPort], roles: &[Role], writer: Option<&HostPort>) -> Vec<HostStatus> {
    let probed_at = SystemTime::now();
    let writer_lsn = hosts.iter().zip(roles).find_map(|(host, role)| match role {
        Role::Primary { wal_lsn, .. } if Some(host) == writer => *wal_lsn,
        _ => None,
    });
    hosts
        .iter()
        .zip(roles)
        .map(|(host, role)| HostStatus {
            host: host.clone(),
            role: match role {
                Role::Primary { .. } if Some(host) == writer => HostRole::Writer,
                Role::Primary { .. } => HostRole::Ineligible,
                Role::Standby { .. } => HostRole::Standby,
                Role::Down => HostRole::Unreachable,
            },
            // The hosts are probed at the same moment but not atomically: a standby may
            // report a position past the one the writer reported a moment earlier.
            replay_lag_bytes: match role {
                Role::Standby { replay_lsn, .. } => writer_lsn
                    .zip(*replay_lsn)
                    .map(|(w, r)| w.saturating_sub(r)),
                _ => None,
            },
            probed_at,
        })
        .collect()
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
    let asked = tokio::time::timeout(login.connect_timeout, conn.simple_query_rows(PROBE_QUERY));
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
    let lsn = row.get(3).cloned().flatten().as_deref().and_then(parse_lsn);
    match recovery.as_str() {
        "true" => Role::Standby {
            system_id,
            replay_lsn: lsn,
        },
        "false" => {
            let walfile = row.get(2).cloned().flatten().unwrap_or_default();
            let timeline = walfile
                .get(..8)
                .and_then(|t| u32::from_str_radix(t, 16).ok());
            timeline.map_or(Role::Down, |timeline| Role::Primary {
                timeline,
                system_id,
                wal_lsn: lsn,
            })
        }
        _ => Role::Down,
    }
}

/// A `pg_lsn` as PostgreSQL prints it (`16/B374D848`: the high and low 32 bits in hex) to
/// the byte position it names.
fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    let high = u64::from(u32::from_str_radix(high, 16).ok()?);
    let low = u64::from(u32::from_str_radix(low, 16).ok()?);
    Some(high << 32 | low)
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
            wal_lsn: None,
        }
    }

    fn standby() -> Role {
        Role::Standby {
            system_id: "1".into(),
            replay_lsn: None,
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
        let standby = Role::Standby {
            system_id: "7".into(),
            replay_lsn: None,
        };
        assert_eq!(role_from(&row("true", "7", None)), standby);
        assert_eq!(role_from(&[]), Role::Down);
        assert_eq!(role_from(&row("false", "7", Some("zz"))), Role::Down);
        let mut with_lsn = row("true", "7", None);
        with_lsn.push(Some("1/20".into()));
        let Role::Standby { replay_lsn, .. } = role_from(&with_lsn) else {
            panic!("a standby");
        };
        assert_eq!(replay_lsn, Some((1 << 32) + 0x20));
    }

    #[test]
    fn replay_lag_is_the_writers_position_minus_the_standbys() {
        let h = hosts(3);
        let roles = [
            Role::Primary {
                timeline: 1,
                system_id: "1".into(),
                wal_lsn: parse_lsn("0/3000100"),
            },
            Role::Standby {
                system_id: "1".into(),
                replay_lsn: parse_lsn("0/3000000"),
            },
            Role::Down,
        ];
        let got = statuses(&h, &roles, Some(&h[0]));
        let lags: Vec<Option<u64>> = got.iter().map(|s| s.replay_lag_bytes).collect();
        assert_eq!(lags, [None, Some(0x100), None]);
        assert_eq!(got[1].role, HostRole::Standby);
        let without_writer = statuses(&h, &roles, None);
        assert_eq!(without_writer[1].replay_lag_bytes, None);
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("nonsense"), None);
    }
}
