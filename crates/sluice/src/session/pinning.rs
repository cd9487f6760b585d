//! Session state that cannot move between server connections pins the client to its current
//! one until it disconnects (RDS Proxy's "pinning"). Every pin has a reason, logged and counted.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use sql::Effect;

/// Why a client keeps its server connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinReason {
    TempObject,
    AdvisoryLock,
    Listen,
    CursorWithHold,
    Load,
    SetRole,
    /// Session state Sluice cannot model precisely (e.g. set_config with computed arguments).
    Unknown,
}

impl PinReason {
    pub const ALL: [PinReason; 7] = [
        PinReason::TempObject,
        PinReason::AdvisoryLock,
        PinReason::Listen,
        PinReason::CursorWithHold,
        PinReason::Load,
        PinReason::SetRole,
        PinReason::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PinReason::TempObject => "temp_object",
            PinReason::AdvisoryLock => "advisory_lock",
            PinReason::Listen => "listen",
            PinReason::CursorWithHold => "cursor_with_hold",
            PinReason::Load => "load",
            PinReason::SetRole => "set_role",
            PinReason::Unknown => "unknown_session_state",
        }
    }

    /// The pin an effect causes, if any.
    pub fn of(effect: &Effect) -> Option<PinReason> {
        Some(match effect {
            Effect::CreateTemp => PinReason::TempObject,
            Effect::AdvisoryLock => PinReason::AdvisoryLock,
            Effect::Listen { .. } => PinReason::Listen,
            Effect::DeclareWithHold => PinReason::CursorWithHold,
            Effect::Load => PinReason::Load,
            Effect::SetRole { .. } | Effect::SetSessionAuthorization { .. } => PinReason::SetRole,
            Effect::Unknown { .. } => PinReason::Unknown,
            _ => return None,
        })
    }

    pub fn index(self) -> usize {
        PinReason::ALL
            .iter()
            .position(|r| *r == self)
            .expect("every reason is in ALL")
    }
}

/// A set of pin reasons (`ignore_pin_reasons`), as bits: read once per transaction, and
/// swapped whole by a reload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinReasonSet(u16);

impl PinReasonSet {
    /// The reasons named in `names` (config validation has checked every name).
    pub fn from_names(names: &[String]) -> Self {
        let reasons = PinReason::ALL.into_iter();
        PinReasonSet(
            reasons
                .filter(|r| names.iter().any(|n| n == r.as_str()))
                .fold(0, |bits, r| bits | 1 << r.index()),
        )
    }

    pub fn contains(self, reason: PinReason) -> bool {
        self.0 & 1 << reason.index() != 0
    }
}

/// [`PinReasonSet`] shared by every session, changed by a reload.
#[derive(Debug, Default)]
pub struct SharedPinReasonSet(AtomicU16);

impl SharedPinReasonSet {
    pub fn get(&self) -> PinReasonSet {
        PinReasonSet(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, set: PinReasonSet) {
        self.0.store(set.0, Ordering::Relaxed);
    }
}

/// Effects that may end the state behind a pin: then the server is asked whether it is gone.
pub fn may_release(effect: &Effect) -> bool {
    matches!(
        effect,
        Effect::Unlisten { channel: None }
            | Effect::AdvisoryUnlockAll
            | Effect::Discard(_)
            | Effect::CloseCursor { name: None }
            | Effect::SetRole { .. }
            | Effect::SetSessionAuthorization { .. }
    )
}

/// Asks the server whether any state that pins is left: LISTEN channels, session advisory
/// locks, temporary tables, holdable cursors, a changed role. One row, one column: true when
/// nothing is left.
pub const NOTHING_PINNED_QUERY: &str = "SELECT \
    NOT EXISTS (SELECT 1 FROM pg_catalog.pg_listening_channels()) \
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_locks \
        WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()) \
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class \
        WHERE relnamespace = pg_catalog.pg_my_temp_schema()) \
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_cursors WHERE is_holdable) \
    AND current_user = session_user";

/// Reasons the server can confirm gone with [`NOTHING_PINNED_QUERY`]; LOAD and unknown state
/// stay pinned until the client leaves.
pub fn verifiable(reason: PinReason) -> bool {
    !matches!(reason, PinReason::Load | PinReason::Unknown)
}

/// Pins so far, and clients pinned now, per reason, for the whole proxy.
#[derive(Debug, Default)]
pub struct PinCounters {
    counts: [AtomicU64; 7],
    pinned_now: [AtomicU64; 7],
}

impl PinCounters {
    /// A client was pinned; pair with [`PinCounters::release`] when its pin ends.
    pub fn record(&self, reason: PinReason) {
        self.counts[reason.index()].fetch_add(1, Ordering::Relaxed);
        self.pinned_now[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// A pinned client was unpinned or left.
    pub fn release(&self, reason: PinReason) {
        self.pinned_now[reason.index()].fetch_sub(1, Ordering::Relaxed);
    }

    /// Clients pinned for `reason` now.
    pub fn pinned_now(&self, reason: PinReason) -> u64 {
        self.pinned_now[reason.index()].load(Ordering::Relaxed)
    }

    pub fn get(&self, reason: PinReason) -> u64 {
        self.counts[reason.index()].load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_set_holds_the_named_reasons_only() {
        let set = PinReasonSet::from_names(&["listen".into(), "temp_object".into()]);
        let held: Vec<_> = PinReason::ALL
            .into_iter()
            .filter(|r| set.contains(*r))
            .collect();
        assert_eq!(held, [PinReason::TempObject, PinReason::Listen]);
        let shared = SharedPinReasonSet::default();
        assert_eq!(shared.get(), PinReasonSet::default());
        shared.set(set);
        assert_eq!(shared.get(), set);
    }
}
