//! An engine-agnostic connection pool.
//!
//! # Model
//!
//! A [`Group`] is a set of pools that share one connection limit, `max_size` (for Sluice: one
//! database target). Inside it connections are keyed by `K` (for Sluice: database and user),
//! and a connection only ever serves its own key.
//!
//! The pool never opens a connection. When a borrower may open one, it is given a [`Slot`]:
//! permission that already counts against `max_size`. The borrower connects and calls
//! [`Slot::fill`], which turns the slot into a [`Pooled`] guard. Every value a borrower can
//! hold, a slot, a pooled connection, or a [`Grant`] of either still travelling to a queued
//! borrower, gives its capacity back when dropped. So a borrower cancelled at any await leaks
//! nothing, and a connection dropped without [`Pooled::give_back`] is closed rather than lent
//! again in an unknown state.
//!
//! `total` counts open connections (idle and lent) and outstanding slots. It never exceeds
//! `max_size`, except after [`Group::set_limits`] lowers it: then nothing is killed, but no
//! slot is granted until `total` is back under the limit, connections given back are closed
//! while it is over, and [`Group::reap`] closes surplus idle ones.
//!
//! # Borrowing
//!
//! [`Group::borrow`] tries, in order: the most recently returned idle connection of its key
//! (LIFO keeps a hot working set and lets the rest age out; ones past `lifetime` are closed on
//! the way); a slot if `total < max_size`; a slot made by closing the idle connection of another
//! key that was returned longest ago. Failing all three it queues.
//!
//! # Fairness
//!
//! A group has one FIFO queue for all keys, and only its head is ever served:
//!
//! - a new borrower goes straight to the back of the queue if anyone is queued, even if it
//!   could be served; nobody overtakes;
//! - whenever something changes (a connection given back or closed, a slot dropped, limits
//!   raised, idle connections removed) the head is served by the same three steps as a new
//!   borrower, then the next head, until the head cannot be served;
//! - so a connection given back for key A goes to the head if the head wants A. If the head
//!   wants B and the group is full, the A connection is closed and the head gets a slot for B.
//!
//! The price is head-of-line blocking: a borrower for A queued behind one for B waits for the
//! B borrower even if an A connection comes back first, and serving B may cost closing a good
//! A connection and opening a new one. In exchange no key can starve another and every
//! borrower's wait is bounded by the queue ahead of it. While anyone is queued no connection
//! stays idle, since the head would have taken it or evicted it.
//!
//! # Accepted races
//!
//! - A borrower whose timeout fires just as it is served gets the grant rather than a
//!   timeout error.
//! - A borrower cancelled just after being served routes the grant back: a connection is
//!   given back (it was clean when handed over) and a slot is released. Either serves the
//!   next head.
//! - An idle connection may have been closed by the server while idle; the pool cannot know,
//!   and the borrower should check it (and [`Pooled::discard`] it) before use.
//! - [`Group::retire_all`] retires slots granted before it too: their connections are closed
//!   when given back, since they may have been opened to the old server.
//!
//! # Locking
//!
//! All state sits behind one `std::sync::Mutex` per group, held only for short bookkeeping.
//! Connections are never dropped and guards never released with it held, so `Drop` of a
//! connection type may do anything except block on the pool itself.

mod group;
mod guard;
mod shared;
mod state;
mod types;

#[cfg(test)]
mod tests;

pub use group::Group;
pub use guard::{Grant, Pooled, Slot};
pub use types::{BorrowError, ConnId, GroupStats, KeyStats, Limits};
