//! The lock around a group's [`State`], and the discipline for using it: every operation runs
//! its bookkeeping under the lock and its side effects (closing connections, routing bounced
//! grants back) after releasing it.

use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use crate::state::{Deferred, Entered, Meta, State};
use crate::types::{BorrowError, GroupStats, Limits};

/// What the [`Group`](crate::Group) handle and every guard point at.
pub(crate) struct Shared<K: Eq + Hash + Clone, C> {
    /// A std (blocking) mutex: every critical section is short synchronous bookkeeping with no
    /// await, no I/O and no connection dropped inside, and guards must be able to take it from
    /// `Drop`, where an async lock cannot be awaited.
    state: Mutex<State<K, C>>,
}

impl<K: Eq + Hash + Clone, C> Shared<K, C> {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            state: Mutex::new(State::new(limits)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K, C>> {
        // Poisoning means a bug panicked mid-update; carrying on beats turning every later
        // guard drop (some of them during unwinding) into a second panic and an abort.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` with the lock held, then the deferred work with it released.
    fn with<R>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut State<K, C>, &Arc<Self>, Instant, &mut Deferred<K, C>) -> R,
    ) -> R {
        let now = Instant::now();
        let mut deferred = Deferred::new();
        let result = {
            let mut state = self.lock();
            f(&mut state, self, now, &mut deferred)
        };
        deferred.finish();
        result
    }

    pub(crate) fn enter(self: &Arc<Self>, key: &K) -> Result<Entered<K, C>, BorrowError> {
        self.with(|st, sh, now, d| st.enter(key, sh, now, d))
    }

    pub(crate) fn leave_queue(self: &Arc<Self>, id: u64) -> bool {
        self.with(|st, sh, now, d| st.leave_queue(id, sh, now, d))
    }

    pub(crate) fn give_back(self: &Arc<Self>, key: K, meta: Meta, conn: C) {
        self.with(|st, sh, now, d| st.give_back(key, meta, conn, sh, now, d));
    }

    pub(crate) fn release_borrowed(self: &Arc<Self>, key: &K) {
        self.with(|st, sh, now, d| st.release_borrowed(key, sh, now, d));
    }

    pub(crate) fn release_slot(self: &Arc<Self>, key: &K) {
        self.with(|st, sh, now, d| st.release_slot(key, sh, now, d));
    }

    pub(crate) fn fill(&self, key: &K, generation: u64) -> Meta {
        let now = Instant::now();
        self.lock().fill(key, generation, now)
    }

    pub(crate) fn limits(&self) -> Limits {
        self.lock().limits()
    }

    pub(crate) fn set_limits(self: &Arc<Self>, limits: Limits) {
        self.with(|st, sh, now, d| st.set_limits(limits, sh, now, d));
    }

    pub(crate) fn retire_all(self: &Arc<Self>) -> Vec<C> {
        self.with(|st, sh, now, d| {
            st.retire_all(sh, now, d);
            d.take_closed()
        })
    }

    pub(crate) fn reap(self: &Arc<Self>) -> Vec<C> {
        self.with(|st, sh, now, d| {
            st.reap(sh, now, d);
            d.take_closed()
        })
    }

    pub(crate) fn close(self: &Arc<Self>) -> Vec<C> {
        let (idle, waiters) = self.with(|st, _, _, d| {
            let waiters = st.close(d);
            (d.take_closed(), waiters)
        });
        // Dropping the senders wakes each waiter with `Closed`.
        drop(waiters);
        idle
    }

    pub(crate) fn stats(&self) -> GroupStats<K> {
        self.lock().stats()
    }

    pub(crate) fn busy(&self) -> usize {
        self.lock().busy()
    }

    pub(crate) fn describe_idle<T>(
        &self,
        describe: impl FnMut(&K, &C, std::time::Duration) -> T,
    ) -> Vec<T> {
        self.lock().describe_idle(describe)
    }

    #[cfg(test)]
    pub(crate) fn assert_invariants(&self) {
        self.lock().assert_invariants();
    }
}
