//! The RAII values a borrower holds: [`Grant`], [`Slot`] and [`Pooled`]. Each one keeps its
//! share of the group's capacity and gives it back however it ends, so a borrower cancelled at
//! any await point leaks nothing.

use std::fmt;
use std::hash::Hash;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use tokio::time::Instant;

use crate::shared::Shared;
use crate::state::Meta;
use crate::types::ConnId;

/// What a successful [`Group::borrow`](crate::Group::borrow) gives.
pub enum Grant<K: Eq + Hash + Clone, C> {
    /// A pooled connection, last given back clean.
    Idle(Pooled<K, C>),
    /// Permission to open a new connection.
    Slot(Slot<K, C>),
}

impl<K: Eq + Hash + Clone, C> Grant<K, C> {
    /// The key this grant is for.
    pub fn key(&self) -> &K {
        match self {
            Grant::Idle(pooled) => pooled.key(),
            Grant::Slot(slot) => slot.key(),
        }
    }
}

impl<K: Eq + Hash + Clone + fmt::Debug, C> fmt::Debug for Grant<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::Idle(pooled) => f.debug_tuple("Idle").field(pooled).finish(),
            Grant::Slot(slot) => f.debug_tuple("Slot").field(slot).finish(),
        }
    }
}

struct Pending<K> {
    key: K,
    /// The group generation when the slot was granted: a connection opened for a slot granted
    /// before `retire_all` belongs to the old generation too.
    generation: u64,
}

/// Permission to open one new connection; counts against `max_size` until filled or dropped.
/// Dropping it releases the capacity and wakes the next waiter.
pub struct Slot<K: Eq + Hash + Clone, C> {
    shared: Arc<Shared<K, C>>,
    /// `None` once filled, so that `Drop` does not release the capacity a second time.
    pending: Option<Pending<K>>,
}

impl<K: Eq + Hash + Clone, C> Slot<K, C> {
    pub(crate) fn new(shared: Arc<Shared<K, C>>, key: K, generation: u64) -> Self {
        Self {
            shared,
            pending: Some(Pending { key, generation }),
        }
    }

    fn pending(&self) -> &Pending<K> {
        self.pending
            .as_ref()
            .expect("a slot is pending until fill consumes it")
    }

    /// Turns the slot into a borrowed connection, created now.
    pub fn fill(mut self, conn: C) -> Pooled<K, C> {
        let Pending { key, generation } = self
            .pending
            .take()
            .expect("a slot is pending until fill consumes it");
        let meta = self.shared.fill(&key, generation);
        Pooled::new(self.shared.clone(), key, meta, conn)
    }

    /// The key the new connection must be opened for.
    pub fn key(&self) -> &K {
        &self.pending().key
    }
}

impl<K: Eq + Hash + Clone, C> Drop for Slot<K, C> {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.shared.release_slot(&pending.key);
        }
    }
}

impl<K: Eq + Hash + Clone + fmt::Debug, C> fmt::Debug for Slot<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("key", &self.pending.as_ref().map(|p| &p.key))
            .finish()
    }
}

struct Lent<K, C> {
    key: K,
    meta: Meta,
    conn: C,
}

/// A borrowed connection; derefs to `C`.
///
/// Dropping it without [`give_back`](Pooled::give_back) means its state is unknown, so it is
/// closed and its capacity released: a connection is never lent dirty.
pub struct Pooled<K: Eq + Hash + Clone, C> {
    shared: Arc<Shared<K, C>>,
    /// `None` once given back, discarded or detached, so that `Drop` has nothing left to do.
    lent: Option<Lent<K, C>>,
}

impl<K: Eq + Hash + Clone, C> Pooled<K, C> {
    pub(crate) fn new(shared: Arc<Shared<K, C>>, key: K, meta: Meta, conn: C) -> Self {
        Self {
            shared,
            lent: Some(Lent { key, meta, conn }),
        }
    }

    fn lent(&self) -> &Lent<K, C> {
        self.lent
            .as_ref()
            .expect("lent until a consuming method takes it")
    }

    /// The caller vouches the connection is clean and reusable. It is closed instead if it is
    /// past its lifetime, of a retired generation, or the group is over `max_size`; otherwise it
    /// serves the head of the queue or goes idle (see the crate docs).
    pub fn give_back(mut self) {
        if let Some(Lent { key, meta, conn }) = self.lent.take() {
            self.shared.give_back(key, meta, conn);
        }
    }

    /// Closes the connection (e.g. the server sent FATAL), logging why.
    pub fn discard(mut self, reason: &str) {
        if let Some(lent) = &self.lent {
            tracing::debug!(conn_id = lent.meta.id.0, reason, "discarding connection");
        }
        drop(self.release());
    }

    /// Takes the connection out of the pool for good, releasing its capacity.
    pub fn detach(mut self) -> C {
        self.release()
            .expect("lent until a consuming method takes it")
    }

    /// Releases the capacity and hands the connection out, to be dropped after the lock is
    /// released.
    fn release(&mut self) -> Option<C> {
        let Lent { key, conn, .. } = self.lent.take()?;
        self.shared.release_borrowed(&key);
        Some(conn)
    }

    /// The key this connection was opened for.
    pub fn key(&self) -> &K {
        &self.lent().key
    }

    /// When the connection was opened (when its slot was filled).
    pub fn created_at(&self) -> Instant {
        self.lent().meta.created_at
    }

    /// The connection's identity within its group.
    pub fn id(&self) -> ConnId {
        self.lent().meta.id
    }
}

impl<K: Eq + Hash + Clone, C> Deref for Pooled<K, C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.lent().conn
    }
}

impl<K: Eq + Hash + Clone, C> DerefMut for Pooled<K, C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self
            .lent
            .as_mut()
            .expect("lent until a consuming method takes it")
            .conn
    }
}

impl<K: Eq + Hash + Clone, C> Drop for Pooled<K, C> {
    fn drop(&mut self) {
        if let Some(lent) = &self.lent {
            tracing::debug!(
                conn_id = lent.meta.id.0,
                "connection dropped without give_back"
            );
        }
        drop(self.release());
    }
}

impl<K: Eq + Hash + Clone + fmt::Debug, C> fmt::Debug for Pooled<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Pooled");
        if let Some(lent) = &self.lent {
            s.field("key", &lent.key)
                .field("id", &lent.meta.id)
                .field("created_at", &lent.meta.created_at);
        }
        s.finish()
    }
}
