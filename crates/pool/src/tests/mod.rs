//! Unit tests, on paused tokio time. Helpers shared by the test modules live here.

mod basic;
mod maintenance;
mod random;
mod waiting;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::{Grant, Group, Limits, Pooled, Slot};

const LONG: Duration = Duration::from_secs(3600);

fn limits(max_size: usize, max_idle: usize) -> Limits {
    Limits {
        max_size,
        max_idle,
        idle_timeout: None,
        lifetime: None,
    }
}

/// A fake connection that counts how many of its kind are alive.
#[derive(Debug)]
struct Conn {
    n: u32,
    live: Arc<AtomicUsize>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Makes [`Conn`]s and tells how many are alive.
#[derive(Clone, Default)]
struct Tracker(Arc<AtomicUsize>);

impl Tracker {
    fn conn(&self, n: u32) -> Conn {
        self.0.fetch_add(1, Ordering::SeqCst);
        Conn {
            n,
            live: self.0.clone(),
        }
    }

    fn live(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

type TestGroup = Group<&'static str, Conn>;

fn slot<K: Eq + std::hash::Hash + Clone, C>(grant: Grant<K, C>) -> Slot<K, C> {
    match grant {
        Grant::Slot(slot) => slot,
        Grant::Idle(_) => panic!("expected a slot, got an idle connection"),
    }
}

fn idle<K: Eq + std::hash::Hash + Clone, C>(grant: Grant<K, C>) -> Pooled<K, C> {
    match grant {
        Grant::Idle(pooled) => pooled,
        Grant::Slot(_) => panic!("expected an idle connection, got a slot"),
    }
}

/// Borrows for `key`, opening a connection numbered `n` if given a slot.
async fn take(
    group: &TestGroup,
    tracker: &Tracker,
    key: &'static str,
    n: u32,
) -> Pooled<&'static str, Conn> {
    match group.borrow(&key, LONG).await.expect("borrow") {
        Grant::Idle(pooled) => pooled,
        Grant::Slot(slot) => slot.fill(tracker.conn(n)),
    }
}

/// Lets every other task run until it blocks.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// Waits until `n` borrowers are queued.
async fn until_waiting(group: &TestGroup, n: usize) {
    while group.stats().waiting < n {
        tokio::task::yield_now().await;
    }
}
