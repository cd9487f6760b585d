//! Plain data types of the public API: limits, identifiers, errors and statistics.

use std::fmt;
use std::time::Duration;

/// Sizing and ageing rules of a [`Group`](crate::Group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections (open, plus slots being connected) the group may have at once.
    pub max_size: usize,
    /// Most idle connections kept across the whole group; the oldest go first.
    pub max_idle: usize,
    /// An idle connection unused this long is closed by [`Group::reap`](crate::Group::reap).
    pub idle_timeout: Option<Duration>,
    /// A connection older than this is never lent again and is closed when seen.
    pub lifetime: Option<Duration>,
}

/// Identity of one connection, unique within its group for the group's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Why [`Group::borrow`](crate::Group::borrow) gave nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BorrowError {
    /// Nothing became available in time.
    Timeout {
        /// How long the borrower waited.
        waited: Duration,
        /// The group's `max_size` when the wait ended, for the error message.
        max_size: usize,
    },
    /// The group was shut down with [`Group::close`](crate::Group::close).
    Closed,
}

impl fmt::Display for BorrowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { waited, max_size } => write!(
                f,
                "no connection available after waiting {waited:?} (pool max_size {max_size})"
            ),
            Self::Closed => f.write_str("the pool is closed"),
        }
    }
}

impl std::error::Error for BorrowError {}

/// Counts for one key of a group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyStats {
    /// Connections resting in the pool.
    pub idle: usize,
    /// Connections lent out (including ones handed to a waiter not yet woken).
    pub borrowed: usize,
    /// Slots handed out and not yet filled or dropped.
    pub connecting: usize,
    /// Borrowers queued for this key.
    pub waiting: usize,
}

/// A snapshot of a group's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStats<K> {
    /// Everything counted against `max_size`: `idle + borrowed + connecting`.
    pub total: usize,
    /// Connections resting in the pool.
    pub idle: usize,
    /// Connections lent out.
    pub borrowed: usize,
    /// Slots handed out and not yet filled or dropped.
    pub connecting: usize,
    /// Borrowers queued.
    pub waiting: usize,
    /// The limit in force.
    pub max_size: usize,
    /// The same counts per key, for keys with anything to count; in no particular order.
    pub keys: Vec<(K, KeyStats)>,
}
