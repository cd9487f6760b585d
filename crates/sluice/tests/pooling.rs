//! Pooling: limits, the borrow queue, dirty connections, server connections that die.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{eventually, Fixture, Options, APP};
use futures_util::future::join_all;
use tokio_postgres::types::Type;

const INT4: Type = Type::INT4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_share_a_small_pool() {
    let fx = Fixture::start_with(Options {
        max_connections: 5,
        ..Options::default()
    })
    .await;
    let clients = join_all((0..200).map(|_| fx.client())).await;
    let results = join_all(clients.iter().enumerate().map(|(i, c)| async move {
        for round in 0..5i32 {
            let v = i as i32 * 100 + round;
            let row = common::one(c, "SELECT $1::int, pg_sleep(0.001)::text", &[(&v, INT4)])
                .await
                .unwrap();
            assert_eq!(row.get::<_, i32>(0), v);
        }
        c.simple_query("BEGIN; SELECT 1; COMMIT").await.unwrap();
    }))
    .await;
    assert_eq!(results.len(), 200);
    let backends = fx.server_backends(APP).await;
    assert!(backends.len() <= 5, "pool limit exceeded: {backends:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_does_not_open_a_server_connection() {
    let fx = Fixture::start().await;
    let first = fx.client().await; // the first login learns the server parameters
    first.simple_query("SELECT 1").await.unwrap();
    let before = fx.server_backends(APP).await.len();
    let more = join_all((0..50).map(|_| fx.client())).await;
    assert_eq!(fx.server_backends(APP).await.len(), before);
    drop(more);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn borrow_timeout_is_an_error_and_the_connection_stays_usable() {
    let fx = Fixture::start_with(Options {
        max_connections: 1,
        borrow_timeout: "1s",
        ..Options::default()
    })
    .await;
    let holder = fx.client().await;
    holder.batch_execute("BEGIN; SELECT 1").await.unwrap();
    let waiter = fx.client().await;
    let err = waiter.simple_query("SELECT 2").await.unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "53300");
    assert_eq!(db.severity(), "ERROR");
    assert!(
        db.message().contains("connection_borrow_timeout (1s)"),
        "{}",
        db.message()
    );
    assert!(
        db.message().contains("all 1 server connections"),
        "{}",
        db.message()
    );
    // Extended protocol gets the same, in protocol order.
    let err = common::one(&waiter, "SELECT $1::int", &[(&1i32, INT4)])
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("53300"));
    holder.batch_execute("COMMIT").await.unwrap();
    let row = common::one(&waiter, "SELECT $1::int", &[(&3i32, INT4)])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_served_when_the_holder_commits() {
    let fx = Fixture::start_with(Options {
        max_connections: 1,
        ..Options::default()
    })
    .await;
    let holder = fx.client().await;
    holder.batch_execute("BEGIN").await.unwrap();
    let waiter = fx.client().await;
    let pending = tokio::spawn(async move {
        common::one(&waiter, "SELECT 5", &[])
            .await
            .map(|r| r.get::<_, i32>(0))
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!pending.is_finished());
    holder.batch_execute("COMMIT").await.unwrap();
    assert_eq!(pending.await.unwrap().unwrap(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_vanishes_mid_transaction_leaves_nothing_behind() {
    let fx = Fixture::start_with(Options {
        max_connections: 1,
        ..Options::default()
    })
    .await;
    let setup = fx.client().await;
    setup
        .batch_execute("CREATE TABLE t (id int primary key)")
        .await
        .unwrap();
    {
        let (client, conn) = tokio_postgres::connect(
            &fx.connstr(APP, common::APP_PASSWORD, APP),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        let task = tokio::spawn(conn);
        client
            .batch_execute("BEGIN; INSERT INTO t VALUES (1); LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        task.abort(); // the socket closes without Terminate
    }
    let admin = fx.direct_superuser().await;
    let clean = eventually(Duration::from_secs(10), || async {
        let open: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state <> 'idle' \
                 AND application_name <> 'sluice-monitor'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let locks: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 't'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        open == 0 && locks == 0
    })
    .await;
    assert!(clean, "transaction or lock left behind");
    // The single pooled connection serves the next client, and the insert was rolled back.
    let count: i64 = common::one(&setup, "SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_vanishes_during_a_long_query_gets_it_cancelled() {
    let fx = Fixture::start_with(Options {
        max_connections: 1,
        ..Options::default()
    })
    .await;
    {
        let (client, conn) = tokio_postgres::connect(
            &fx.connstr(APP, common::APP_PASSWORD, APP),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        let task = tokio::spawn(conn);
        let q = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(60)").await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        task.abort();
        q.abort();
    }
    let next = fx.client().await;
    let started = std::time::Instant::now();
    next.simple_query("SELECT 1").await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the abandoned pg_sleep was not cancelled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_pooled_connection_killed_by_the_server_is_replaced_silently() {
    let fx = Fixture::start().await;
    let client = fx.client().await;
    client.simple_query("SELECT 1").await.unwrap();
    let admin = fx.direct_superuser().await;
    let killed: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE usename = 'app' AND application_name <> 'sluice-monitor') k",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..5 {
        client.simple_query("SELECT 1").await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_a_transaction_is_seen_by_that_client_only() {
    let fx = Fixture::start().await;
    let victim = fx.client().await;
    let bystander = fx.client().await;
    victim.batch_execute("BEGIN").await.unwrap();
    let pid: i32 = victim
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    bystander.simple_query("SELECT 1").await.unwrap();
    let admin = fx.direct_superuser().await;
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let err = victim.simple_query("SELECT 1").await.unwrap_err();
    // Either the server's own FATAL 57P01 reached the client, or the closed connection.
    if let Some(db) = err.as_db_error() {
        assert_eq!(db.code().code(), "57P01");
    } else {
        assert!(
            err.is_closed() || err.to_string().contains("closed"),
            "{err}"
        );
    }
    assert!(victim.is_closed() || victim.simple_query("SELECT 1").await.is_err());
    bystander.simple_query("SELECT 2").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_mode_keeps_the_server_and_resets_it_with_discard_all() {
    let fx = Fixture::start_with(Options {
        pool_mode: "session",
        max_connections: 1,
        ..Options::default()
    })
    .await;
    let pid_a: i32;
    {
        let a = fx.client().await;
        a.batch_execute("SET application_name = 'leaky'; PREPARE p AS SELECT 1")
            .await
            .unwrap();
        pid_a = a
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        // Same server for the whole session.
        let again: i32 = a
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(pid_a, again);
    }
    let b = fx.client().await;
    let row = b
        .query_one("SELECT pg_backend_pid(), current_setting('application_name'), (SELECT count(*) FROM pg_prepared_statements WHERE name = 'p')", &[])
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, i32>(0),
        pid_a,
        "the pooled connection was not reused"
    );
    assert_eq!(row.get::<_, &str>(1), "");
    assert_eq!(row.get::<_, i64>(2), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_size_follows_max_connections_percent() {
    let fx = Fixture::start_with(Options {
        max_connections: 1000, // no cap: the percentage of the server's max_connections rules
        borrow_timeout: "1s",
        ..Options::default()
    })
    .await;
    // Test clusters run with max_connections = 100 by default; 90% of that is 90.
    let clients = join_all((0..95).map(|_| fx.client())).await;
    for c in &clients {
        c.batch_execute("BEGIN").await.ok();
    }
    let results = join_all(clients.iter().map(|c| c.simple_query("SELECT 1"))).await;
    let refused = results
        .iter()
        .filter(|r| r.as_ref().err().and_then(common::sqlstate).as_deref() == Some("53300"))
        .count();
    assert_eq!(
        refused, 5,
        "expected exactly 5 of 95 to find the pool (90) full"
    );
}
