//! The public [`Group`] handle and the borrow wait.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::sync::oneshot::error::TryRecvError;
use tokio::time::Instant;

use crate::guard::Grant;
use crate::shared::Shared;
use crate::state::Entered;
use crate::types::{BorrowError, GroupStats, Limits};

/// Pools sharing one connection limit, keyed by `K`. Cheap to clone: clones share the pool.
pub struct Group<K: Eq + Hash + Clone, C> {
    shared: Arc<Shared<K, C>>,
}

impl<K: Eq + Hash + Clone, C> Clone for Group<K, C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<K: Eq + Hash + Clone, C> fmt::Debug for Group<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = self.shared.stats();
        f.debug_struct("Group")
            .field("total", &stats.total)
            .field("idle", &stats.idle)
            .field("waiting", &stats.waiting)
            .field("max_size", &stats.max_size)
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, C> Group<K, C> {
    /// An empty group.
    pub fn new(limits: Limits) -> Self {
        Self {
            shared: Arc::new(Shared::new(limits)),
        }
    }

    /// Changes the limits at runtime. Raising `max_size` serves queued borrowers at once.
    /// Lowering it closes nothing here: borrowed connections are closed as they come back and
    /// surplus idle ones by the next [`reap`](Self::reap) (or on demand, to make room).
    pub fn set_limits(&self, limits: Limits) {
        self.shared.set_limits(limits);
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.shared.limits()
    }

    /// Borrows for `key`: the most recently returned idle connection of `key`; else a [`Slot`]
    /// if the group has room; else a slot made by closing another key's oldest idle
    /// connection; else waits in the group's FIFO queue, at most `timeout`.
    ///
    /// Cancellation-safe: dropping the future leaves the queue, and whatever was already
    /// handed to it goes back to the pool.
    ///
    /// [`Slot`]: crate::Slot
    pub async fn borrow(&self, key: &K, timeout: Duration) -> Result<Grant<K, C>, BorrowError> {
        let start = Instant::now();
        let (id, rx) = match self.shared.enter(key)? {
            Entered::Granted(grant) => return Ok(grant),
            Entered::Queued(ticket) => ticket,
        };
        let mut wait = Waiting {
            shared: &self.shared,
            id,
            rx,
            settled: false,
        };
        match tokio::time::timeout(timeout, &mut wait.rx).await {
            Ok(received) => {
                wait.settled = true;
                // The sender is only ever dropped unsent by `close`.
                received.map_err(|_| BorrowError::Closed)
            }
            Err(_elapsed) => match wait.give_up()? {
                Some(grant) => Ok(grant),
                None => Err(BorrowError::Timeout {
                    waited: start.elapsed(),
                    max_size: self.shared.limits().max_size,
                }),
            },
        }
    }

    /// Closes every idle connection and retires every connection open or being opened now:
    /// those are closed when given back. Returns the idle ones so the caller can close them
    /// politely.
    pub fn retire_all(&self) -> Vec<C> {
        self.shared.retire_all()
    }

    /// Removes idle connections past `idle_timeout` or `lifetime`, then the oldest idle ones
    /// beyond `max_idle` or beyond a lowered `max_size`. Returns them so the caller can close
    /// them politely. Meant to be called periodically.
    pub fn reap(&self) -> Vec<C> {
        self.shared.reap()
    }

    /// A snapshot of the counts.
    pub fn stats(&self) -> GroupStats<K> {
        self.shared.stats()
    }

    /// Connections lent or being opened plus borrowers queued: how busy the group is, counted
    /// without the allocation of [`Group::stats`] (for routing decisions per borrow).
    pub fn busy(&self) -> usize {
        self.shared.busy()
    }

    /// Describes every idle connection with `describe(key, connection, idle for)`, for an
    /// admin listing. Runs under the group's lock: `describe` must only copy a few fields.
    pub fn describe_idle<T>(&self, describe: impl FnMut(&K, &C, Duration) -> T) -> Vec<T> {
        self.shared.describe_idle(describe)
    }

    /// Shuts the group: queued and later borrowers get [`BorrowError::Closed`], connections
    /// given back are closed. Returns the idle connections so the caller can close them
    /// politely.
    pub fn close(&self) -> Vec<C> {
        self.shared.close()
    }

    #[cfg(test)]
    pub(crate) fn assert_invariants(&self) {
        self.shared.assert_invariants();
    }
}

/// A queued borrow. Dropping it unsettled (the borrow future was cancelled) takes it out of the
/// queue or, if it was served meanwhile, routes what it was given back to the pool.
struct Waiting<'a, K: Eq + Hash + Clone, C> {
    shared: &'a Arc<Shared<K, C>>,
    id: u64,
    rx: oneshot::Receiver<Grant<K, C>>,
    settled: bool,
}

impl<K: Eq + Hash + Clone, C> Waiting<'_, K, C> {
    /// Leaves the queue. `Ok(None)` if it was still queued; otherwise whatever it was given.
    fn give_up(&mut self) -> Result<Option<Grant<K, C>>, BorrowError> {
        self.settled = true;
        if self.shared.leave_queue(self.id) {
            return Ok(None);
        }
        // No longer queued: whoever dequeued it sent or dropped the sender with the lock held,
        // which we have since taken, so the channel holds its final answer.
        match self.rx.try_recv() {
            Ok(grant) => Ok(Some(grant)),
            Err(TryRecvError::Closed) => Err(BorrowError::Closed),
            Err(TryRecvError::Empty) => Ok(None),
        }
    }
}

impl<K: Eq + Hash + Clone, C> Drop for Waiting<'_, K, C> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        match self.give_up() {
            // It was handed over clean a moment ago, so it may be reused.
            Ok(Some(Grant::Idle(pooled))) => pooled.give_back(),
            Ok(Some(Grant::Slot(slot))) => drop(slot),
            Ok(None) | Err(_) => {}
        }
    }
}
