//! Session state that cannot move between server connections pins the client to its current
//! one until it disconnects (RDS Proxy's "pinning"). Every pin has a reason, logged and counted.

use std::sync::atomic::{AtomicU64, Ordering};

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

    fn index(self) -> usize {
        PinReason::ALL
            .iter()
            .position(|r| *r == self)
            .expect("every reason is in ALL")
    }
}

/// Pins so far, per reason, for the whole proxy.
#[derive(Debug, Default)]
pub struct PinCounters {
    counts: [AtomicU64; 7],
}

impl PinCounters {
    pub fn record(&self, reason: PinReason) {
        self.counts[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, reason: PinReason) -> u64 {
        self.counts[reason.index()].load(Ordering::Relaxed)
    }
}
