//! Borrowing without waiting: slots, idle reuse, eviction, the guards' endings.

use super::*;
use crate::{BorrowError, ConnId, KeyStats};

#[tokio::test(start_paused = true)]
async fn slot_fill_give_back_then_reuse() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(2, 2));
    let s = slot(group.borrow(&"a", LONG).await.unwrap());
    assert_eq!(*s.key(), "a");
    let stats = group.stats();
    assert_eq!((stats.total, stats.connecting, stats.borrowed), (1, 1, 0));
    assert_eq!(group.busy(), 1, "a slot being connected is busy");

    let created = tokio::time::Instant::now();
    let pooled = s.fill(tracker.conn(7));
    assert_eq!(pooled.n, 7);
    assert_eq!(pooled.created_at(), created);
    let id = pooled.id();
    let stats = group.stats();
    assert_eq!((stats.total, stats.connecting, stats.borrowed), (1, 0, 1));

    pooled.give_back();
    let stats = group.stats();
    assert_eq!((stats.total, stats.idle, stats.borrowed), (1, 1, 0));
    assert_eq!(group.busy(), 0, "an idle connection is not busy");
    assert_eq!(
        stats.keys,
        vec![(
            "a",
            KeyStats {
                idle: 1,
                ..KeyStats::default()
            }
        )]
    );

    let again = idle(group.borrow(&"a", LONG).await.unwrap());
    assert_eq!(again.id(), id);
    assert_eq!(again.created_at(), created);
    drop(again);
    assert_eq!(tracker.live(), 0);
    assert_eq!(group.stats().total, 0);
    assert!(group.stats().keys.is_empty());
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn idle_reuse_is_lifo() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(3, 3));
    let c1 = take(&group, &tracker, "a", 1).await;
    let c2 = take(&group, &tracker, "a", 2).await;
    let c3 = take(&group, &tracker, "a", 3).await;
    c1.give_back();
    tokio::time::advance(Duration::from_millis(1)).await;
    c2.give_back();
    tokio::time::advance(Duration::from_millis(1)).await;
    c3.give_back();
    let first = idle(group.borrow(&"a", LONG).await.unwrap());
    let second = idle(group.borrow(&"a", LONG).await.unwrap());
    assert_eq!((first.n, second.n), (3, 2));
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn ids_are_unique() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(3, 3));
    let a = take(&group, &tracker, "a", 1).await;
    let b = take(&group, &tracker, "b", 2).await;
    let c = take(&group, &tracker, "a", 3).await;
    let mut ids = vec![a.id(), b.id(), c.id()];
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| *id != ConnId(0)));
}

#[tokio::test(start_paused = true)]
async fn keys_do_not_share_connections() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(3, 3));
    take(&group, &tracker, "a", 1).await.give_back();
    let b = slot(group.borrow(&"b", LONG).await.unwrap());
    assert_eq!(*b.key(), "b");
    assert_eq!(group.stats().idle, 1);
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn full_group_evicts_oldest_idle_of_another_key() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(2, 2));
    let a = take(&group, &tracker, "a", 1).await;
    let b = take(&group, &tracker, "b", 2).await;
    a.give_back();
    tokio::time::advance(Duration::from_millis(1)).await;
    b.give_back();
    assert_eq!(tracker.live(), 2);

    let c = slot(group.borrow(&"c", LONG).await.unwrap());
    assert_eq!(tracker.live(), 1, "one idle connection closed");
    let stats = group.stats();
    assert_eq!((stats.total, stats.idle, stats.connecting), (2, 1, 1));
    let b_again = idle(group.borrow(&"b", LONG).await.unwrap());
    assert_eq!(
        b_again.n, 2,
        "the older idle connection, a's, was the one evicted"
    );
    drop((c, b_again));
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn dropping_a_slot_releases_capacity() {
    let group = TestGroup::new(limits(1, 1));
    let grant = group.borrow(&"a", LONG).await.unwrap();
    assert_eq!(*grant.key(), "a");
    assert_eq!(group.stats().total, 1);
    drop(grant);
    assert_eq!(group.stats().total, 0);
    assert!(group.stats().keys.is_empty());
}

#[tokio::test(start_paused = true)]
async fn dropping_pooled_closes_it_and_releases_capacity() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let pooled = take(&group, &tracker, "a", 1).await;
    drop(pooled);
    assert_eq!(tracker.live(), 0);
    assert_eq!(group.stats().total, 0);
    // The capacity is really free: a new slot is granted at once.
    let _slot = slot(group.borrow(&"a", Duration::ZERO).await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn discard_closes_and_releases() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    take(&group, &tracker, "a", 1)
        .await
        .discard("server sent FATAL");
    assert_eq!(tracker.live(), 0);
    assert_eq!(group.stats().total, 0);
}

#[tokio::test(start_paused = true)]
async fn detach_takes_the_connection_out() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let mut pooled = take(&group, &tracker, "a", 1).await;
    pooled.n = 42;
    let conn = pooled.detach();
    assert_eq!(conn.n, 42);
    assert_eq!(tracker.live(), 1, "detached, not closed");
    assert_eq!(group.stats().total, 0);
    let _slot = slot(group.borrow(&"a", Duration::ZERO).await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn max_idle_trims_oldest_on_give_back() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(3, 1));
    let c1 = take(&group, &tracker, "a", 1).await;
    let c2 = take(&group, &tracker, "b", 2).await;
    c1.give_back();
    tokio::time::advance(Duration::from_millis(1)).await;
    c2.give_back();
    let stats = group.stats();
    assert_eq!((stats.total, stats.idle), (1, 1));
    assert_eq!(tracker.live(), 1);
    assert_eq!(idle(group.borrow(&"b", LONG).await.unwrap()).n, 2);
}

#[tokio::test(start_paused = true)]
async fn zero_timeout_fails_at_once_when_full() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let _held = take(&group, &tracker, "a", 1).await;
    let err = group.borrow(&"a", Duration::ZERO).await.unwrap_err();
    assert_eq!(
        err,
        BorrowError::Timeout {
            waited: Duration::ZERO,
            max_size: 1
        }
    );
    assert_eq!(group.stats().waiting, 0);
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn error_messages() {
    let timeout = BorrowError::Timeout {
        waited: Duration::from_secs(2),
        max_size: 5,
    };
    assert_eq!(
        timeout.to_string(),
        "no connection available after waiting 2s (pool max_size 5)"
    );
    assert_eq!(BorrowError::Closed.to_string(), "the pool is closed");
}
