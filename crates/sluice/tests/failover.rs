//! Failover against a real primary and streaming standby: the standby is promoted after the
//! primary dies; idle clients never notice, new transactions run on the new primary, and the
//! client whose transaction was on the lost primary sees it fail.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Fixture, Options};
use futures_util::future::join_all;
use test_support::StopMode;
use tokio_postgres::SimpleQueryMessage;

async fn in_recovery(client: &tokio_postgres::Client) -> Result<String, tokio_postgres::Error> {
    let rows = client
        .simple_query("SELECT pg_is_in_recovery()::text")
        .await?;
    Ok(rows
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap())
}

/// Rows matching `sql` (a `SELECT count(*) ...`) on `cluster`, asked directly as the app user.
async fn count_on(cluster: &test_support::PgCluster, sql: &str) -> i64 {
    let direct = cluster
        .connect(common::APP, common::APP_PASSWORD, common::APP)
        .await
        .unwrap();
    direct.query_one(sql, &[]).await.unwrap().get(0)
}

/// Commits are asynchronous in the test clusters: wait until the standby has replayed what
/// `sql` checks, as a synchronous standby would have, before the primary is taken away.
async fn wait_replicated(standby: &test_support::PgCluster, sql: &str) {
    let replica = standby
        .connect(common::APP, common::APP_PASSWORD, common::APP)
        .await
        .unwrap();
    let replicated = common::eventually(Duration::from_secs(10), || async {
        replica.query_one(sql, &[]).await.is_ok()
    })
    .await;
    assert!(replicated, "the standby never caught up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_follow_the_promoted_standby_and_idle_clients_stay_connected() {
    let mut fx = Fixture::start_with(Options {
        standbys: 1,
        max_connections: 4,
        borrow_timeout: "20s",
        ..Options::default()
    })
    .await;
    let setup = fx.client().await;
    setup
        .batch_execute("CREATE TABLE events (id serial, note text)")
        .await
        .unwrap();
    setup
        .batch_execute("INSERT INTO events (note) VALUES ('before')")
        .await
        .unwrap();
    assert_eq!(
        in_recovery(&setup).await.unwrap(),
        "false",
        "writes go to the primary"
    );
    wait_replicated(
        &fx.standbys[0],
        "SELECT 1 FROM events WHERE note = 'before'",
    )
    .await;
    let idle = join_all((0..10).map(|_| fx.client())).await;
    for c in &idle {
        c.simple_query("SELECT 1").await.unwrap();
    }
    let in_flight = fx.client().await;
    in_flight
        .batch_execute("BEGIN; INSERT INTO events (note) VALUES ('lost')")
        .await
        .unwrap();

    fx.pg.stop(StopMode::Immediate).unwrap();
    // The transaction that was running on the lost primary fails, as it would directly.
    // It got the server's own FATAL (immediate shutdown) and its connection closed.
    assert!(in_flight.simple_query("COMMIT").await.is_err());
    fx.standbys[0].promote().unwrap();

    // Every idle client kept its connection; its next transaction runs on the new primary.
    for c in &idle {
        assert!(!c.is_closed());
        c.batch_execute("INSERT INTO events (note) VALUES ('after')")
            .await
            .unwrap();
        assert_eq!(in_recovery(c).await.unwrap(), "false");
    }
    let count: i64 = common::one(
        &idle[0],
        "SELECT count(*) FROM events WHERE note = 'after'",
        &[],
    )
    .await
    .unwrap()
    .get(0);
    assert_eq!(count, 10);
    // Split brain: the old primary comes back writable (no rewind); the promoted standby is on
    // a newer timeline, so the old one gets nothing.
    fx.pg.start_again().unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    for c in &idle {
        c.batch_execute("INSERT INTO events (note) VALUES ('split')")
            .await
            .unwrap();
    }
    let on_old = count_on(
        &fx.pg,
        "SELECT count(*) FROM events WHERE note IN ('after', 'split')",
    )
    .await;
    assert_eq!(on_old, 0, "writes reached the old primary");
    let lost: i64 = common::one(
        &idle[0],
        "SELECT count(*) FROM events WHERE note = 'lost'",
        &[],
    )
    .await
    .unwrap()
    .get(0);
    assert_eq!(lost, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_writer_new_transactions_wait_then_get_a_clear_error() {
    let mut fx = Fixture::start_with(Options {
        standbys: 1,
        borrow_timeout: "2s",
        ..Options::default()
    })
    .await;
    let client = fx.client().await;
    client.simple_query("SELECT 1").await.unwrap();
    fx.pg.stop(StopMode::Immediate).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Only a standby is left: Sluice does not send writes to it; it waits, then says why.
    let err = client.simple_query("SELECT 1").await.unwrap_err();
    let db = err
        .as_db_error()
        .expect("an error from Sluice, not a closed connection");
    assert_eq!(db.code().code(), "53300");
    assert!(db.message().contains("no writer"), "{}", db.message());
    assert!(!client.is_closed(), "the client stays connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_lost_with_its_server_is_reported_as_unknown() {
    let fx = Fixture::start().await;
    let client = fx.client().await;
    client
        .batch_execute("BEGIN; CREATE TABLE maybe (id int)")
        .await
        .unwrap();
    let pid = common::one(&client, "SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get::<_, i32>(0);
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status();
        assert!(status.unwrap().success());
    };
    // Freeze the backend, send COMMIT, then kill it: the COMMIT may or may not have happened.
    signal("-STOP");
    let commit = tokio::spawn(async move { client.simple_query("COMMIT").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal("-KILL");
    let err = commit.await.unwrap().unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("08007"), "{err}");
}

/// Sends a signal to the postmaster and every process it started.
fn signal_cluster(cluster: &test_support::PgCluster, sig: &str) {
    let pid = cluster.postmaster_pid().unwrap().to_string();
    let children = std::process::Command::new("pkill")
        .args([sig, "-P", &pid])
        .status()
        .unwrap();
    assert!(children.success() || children.code() == Some(1));
    let main = std::process::Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap();
    assert!(main.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_primary_is_replaced_and_ignored_when_it_thaws() {
    let fx = Fixture::start_with(Options {
        standbys: 1,
        borrow_timeout: "30s",
        ..Options::default()
    })
    .await;
    let client = fx.client().await;
    client
        .batch_execute("CREATE TABLE frozen (note text)")
        .await
        .unwrap();
    let standby = &fx.standbys[0];
    wait_replicated(standby, "SELECT count(*) FROM frozen").await;

    signal_cluster(&fx.pg, "-STOP");
    let started = std::time::Instant::now();
    tokio::task::block_in_place(|| standby.promote().unwrap());
    // The frozen host's probe times out (connect_timeout) and the promoted standby takes over.
    // A write that went to a pooled connection to the frozen host is cut then (08006), as if the
    // server had died, instead of hanging: it is the transaction in flight, and may be lost.
    if let Err(e) = client
        .batch_execute("INSERT INTO frozen VALUES ('while frozen')")
        .await
    {
        let code = common::sqlstate(&e);
        assert!(
            client.is_closed() || code.as_deref() == Some("08006"),
            "{e}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the write hung on the frozen host"
    );
    let client = fx.client().await;
    client
        .batch_execute("INSERT INTO frozen VALUES ('after failover')")
        .await
        .unwrap();
    assert_eq!(in_recovery(&client).await.unwrap(), "false");
    signal_cluster(&fx.pg, "-CONT");
    tokio::time::sleep(Duration::from_millis(600)).await;
    client
        .batch_execute("INSERT INTO frozen VALUES ('after thaw')")
        .await
        .unwrap();
    let sql = "SELECT count(*) FROM frozen WHERE note IN ('after failover', 'after thaw')";
    let on_old = count_on(&fx.pg, sql).await;
    // (The write in flight when the host froze may land there when it thaws: it was reported
    // to its client as failed, 08006, as a direct connection would report it.)
    assert_eq!(on_old, 0, "the thawed old primary received writes");
}

/// What one write through Sluice ended as, in Jepsen's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Acknowledged: must be on the new primary.
    Ok,
    /// Refused before it ran (no writer within the borrow timeout): must not be anywhere.
    Failed,
    /// The connection was lost with the write in flight: may or may not have committed.
    Unknown,
}

/// Inserts ids `first, first + step, ...` one per autocommit transaction until `stop`,
/// reconnecting after a lost connection, and records each outcome and when it came.
async fn write_ledger(
    fx: &Fixture,
    first: i32,
    step: i32,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<(i32, Outcome, std::time::Instant)> {
    let mut outcomes = Vec::new();
    let mut client = None;
    let mut id = first;
    while !*stop.borrow() {
        let c = match &client {
            Some(c) => c,
            None => match fx.try_client(common::APP, common::APP_PASSWORD).await {
                Ok(c) => client.insert(c),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let result = c.execute("INSERT INTO ledger VALUES ($1)", &[&id]).await;
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            // Sluice refused before sending anything: no writer in time, or none reachable.
            Err(e) if matches!(common::sqlstate(e).as_deref(), Some("53300" | "08001")) => {
                Outcome::Failed
            }
            Err(e) => {
                println!("outcome unknown: {e} ({:?})", common::sqlstate(e));
                Outcome::Unknown
            }
        };
        if outcome == Outcome::Unknown || c.is_closed() {
            client = None;
        }
        outcomes.push((id, outcome, std::time::Instant::now()));
        id += step;
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_kill_9_of_the_primary_with_synchronous_replication() {
    let fx = Fixture::start_with(Options {
        standbys: 1,
        max_connections: 8,
        borrow_timeout: "20s",
        ..Options::default()
    })
    .await;
    let admin = fx.direct_superuser().await;
    // Set on the primary only: the promoted standby must not wait for a standby of its own.
    // (The test clusters run with synchronous_commit off; with it off, this test does see
    // acknowledged writes lost, as PostgreSQL documents.)
    for sql in [
        "ALTER SYSTEM SET synchronous_commit = 'on'",
        "ALTER SYSTEM SET synchronous_standby_names = '*'",
        "SELECT pg_reload_conf()",
    ] {
        admin.batch_execute(sql).await.unwrap();
    }
    let sync = common::eventually(Duration::from_secs(10), || async {
        let row = admin
            .query_opt(
                "SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'",
                &[],
            )
            .await
            .unwrap();
        row.is_some()
    })
    .await;
    assert!(sync, "the standby never became synchronous");
    fx.client()
        .await
        .batch_execute("CREATE TABLE ledger (id int PRIMARY KEY)")
        .await
        .unwrap();

    // Idle clients (between transactions) must ride the failover out unnoticed.
    let idle: Vec<tokio_postgres::Client> = join_all((0..50).map(|_| fx.client())).await;
    let writers = 4;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let ledgers =
        join_all((0..writers).map(|k| write_ledger(&fx, k + 1, writers, stopped.clone())));
    let chaos = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let killed_at = std::time::Instant::now();
        // The postmaster alone: its backends notice and exit, as after an OOM kill.
        let pid = fx.pg.postmaster_pid().unwrap().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
        assert!(killed.unwrap().success());
        tokio::time::sleep(Duration::from_millis(500)).await;
        tokio::task::block_in_place(|| fx.standbys[0].promote().unwrap());
        let promoted_at = std::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.send(true).unwrap();
        (killed_at, promoted_at)
    };
    let (ledgers, (killed_at, promoted_at)) = tokio::join!(ledgers, chaos);
    let timed: Vec<(i32, Outcome, std::time::Instant)> = ledgers.into_iter().flatten().collect();
    // Every write not acknowledged was in flight on the dying primary, or queued before the new
    // one was elected; after that, everything succeeds.
    let settled = promoted_at + Duration::from_secs(1);
    let late: Vec<_> = timed
        .iter()
        .filter(|(_, o, at)| *o != Outcome::Ok && (*at < killed_at || *at > settled))
        .collect();
    assert!(
        late.is_empty(),
        "writes not acknowledged outside the failover: {late:?}"
    );
    let outcomes: Vec<(i32, Outcome)> = timed.iter().map(|(id, o, _)| (*id, *o)).collect();

    let present: std::collections::HashSet<i32> = fx.standbys[0]
        .connect(common::APP, common::APP_PASSWORD, common::APP)
        .await
        .unwrap()
        .query("SELECT id FROM ledger", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let count = |want: Outcome| outcomes.iter().filter(|(_, o)| *o == want).count();
    let (ok, failed, unknown) = (
        count(Outcome::Ok),
        count(Outcome::Failed),
        count(Outcome::Unknown),
    );
    println!("writes: {ok} ok, {failed} failed, {unknown} unknown");
    let lost: Vec<i32> = outcomes
        .iter()
        .filter(|(id, o)| *o == Outcome::Ok && !present.contains(id))
        .map(|(id, _)| *id)
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    let phantom: Vec<i32> = outcomes
        .iter()
        .filter(|(id, o)| *o == Outcome::Failed && present.contains(id))
        .map(|(id, _)| *id)
        .collect();
    assert!(
        phantom.is_empty(),
        "writes reported failed were applied: {phantom:?}"
    );
    let last_ids: Vec<Outcome> = (0..writers)
        .filter_map(|k| {
            outcomes
                .iter()
                .rfind(|(id, _)| (id - 1) % writers == k)
                .map(|(_, o)| *o)
        })
        .collect();
    assert!(
        last_ids.iter().all(|o| *o == Outcome::Ok),
        "every writer ends writing to the new primary: {last_ids:?}"
    );
    assert_eq!(fx.observer.failover_events().writer_lost, 1);
    let after = join_all(idle.iter().map(in_recovery)).await;
    assert!(
        after.iter().all(|r| matches!(r.as_deref(), Ok("false"))),
        "an idle client noticed the failover: {:?}",
        after.iter().find(|r| r.is_err())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_freeze_of_the_primary_is_ridden_out() {
    let fx = Fixture::start_with(Options {
        standbys: 1,
        ..Options::default()
    })
    .await;
    let client = fx.client().await;
    client
        .batch_execute("CREATE TABLE paused (note text)")
        .await
        .unwrap();
    // Frozen for less than connect_timeout (5 s): a stall, not a failure. The write waits and
    // completes; nobody fails over.
    signal_cluster(&fx.pg, "-STOP");
    let write = tokio::spawn(async move {
        client
            .batch_execute("INSERT INTO paused VALUES ('during the stall')")
            .await
            .map(|()| client)
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal_cluster(&fx.pg, "-CONT");
    let client = write.await.unwrap().unwrap();
    client
        .batch_execute("INSERT INTO paused VALUES ('after')")
        .await
        .unwrap();
    assert_eq!(count_on(&fx.pg, "SELECT count(*) FROM paused").await, 2);
    let events = fx.observer.failover_events();
    assert_eq!(
        (events.writer_elected, events.writer_lost),
        (1, 0),
        "{events:?}"
    );
}
