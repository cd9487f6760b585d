//! Ageing and resizing: reap, lifetime, retire_all, set_limits lowering.

use super::*;

fn aged(max_size: usize, idle_timeout: Option<u64>, lifetime: Option<u64>) -> Limits {
    Limits {
        max_size,
        max_idle: max_size,
        idle_timeout: idle_timeout.map(Duration::from_secs),
        lifetime: lifetime.map(Duration::from_secs),
    }
}

async fn advance_secs(secs: u64) {
    tokio::time::advance(Duration::from_secs(secs)).await;
}

fn numbers(conns: &[Conn]) -> Vec<u32> {
    let mut n: Vec<u32> = conns.iter().map(|c| c.n).collect();
    n.sort_unstable();
    n
}

#[tokio::test(start_paused = true)]
async fn reap_closes_connections_idle_too_long() {
    let tracker = Tracker::default();
    let group = TestGroup::new(aged(3, Some(30), None));
    let c1 = take(&group, &tracker, "a", 1).await;
    let c2 = take(&group, &tracker, "b", 2).await;
    c1.give_back();
    advance_secs(20).await;
    c2.give_back();
    assert!(group.reap().is_empty());
    advance_secs(15).await;
    let reaped = group.reap();
    assert_eq!(numbers(&reaped), vec![1]);
    let stats = group.stats();
    assert_eq!((stats.total, stats.idle), (1, 1));
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn reap_closes_connections_past_lifetime() {
    let tracker = Tracker::default();
    let group = TestGroup::new(aged(3, None, Some(60)));
    let old = take(&group, &tracker, "a", 1).await;
    advance_secs(30).await;
    let young = take(&group, &tracker, "a", 2).await;
    old.give_back();
    young.give_back();
    advance_secs(40).await;
    assert_eq!(numbers(&group.reap()), vec![1]);
    assert_eq!(group.stats().total, 1);
}

#[tokio::test(start_paused = true)]
async fn borrow_skips_idle_connections_past_lifetime() {
    let tracker = Tracker::default();
    let group = TestGroup::new(aged(3, None, Some(60)));
    let old = take(&group, &tracker, "a", 1).await;
    advance_secs(30).await;
    let young = take(&group, &tracker, "a", 2).await;
    young.give_back();
    old.give_back(); // returned last, so first in line
    advance_secs(40).await;
    let got = idle(group.borrow(&"a", LONG).await.unwrap());
    assert_eq!(got.n, 2);
    assert_eq!(tracker.live(), 1, "the expired one was closed");
    assert_eq!(group.stats().total, 1);
}

#[tokio::test(start_paused = true)]
async fn give_back_past_lifetime_closes() {
    let tracker = Tracker::default();
    let group = TestGroup::new(aged(3, None, Some(60)));
    let conn = take(&group, &tracker, "a", 1).await;
    advance_secs(61).await;
    conn.give_back();
    assert_eq!(tracker.live(), 0);
    assert_eq!(group.stats().total, 0);
}

#[tokio::test(start_paused = true)]
async fn reap_trims_to_a_lowered_max_idle_oldest_first() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(3, 3));
    let conns = [
        take(&group, &tracker, "a", 1).await,
        take(&group, &tracker, "b", 2).await,
        take(&group, &tracker, "a", 3).await,
    ];
    for conn in conns {
        conn.give_back();
        tokio::time::advance(Duration::from_millis(1)).await;
    }
    group.set_limits(limits(3, 1));
    assert_eq!(group.stats().idle, 3, "set_limits closes nothing itself");
    assert_eq!(numbers(&group.reap()), vec![1, 2]);
    assert_eq!(idle(group.borrow(&"a", LONG).await.unwrap()).n, 3);
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn retire_all_closes_idle_and_retires_lent_connections_and_slots() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(4, 4));
    let idle_one = take(&group, &tracker, "a", 1).await;
    let lent = take(&group, &tracker, "a", 2).await;
    let pending = slot(group.borrow(&"b", LONG).await.unwrap());
    idle_one.give_back();

    assert_eq!(numbers(&group.retire_all()), vec![1]);
    assert_eq!(group.stats().total, 2);

    lent.give_back();
    assert_eq!(group.stats().total, 1, "old generation: closed on return");
    pending.fill(tracker.conn(3)).give_back();
    assert_eq!(
        group.stats().total,
        0,
        "slot granted before retire_all: old too"
    );

    take(&group, &tracker, "a", 4).await.give_back();
    let stats = group.stats();
    assert_eq!((stats.total, stats.idle), (1, 1), "new generation is kept");
    assert_eq!(tracker.live(), 1);
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn lowering_max_size_closes_the_excess_as_it_comes_back() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(3, 3));
    let conns = [
        take(&group, &tracker, "a", 1).await,
        take(&group, &tracker, "a", 2).await,
        take(&group, &tracker, "a", 3).await,
    ];
    group.set_limits(limits(1, 1));
    assert_eq!(
        group.stats().borrowed,
        3,
        "borrowed connections are not killed"
    );
    assert_eq!(
        group.borrow(&"b", Duration::ZERO).await.map(|_| ()),
        Err(crate::BorrowError::Timeout {
            waited: Duration::ZERO,
            max_size: 1
        })
    );
    for conn in conns {
        conn.give_back();
    }
    let stats = group.stats();
    assert_eq!((stats.total, stats.idle), (1, 1));
    assert_eq!(tracker.live(), 1);
    group.assert_invariants();
}

#[tokio::test(start_paused = true)]
async fn lowering_max_size_then_reap_trims_idle() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(3, 3));
    let conns = [
        take(&group, &tracker, "a", 1).await,
        take(&group, &tracker, "b", 2).await,
        take(&group, &tracker, "a", 3).await,
    ];
    for conn in conns {
        conn.give_back();
        tokio::time::advance(Duration::from_millis(1)).await;
    }
    group.set_limits(limits(1, 3));
    assert_eq!(numbers(&group.reap()), vec![1, 2]);
    assert_eq!(group.stats().total, 1);
}

#[tokio::test(start_paused = true)]
async fn demand_evicts_enough_after_max_size_was_lowered() {
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(3, 3));
    let conns = [
        take(&group, &tracker, "a", 1).await,
        take(&group, &tracker, "a", 2).await,
        take(&group, &tracker, "a", 3).await,
    ];
    for conn in conns {
        conn.give_back();
    }
    group.set_limits(limits(2, 3));
    let _b = slot(group.borrow(&"b", Duration::ZERO).await.unwrap());
    let stats = group.stats();
    assert_eq!((stats.total, stats.idle, stats.connecting), (2, 1, 1));
    assert_eq!(tracker.live(), 1);
}
