//! The queue: hand-over, FIFO order, timeouts, cancellation, close.

use std::pin::pin;
use std::sync::Mutex;

use super::*;
use crate::BorrowError;

#[tokio::test(start_paused = true)]
async fn give_back_goes_straight_to_a_waiter_of_the_same_key() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let held = take(&group, &tracker, "a", 1).await;
    let id = held.id();
    let g = group.clone();
    let waiter = tokio::spawn(async move { idle(g.borrow(&"a", LONG).await.unwrap()).id() });
    until_waiting(&group, 1).await;
    group.assert_invariants();
    held.give_back();
    assert_eq!(waiter.await.unwrap(), id);
    assert_eq!(tracker.live(), 0, "the waiter dropped it without give_back");
    assert_eq!(group.stats().total, 0);
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn give_back_to_a_head_of_another_key_closes_and_grants_a_slot() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let held = take(&group, &tracker, "a", 1).await;
    let g = group.clone();
    let waiter = tokio::spawn(async move { *slot(g.borrow(&"b", LONG).await.unwrap()).key() });
    until_waiting(&group, 1).await;
    held.give_back();
    assert_eq!(
        tracker.live(),
        0,
        "the a connection was closed to make room"
    );
    assert_eq!(waiter.await.unwrap(), "b");
    assert_eq!(group.stats().total, 0);
}

#[tokio::test(start_paused = true)]
async fn dropped_pooled_wakes_a_waiter_with_a_slot() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let held = take(&group, &tracker, "a", 1).await;
    let g = group.clone();
    let waiter = tokio::spawn(async move { g.borrow(&"a", LONG).await.map(slot).is_ok() });
    until_waiting(&group, 1).await;
    drop(held);
    assert!(waiter.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn detach_wakes_a_waiter() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let held = take(&group, &tracker, "a", 1).await;
    let g = group.clone();
    let waiter = tokio::spawn(async move { g.borrow(&"a", LONG).await.map(slot).is_ok() });
    until_waiting(&group, 1).await;
    let _conn = held.detach();
    assert!(waiter.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_fifo_order_across_keys() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let held = take(&group, &tracker, "a", 0).await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (i, key) in ["a", "b", "a", "b", "b", "a"].into_iter().enumerate() {
        let (g, t, order) = (group.clone(), tracker.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let pooled = take(&g, &t, key, 10 + i as u32).await;
            order.lock().unwrap().push(i);
            tokio::time::sleep(Duration::from_millis(10)).await;
            pooled.give_back();
        }));
        until_waiting(&group, i + 1).await;
    }
    held.give_back();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(group.stats().total, 1);
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn timeout_reports_how_long_and_the_limit() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let _held = take(&group, &tracker, "a", 1).await;
    let err = group
        .borrow(&"a", Duration::from_millis(50))
        .await
        .unwrap_err();
    let BorrowError::Timeout { waited, max_size } = err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert!(waited >= Duration::from_millis(50) && waited < Duration::from_millis(60));
    assert_eq!(max_size, 1);
    assert_eq!(group.stats().waiting, 0);
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn cancelled_waiter_leaves_the_queue_and_leaks_nothing() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let held = take(&group, &tracker, "a", 1).await;
    let outer = tokio::time::timeout(Duration::from_millis(10), group.borrow(&"a", LONG)).await;
    assert!(outer.is_err(), "the outer timeout cancelled the borrow");
    assert_eq!(group.stats().waiting, 0);

    // A waiter behind a cancelled one is still served.
    let g = group.clone();
    let later = tokio::spawn(async move { g.borrow(&"b", LONG).await.map(slot).is_ok() });
    until_waiting(&group, 1).await;
    let mut cancelled = Box::pin(group.borrow(&"a", LONG));
    assert!(tokio::time::timeout(Duration::ZERO, &mut cancelled)
        .await
        .is_err());
    assert_eq!(group.stats().waiting, 2);
    drop(held);
    assert!(later.await.unwrap());
    // The b slot was dropped, so its capacity was sent on to the queued (unpolled) borrow.
    let stats = group.stats();
    assert_eq!((stats.total, stats.connecting, stats.waiting), (1, 1, 0));
    drop(cancelled);
    assert_eq!(group.stats().total, 0);
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn cancelled_waiter_that_was_handed_a_connection_gives_it_back() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let held = take(&group, &tracker, "a", 1).await;
    let id = held.id();
    {
        let mut fut = pin!(group.borrow(&"a", LONG));
        assert!(tokio::time::timeout(Duration::ZERO, &mut fut)
            .await
            .is_err());
        held.give_back();
        let stats = group.stats();
        assert_eq!((stats.borrowed, stats.waiting), (1, 0), "in flight");
    }
    let stats = group.stats();
    assert_eq!((stats.total, stats.idle, stats.borrowed), (1, 1, 0));
    assert_eq!(tracker.live(), 1, "kept, not closed");
    assert_eq!(idle(group.borrow(&"a", LONG).await.unwrap()).id(), id);
}

#[tokio::test(start_paused = true)]
async fn cancelled_waiter_that_was_handed_a_slot_passes_it_on() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let held = take(&group, &tracker, "a", 1).await;
    let mut first = Box::pin(group.borrow(&"b", LONG));
    assert!(tokio::time::timeout(Duration::ZERO, &mut first)
        .await
        .is_err());
    let g = group.clone();
    let second = tokio::spawn(async move { g.borrow(&"c", LONG).await.map(slot).is_ok() });
    until_waiting(&group, 2).await;
    drop(held);
    assert_eq!(
        group.stats().connecting,
        1,
        "slot in flight to the first waiter"
    );
    drop(first);
    assert!(
        second.await.unwrap(),
        "the slot's capacity went to the next waiter"
    );
    settle().await;
    assert_eq!(group.stats().total, 0);
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn a_grant_received_in_time_wins_over_a_late_timer() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let held = take(&group, &tracker, "a", 1).await;
    let mut fut = pin!(group.borrow(&"a", Duration::from_millis(5)));
    assert!(tokio::time::timeout(Duration::ZERO, &mut fut)
        .await
        .is_err());
    // The deadline passes before the borrower is polled again, but a connection was sent.
    held.give_back();
    tokio::time::advance(Duration::from_millis(10)).await;
    assert!(matches!(fut.await, Ok(Grant::Idle(_))));
}

#[tokio::test(start_paused = true)]
async fn close_wakes_waiters_and_refuses_borrowers() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let held = take(&group, &tracker, "a", 1).await;
    let mut waiters = Vec::new();
    for key in ["a", "c"] {
        let g = group.clone();
        waiters.push(tokio::spawn(async move {
            g.borrow(&key, LONG).await.map(|_| ())
        }));
    }
    until_waiting(&group, 2).await;

    assert!(group.close().is_empty());
    for waiter in waiters {
        assert_eq!(waiter.await.unwrap(), Err(BorrowError::Closed));
    }
    assert_eq!(
        group.borrow(&"a", LONG).await.map(|_| ()),
        Err(BorrowError::Closed)
    );
    held.give_back();
    assert_eq!(tracker.live(), 0, "given back after close: closed");
    assert_eq!(group.stats().total, 0);
}

#[tokio::test(start_paused = true)]
async fn close_returns_idle_connections() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(2, 2));
    take(&group, &tracker, "a", 1).await.give_back();
    let idle_conns = group.close();
    assert_eq!(idle_conns.len(), 1);
    assert_eq!(group.stats().total, 0);
}

#[tokio::test(start_paused = true)]
async fn raising_max_size_serves_waiters() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(1, 1));
    let _held = take(&group, &tracker, "a", 1).await;
    let g = group.clone();
    let waiter = tokio::spawn(async move { g.borrow(&"a", LONG).await.map(slot).is_ok() });
    until_waiting(&group, 1).await;
    group.set_limits(limits(2, 2));
    assert!(waiter.await.unwrap());
    assert_eq!(group.limits(), limits(2, 2));
}

/// 100 borrowers on 3 keys with random hold times: never more than `max_size` at once, and
/// everyone is served.
#[tokio::test(start_paused = true)]
async fn many_borrowers_respect_max_size() {
    const MAX: usize = 5;
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(MAX, MAX));
    let in_use = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut rng = super::random::Lcg::new(7);
    let mut tasks = Vec::new();
    for i in 0..100u32 {
        let key = ["a", "b", "c"][rng.below(3)];
        let (connect, hold) = (rng.below(5) as u64, 1 + rng.below(50) as u64);
        let (g, t) = (group.clone(), tracker.clone());
        let (in_use, peak) = (in_use.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            let grant = g.borrow(&key, LONG).await.expect("everyone is served");
            let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let pooled = match grant {
                Grant::Idle(pooled) => pooled,
                Grant::Slot(s) => {
                    tokio::time::sleep(Duration::from_millis(connect)).await;
                    s.fill(t.conn(i))
                }
            };
            tokio::time::sleep(Duration::from_millis(hold)).await;
            in_use.fetch_sub(1, Ordering::SeqCst);
            pooled.give_back();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= MAX);
    assert_eq!(
        peak.load(Ordering::SeqCst),
        MAX,
        "the pool was used to its limit"
    );
    let stats = group.stats();
    assert_eq!((stats.borrowed, stats.waiting, stats.connecting), (0, 0, 0));
    assert!(stats.total <= MAX);
    assert_eq!(tracker.live(), stats.idle);
    group.assert_invariants();
}
