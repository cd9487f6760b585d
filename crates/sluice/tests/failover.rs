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
