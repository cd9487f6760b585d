//! What a probe round or an election means as events for the status page.

use config::HostPort;

use super::{HostRole, HostStatus};
use crate::events::EventKind;

/// Hosts that came up or went down between two probe rounds. At the first round (`before`
/// empty) every host gets one event, so the page shows where each one started. Role changes
/// between reachable roles are left to the election events.
pub fn host_changes(before: &[HostStatus], now: &[HostStatus]) -> Vec<(EventKind, String)> {
    now.iter()
        .filter_map(|host| {
            let was = before.iter().find(|b| b.host == host.host).map(|b| b.role);
            let down = HostRole::Unreachable;
            match (was, host.role) {
                (Some(old), new) if (old == down) == (new == down) => None,
                (_, role) if role == down => Some((
                    EventKind::HostDown,
                    format!("host {} is unreachable", host.host),
                )),
                (_, role) => Some((
                    EventKind::HostUp,
                    format!("host {} is up ({})", host.host, role.as_str()),
                )),
            }
        })
        .collect()
}

/// The event for an election that changed the writer.
pub fn election_event(writer: Option<&HostPort>) -> (EventKind, String) {
    match writer {
        Some(host) => (EventKind::WriterElected, format!("writer elected: {host}")),
        None => (
            EventKind::WriterLost,
            "no writer: new transactions wait".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn status(port: u16, role: HostRole) -> HostStatus {
        HostStatus {
            host: HostPort {
                host: "db".into(),
                port,
            },
            role,
            replay_lag_bytes: None,
            probed_at: SystemTime::now(),
        }
    }

    #[test]
    fn only_reachability_changes_are_events() {
        let first = [
            status(1, HostRole::Writer),
            status(2, HostRole::Unreachable),
        ];
        let kinds = |changes: Vec<(EventKind, String)>| -> Vec<EventKind> {
            changes.into_iter().map(|c| c.0).collect()
        };
        let start = host_changes(&[], &first);
        assert_eq!(start[0].1, "host db:1 is up (writer)");
        assert_eq!(kinds(start), [EventKind::HostUp, EventKind::HostDown]);
        assert!(host_changes(&first, &first).is_empty());
        let failover = [
            status(1, HostRole::Unreachable),
            status(2, HostRole::Standby),
        ];
        assert_eq!(
            kinds(host_changes(&first, &failover)),
            [EventKind::HostDown, EventKind::HostUp]
        );
        let promoted = [
            status(1, HostRole::Unreachable),
            status(2, HostRole::Writer),
        ];
        assert!(host_changes(&failover, &promoted).is_empty());
    }

    #[test]
    fn elections_name_the_writer() {
        let host = HostPort {
            host: "db".into(),
            port: 5432,
        };
        assert_eq!(
            election_event(Some(&host)),
            (EventKind::WriterElected, "writer elected: db:5432".into())
        );
        assert_eq!(election_event(None).0, EventKind::WriterLost);
    }
}
