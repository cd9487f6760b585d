//! The bookkeeping of one group, always used with its lock held.
//!
//! Nothing here drops a connection or a guard: whatever must be closed or routed back is put in
//! a [`Deferred`] that the caller finishes once the lock is released, because dropping a
//! connection may be slow and dropping a guard takes the lock again.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::guard::{Grant, Pooled, Slot};
use crate::shared::Shared;
use crate::types::{BorrowError, ConnId, GroupStats, KeyStats, Limits};

/// Identity and age of a connection, kept with it whether idle or lent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub(crate) id: ConnId,
    pub(crate) created_at: Instant,
    pub(crate) generation: u64,
}

impl Meta {
    fn past_lifetime(&self, limits: &Limits, now: Instant) -> bool {
        limits
            .lifetime
            .is_some_and(|max| now.duration_since(self.created_at) >= max)
    }
}

struct IdleConn<C> {
    conn: C,
    meta: Meta,
    since: Instant,
}

impl<C> IdleConn<C> {
    fn expired(&self, limits: &Limits, now: Instant) -> bool {
        self.meta.past_lifetime(limits, now)
            || limits
                .idle_timeout
                .is_some_and(|max| now.duration_since(self.since) >= max)
    }
}

struct KeyState<C> {
    /// Oldest return at the front: lending pops the back (LIFO), ageing out trims the front.
    idle: VecDeque<IdleConn<C>>,
    borrowed: usize,
    connecting: usize,
}

impl<C> KeyState<C> {
    fn new() -> Self {
        Self {
            idle: VecDeque::new(),
            borrowed: 0,
            connecting: 0,
        }
    }

    fn is_unused(&self) -> bool {
        self.idle.is_empty() && self.borrowed == 0 && self.connecting == 0
    }
}

pub(crate) struct Waiter<K: Eq + Hash + Clone, C> {
    id: u64,
    key: K,
    tx: oneshot::Sender<Grant<K, C>>,
}

/// A queued borrower's ticket and the channel its grant arrives on.
pub(crate) type Ticket<K, C> = (u64, oneshot::Receiver<Grant<K, C>>);

/// What [`State::enter`] did with a borrower.
pub(crate) enum Entered<K: Eq + Hash + Clone, C> {
    Granted(Grant<K, C>),
    Queued(Ticket<K, C>),
}

/// What can be given to a borrower, before it is wrapped in its RAII guard.
enum Offer<C> {
    Conn(IdleConn<C>),
    Slot { generation: u64 },
}

impl<C> Offer<C> {
    fn into_grant<K: Eq + Hash + Clone>(self, shared: &Arc<Shared<K, C>>, key: K) -> Grant<K, C> {
        match self {
            Offer::Conn(ic) => Grant::Idle(Pooled::new(shared.clone(), key, ic.meta, ic.conn)),
            Offer::Slot { generation } => Grant::Slot(Slot::new(shared.clone(), key, generation)),
        }
    }
}

/// Work that must wait until the lock is released.
pub(crate) struct Deferred<K: Eq + Hash + Clone, C> {
    close: Vec<C>,
    bounced: Vec<Grant<K, C>>,
}

impl<K: Eq + Hash + Clone, C> Deferred<K, C> {
    pub(crate) fn new() -> Self {
        Self {
            close: Vec::new(),
            bounced: Vec::new(),
        }
    }

    /// Hands the connections to close to a caller that wants to close them politely.
    pub(crate) fn take_closed(&mut self) -> Vec<C> {
        std::mem::take(&mut self.close)
    }

    /// Closes what was removed and routes grants no waiter took back into the pool.
    pub(crate) fn finish(self) {
        drop(self.close);
        for grant in self.bounced {
            match grant {
                // It came from idle or a clean return, so it is still clean.
                Grant::Idle(pooled) => pooled.give_back(),
                Grant::Slot(slot) => drop(slot),
            }
        }
    }
}

/// Counters, idle connections and the waiter queue of one group.
pub(crate) struct State<K: Eq + Hash + Clone, C> {
    limits: Limits,
    /// Open connections (idle and lent) plus outstanding slots.
    total: usize,
    idle: usize,
    generation: u64,
    next_conn: u64,
    next_waiter: u64,
    closed: bool,
    keys: HashMap<K, KeyState<C>>,
    waiters: VecDeque<Waiter<K, C>>,
}

impl<K: Eq + Hash + Clone, C> State<K, C> {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            total: 0,
            idle: 0,
            generation: 0,
            next_conn: 1,
            next_waiter: 0,
            closed: false,
            keys: HashMap::new(),
            waiters: VecDeque::new(),
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    fn key_mut(&mut self, key: &K) -> &mut KeyState<C> {
        // Not `entry()`: that needs an owned key, and cloning it on every call is wasted work.
        if !self.keys.contains_key(key) {
            self.keys.insert(key.clone(), KeyState::new());
        }
        self.keys.get_mut(key).expect("inserted just above")
    }

    fn tidy(&mut self, key: &K) {
        if self.keys.get(key).is_some_and(KeyState::is_unused) {
            self.keys.remove(key);
        }
    }

    /// The most recently returned usable idle connection of `key`; expired ones met on the way
    /// are closed.
    fn pop_idle(&mut self, key: &K, now: Instant, d: &mut Deferred<K, C>) -> Option<IdleConn<C>> {
        let ks = self.keys.get_mut(key)?;
        while let Some(ic) = ks.idle.pop_back() {
            self.idle -= 1;
            if !ic.expired(&self.limits, now) {
                return Some(ic);
            }
            self.total -= 1;
            d.close.push(ic.conn);
        }
        None
    }

    /// Closes the idle connection returned longest ago, whatever its key. False if none is idle.
    fn close_oldest_idle(&mut self, why: &str, d: &mut Deferred<K, C>) -> bool {
        let oldest = self
            .keys
            .iter()
            .filter_map(|(k, ks)| ks.idle.front().map(|ic| (ic.since, k)))
            .min_by_key(|(since, _)| *since)
            .map(|(_, k)| k.clone());
        let Some(key) = oldest else { return false };
        if let Some(ic) = self.keys.get_mut(&key).and_then(|ks| ks.idle.pop_front()) {
            tracing::debug!(conn_id = ic.meta.id.0, why, "closing idle connection");
            self.idle -= 1;
            self.total -= 1;
            d.close.push(ic.conn);
        }
        self.tidy(&key);
        true
    }

    /// Steps 1 to 3 of borrowing: an idle connection of `key`, else room for a new one, else
    /// room made by closing another key's idle connection.
    fn take_offer(&mut self, key: &K, now: Instant, d: &mut Deferred<K, C>) -> Option<Offer<C>> {
        if let Some(ic) = self.pop_idle(key, now, d) {
            self.key_mut(key).borrowed += 1;
            return Some(Offer::Conn(ic));
        }
        // A loop, not one eviction: after `max_size` was lowered one may not be enough.
        while self.total >= self.limits.max_size {
            if !self.close_oldest_idle("evicted for another key", d) {
                self.tidy(key);
                return None;
            }
        }
        self.total += 1;
        self.key_mut(key).connecting += 1;
        Some(Offer::Slot {
            generation: self.generation,
        })
    }

    /// Serves queued borrowers from the head for as long as the head can be served. Only the
    /// head is ever looked at: that is the FIFO fairness policy (see the crate docs).
    fn pump(&mut self, shared: &Arc<Shared<K, C>>, now: Instant, d: &mut Deferred<K, C>) {
        while let Some(head) = self.waiters.front() {
            if head.tx.is_closed() {
                self.waiters.pop_front();
                continue;
            }
            let key = head.key.clone();
            let Some(offer) = self.take_offer(&key, now, d) else {
                return;
            };
            let waiter = self.waiters.pop_front().expect("the head was just seen");
            if let Err(grant) = waiter.tx.send(offer.into_grant(shared, key)) {
                d.bounced.push(grant);
            }
        }
    }

    /// A new borrower: served at once if nobody is queued ahead and something is available,
    /// otherwise queued at the back.
    pub(crate) fn enter(
        &mut self,
        key: &K,
        shared: &Arc<Shared<K, C>>,
        now: Instant,
        d: &mut Deferred<K, C>,
    ) -> Result<Entered<K, C>, BorrowError> {
        if self.closed {
            return Err(BorrowError::Closed);
        }
        if self.waiters.is_empty() {
            if let Some(offer) = self.take_offer(key, now, d) {
                return Ok(Entered::Granted(offer.into_grant(shared, key.clone())));
            }
        }
        let (tx, rx) = oneshot::channel();
        let id = self.next_waiter;
        self.next_waiter += 1;
        self.waiters.push_back(Waiter {
            id,
            key: key.clone(),
            tx,
        });
        self.pump(shared, now, d);
        Ok(Entered::Queued((id, rx)))
    }

    /// Removes a waiter that gave up. False if it was no longer queued, which means it was
    /// already served (or the group closed) with the lock held, so its channel is settled.
    pub(crate) fn leave_queue(
        &mut self,
        id: u64,
        shared: &Arc<Shared<K, C>>,
        now: Instant,
        d: &mut Deferred<K, C>,
    ) -> bool {
        let Some(pos) = self.waiters.iter().position(|w| w.id == id) else {
            return false;
        };
        self.waiters.remove(pos);
        self.pump(shared, now, d);
        true
    }

    /// A connection vouched clean: kept (for a waiter or idle) unless it must not be reused.
    pub(crate) fn give_back(
        &mut self,
        key: K,
        meta: Meta,
        conn: C,
        shared: &Arc<Shared<K, C>>,
        now: Instant,
        d: &mut Deferred<K, C>,
    ) {
        self.key_mut(&key).borrowed -= 1;
        if self.reusable(&meta, now) {
            let ic = IdleConn {
                conn,
                meta,
                since: now,
            };
            self.key_mut(&key).idle.push_back(ic);
            self.idle += 1;
        } else {
            tracing::debug!(
                conn_id = meta.id.0,
                "returned connection not reusable; closing"
            );
            self.total -= 1;
            d.close.push(conn);
            self.tidy(&key);
        }
        // Waiters first, so a returned connection serves the queue before max_idle trims it.
        self.pump(shared, now, d);
        while self.idle > self.limits.max_idle {
            if !self.close_oldest_idle("over max_idle", d) {
                break;
            }
        }
    }

    fn reusable(&self, meta: &Meta, now: Instant) -> bool {
        !self.closed
            && meta.generation == self.generation
            && !meta.past_lifetime(&self.limits, now)
            && self.total <= self.limits.max_size
    }

    /// A lent connection is gone (dropped, discarded or detached): its capacity is free.
    pub(crate) fn release_borrowed(
        &mut self,
        key: &K,
        shared: &Arc<Shared<K, C>>,
        now: Instant,
        d: &mut Deferred<K, C>,
    ) {
        self.key_mut(key).borrowed -= 1;
        self.total -= 1;
        self.tidy(key);
        self.pump(shared, now, d);
    }

    /// A slot was dropped unfilled: its capacity is free.
    pub(crate) fn release_slot(
        &mut self,
        key: &K,
        shared: &Arc<Shared<K, C>>,
        now: Instant,
        d: &mut Deferred<K, C>,
    ) {
        self.key_mut(key).connecting -= 1;
        self.total -= 1;
        self.tidy(key);
        self.pump(shared, now, d);
    }

    /// A slot became a connection; the count it held moves from connecting to borrowed.
    pub(crate) fn fill(&mut self, key: &K, generation: u64, now: Instant) -> Meta {
        let ks = self.key_mut(key);
        ks.connecting -= 1;
        ks.borrowed += 1;
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        Meta {
            id,
            created_at: now,
            generation,
        }
    }

    pub(crate) fn set_limits(
        &mut self,
        limits: Limits,
        shared: &Arc<Shared<K, C>>,
        now: Instant,
        d: &mut Deferred<K, C>,
    ) {
        self.limits = limits;
        // Raising max_size may let queued borrowers in right away.
        self.pump(shared, now, d);
    }

    fn drain_idle(&mut self, d: &mut Deferred<K, C>) {
        for ks in self.keys.values_mut() {
            d.close.extend(ks.idle.drain(..).map(|ic| ic.conn));
        }
        self.total -= self.idle;
        self.idle = 0;
        self.keys.retain(|_, ks| !ks.is_unused());
    }

    pub(crate) fn retire_all(
        &mut self,
        shared: &Arc<Shared<K, C>>,
        now: Instant,
        d: &mut Deferred<K, C>,
    ) {
        self.generation += 1;
        self.drain_idle(d);
        self.pump(shared, now, d);
    }

    pub(crate) fn reap(
        &mut self,
        shared: &Arc<Shared<K, C>>,
        now: Instant,
        d: &mut Deferred<K, C>,
    ) {
        let limits = self.limits;
        let mut removed = 0;
        for ks in self.keys.values_mut() {
            let before = ks.idle.len();
            let (old, kept): (VecDeque<_>, VecDeque<_>) =
                ks.idle.drain(..).partition(|ic| ic.expired(&limits, now));
            ks.idle = kept;
            removed += before - ks.idle.len();
            d.close.extend(old.into_iter().map(|ic| ic.conn));
        }
        self.idle -= removed;
        self.total -= removed;
        self.keys.retain(|_, ks| !ks.is_unused());
        while self.idle > self.limits.max_idle
            || (self.total > self.limits.max_size && self.idle > 0)
        {
            if !self.close_oldest_idle("over max_idle or max_size", d) {
                break;
            }
        }
        self.pump(shared, now, d);
    }

    /// Shuts the group. The queued waiters are returned so that their senders are dropped
    /// (waking them with `Closed`) after the lock is released.
    pub(crate) fn close(&mut self, d: &mut Deferred<K, C>) -> VecDeque<Waiter<K, C>> {
        self.closed = true;
        self.drain_idle(d);
        std::mem::take(&mut self.waiters)
    }

    pub(crate) fn describe_idle<T>(
        &self,
        mut describe: impl FnMut(&K, &C, std::time::Duration) -> T,
    ) -> Vec<T> {
        let now = Instant::now();
        self.keys
            .iter()
            .flat_map(|(k, ks)| ks.idle.iter().map(move |ic| (k, ic)))
            .map(|(k, ic)| describe(k, &ic.conn, now.duration_since(ic.since)))
            .collect()
    }

    /// Lent, being connected, or waited for: no allocation, unlike `stats`.
    pub(crate) fn busy(&self) -> usize {
        self.total - self.idle + self.waiters.len()
    }

    pub(crate) fn stats(&self) -> GroupStats<K> {
        let mut per_key: HashMap<K, KeyStats> = self
            .keys
            .iter()
            .map(|(k, ks)| {
                let stats = KeyStats {
                    idle: ks.idle.len(),
                    borrowed: ks.borrowed,
                    connecting: ks.connecting,
                    waiting: 0,
                };
                (k.clone(), stats)
            })
            .collect();
        for w in &self.waiters {
            per_key.entry(w.key.clone()).or_default().waiting += 1;
        }
        let sum = |f: fn(&KeyStats) -> usize| per_key.values().map(f).sum::<usize>();
        GroupStats {
            total: self.total,
            idle: self.idle,
            borrowed: sum(|s| s.borrowed),
            connecting: sum(|s| s.connecting),
            waiting: self.waiters.len(),
            max_size: self.limits.max_size,
            keys: per_key.into_iter().collect(),
        }
    }

    /// Panics if the counters disagree with the contents or a waiter is stuck.
    #[cfg(test)]
    pub(crate) fn assert_invariants(&self) {
        let stats = self.stats();
        assert_eq!(stats.total, stats.idle + stats.borrowed + stats.connecting);
        let idle: usize = self.keys.values().map(|ks| ks.idle.len()).sum();
        assert_eq!(idle, self.idle, "idle counter");
        assert!(
            self.keys.values().all(|ks| !ks.is_unused()),
            "unused key kept"
        );
        if !self.waiters.is_empty() {
            assert_eq!(
                self.idle, 0,
                "a waiter is queued while a connection is idle"
            );
            assert!(
                self.total >= self.limits.max_size,
                "a waiter is queued with room"
            );
        }
    }
}
