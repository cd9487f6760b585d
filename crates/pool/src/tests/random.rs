//! Randomized sequences of borrows, returns, drops, detaches, cancellations, reaps, retires
//! and limit changes, checking the invariants after every step.

use tokio::task::JoinHandle;

use super::*;
use crate::BorrowError;

/// A small deterministic generator (64-bit LCG), so failures replay by seed.
pub(super) struct Lcg(u64);

impl Lcg {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `0..n`.
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn millis(&mut self, n: usize) -> Duration {
        Duration::from_millis(self.below(n) as u64)
    }
}

fn random_limits(rng: &mut Lcg) -> Limits {
    Limits {
        max_size: 1 + rng.below(6),
        max_idle: rng.below(4),
        idle_timeout: Some(Duration::from_millis(20 + rng.below(200) as u64)),
        lifetime: Some(Duration::from_millis(50 + rng.below(200) as u64)),
    }
}

/// One borrower: waits, maybe connects, holds, then ends in one of four ways. Any await may be
/// cut short by an abort.
fn spawn_borrower(group: &TestGroup, tracker: &Tracker, rng: &mut Lcg, n: u32) -> JoinHandle<()> {
    let key = ["a", "b", "c"][rng.below(3)];
    let timeout = rng.millis(120);
    let (connect, hold, ending) = (rng.millis(10), rng.millis(20), rng.below(4));
    let (group, tracker) = (group.clone(), tracker.clone());
    tokio::spawn(async move {
        let grant = match group.borrow(&key, timeout).await {
            Ok(grant) => grant,
            Err(BorrowError::Timeout { .. }) => return,
            Err(BorrowError::Closed) => panic!("never closed here"),
        };
        assert_eq!(*grant.key(), key);
        let pooled = match grant {
            Grant::Idle(pooled) => pooled,
            Grant::Slot(slot) => {
                tokio::time::sleep(connect).await;
                slot.fill(tracker.conn(n))
            }
        };
        tokio::time::sleep(hold).await;
        match ending {
            0 | 1 => pooled.give_back(),
            2 => drop(pooled),
            _ => drop(pooled.detach()),
        }
    })
}

/// Checks the invariants visible from outside, plus the internal ones.
fn check(group: &TestGroup, tracker: &Tracker, last_total: &mut usize) {
    group.assert_invariants();
    let stats = group.stats();
    assert_eq!(
        tracker.live(),
        stats.idle + stats.borrowed,
        "leaked or lost a connection"
    );
    if stats.total > stats.max_size {
        assert!(stats.total <= *last_total, "grew while over max_size");
    }
    *last_total = stats.total;
}

async fn run(seed: u64) {
    let mut rng = Lcg::new(seed);
    let tracker = Tracker::default();
    let group = TestGroup::new(random_limits(&mut rng));
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    let mut last_total = 0;
    for step in 0..400u32 {
        match rng.below(20) {
            0..=11 => tasks.push(spawn_borrower(&group, &tracker, &mut rng, step)),
            12..=14 if !tasks.is_empty() => tasks[rng.below(tasks.len())].abort(),
            15 | 16 => drop(group.reap()),
            17 => drop(group.retire_all()),
            18 => group.set_limits(random_limits(&mut rng)),
            _ => {}
        }
        tokio::time::sleep(rng.millis(4)).await;
        settle().await;
        check(&group, &tracker, &mut last_total);
    }
    for task in tasks {
        if let Err(e) = task.await {
            assert!(e.is_cancelled(), "seed {seed}: {e}");
        }
    }
    check(&group, &tracker, &mut last_total);
    let stats = group.stats();
    assert_eq!((stats.borrowed, stats.connecting, stats.waiting), (0, 0, 0));
    assert_eq!(stats.total, stats.idle);
    drop(group.retire_all());
    assert_eq!(group.stats().total, 0);
    assert!(group.stats().keys.is_empty());
    assert_eq!(tracker.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn random_sequences_keep_the_invariants() {
    for seed in 1..=40 {
        run(seed).await;
    }
}

#[test]
fn lcg_covers_its_range() {
    let mut rng = Lcg::new(3);
    let mut seen = [false; 5];
    for _ in 0..100 {
        seen[rng.below(5)] = true;
    }
    assert!(seen.iter().all(|s| *s));
}

/// Real threads racing on the lock: no deadlock, no leak, the limit held throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn threads_racing_keep_the_invariants() {
    const MAX: usize = 4;
    let tracker = Tracker::default();
    let group = TestGroup::new(limits(MAX, 2));
    let mut tasks = Vec::new();
    for t in 0..32u64 {
        let (group, tracker) = (group.clone(), tracker.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg::new(t);
            for i in 0..200u32 {
                let key = ["a", "b", "c"][rng.below(3)];
                // Sometimes cancel the borrow itself, at whatever point it has reached.
                let limit = Duration::from_micros(rng.below(500) as u64);
                let Ok(Ok(grant)) = tokio::time::timeout(limit, group.borrow(&key, LONG)).await
                else {
                    continue;
                };
                assert!(group.stats().total <= MAX);
                let pooled = match grant {
                    Grant::Idle(pooled) => pooled,
                    Grant::Slot(slot) => slot.fill(tracker.conn(i)),
                };
                tokio::task::yield_now().await;
                match rng.below(3) {
                    0 => drop(pooled),
                    _ => pooled.give_back(),
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("no panic");
    }
    group.assert_invariants();
    let stats = group.stats();
    assert_eq!((stats.borrowed, stats.connecting, stats.waiting), (0, 0, 0));
    assert_eq!(tracker.live(), stats.idle);
    assert!(stats.total <= MAX);
}
