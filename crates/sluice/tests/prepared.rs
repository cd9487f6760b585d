//! Named prepared statements in transaction mode: each client keeps its own names, whichever
//! server connection it gets.
#![allow(clippy::unwrap_used)]

mod common;

use common::wire::{bind, close, describe, execute, parse, sync};

use common::{Fixture, Options, APP, APP_PASSWORD};
use futures_util::future::join_all;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_follow_clients_across_server_connections() {
    let fx = Fixture::start_with(Options {
        max_connections: 3,
        ..Options::default()
    })
    .await;
    let clients = join_all((0..30).map(|_| fx.client())).await;
    join_all(clients.iter().enumerate().map(|(i, c)| async move {
        let i = i as i32;
        // tokio-postgres prepares named statements and caches them for the connection.
        let add = c.prepare("SELECT $1::int + $2::int").await.unwrap();
        let mul = c.prepare("SELECT $1::int * $2::int").await.unwrap();
        for round in 0..20 {
            let sum: i32 = c.query_one(&add, &[&i, &round]).await.unwrap().get(0);
            assert_eq!(sum, i + round);
            let product: i32 = c.query_one(&mul, &[&i, &round]).await.unwrap().get(0);
            assert_eq!(product, i * round);
        }
    }))
    .await;
    // Identical statements are shared on the server: a handful of server-side names, not 60.
    let admin = fx.direct_superuser().await;
    let backends: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' \
             AND application_name <> 'sluice-monitor'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(backends <= 3, "{backends} server connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_may_use_one_name_for_different_statements() {
    let fx = Fixture::start_with(Options {
        max_connections: 1,
        ..Options::default()
    })
    .await;
    let mut a = common::raw_login(&fx.addr.to_string()).await;
    let mut b = common::raw_login(&fx.addr.to_string()).await;
    a.send(&extended(&[parse("s", "SELECT 'from a'"), sync()]))
        .await
        .unwrap();
    assert_tags(&a.recv_until_ready().await.unwrap(), b"1Z");
    b.send(&extended(&[parse("s", "SELECT 'from b'"), sync()]))
        .await
        .unwrap();
    assert_tags(&b.recv_until_ready().await.unwrap(), b"1Z");
    for (which, want) in [(0, "from a"), (1, "from b"), (0, "from a")] {
        let conn = if which == 0 { &mut a } else { &mut b };
        conn.send(&extended(&[bind("s"), execute(), sync()]))
            .await
            .unwrap();
        let replies = conn.recv_until_ready().await.unwrap();
        assert_tags(&replies, b"2DCZ");
        assert!(String::from_utf8_lossy(&replies[1].1).contains(want));
    }
    // Close, then Bind: as on a plain server, the statement is gone for this client only.
    a.send(&extended(&[close("s"), sync()])).await.unwrap();
    assert_tags(&a.recv_until_ready().await.unwrap(), b"3Z");
    a.send(&extended(&[bind("s"), execute(), sync()]))
        .await
        .unwrap();
    let replies = a.recv_until_ready().await.unwrap();
    assert_tags(&replies, b"EZ");
    assert!(
        String::from_utf8_lossy(&replies[0].1).contains("prepared statement \"s\" does not exist")
    );
    b.send(&extended(&[bind("s"), execute(), sync()]))
        .await
        .unwrap();
    assert_tags(&b.recv_until_ready().await.unwrap(), b"2DCZ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_parse_is_reported_and_not_remembered() {
    let fx = Fixture::start().await;
    let mut a = common::raw_login(&fx.addr.to_string()).await;
    a.send(&extended(&[
        parse("bad", "SELEKT 1"),
        bind("bad"),
        execute(),
        sync(),
    ]))
    .await
    .unwrap();
    assert_tags(&a.recv_until_ready().await.unwrap(), b"EZ");
    a.send(&extended(&[
        parse("good", "SELECT 1"),
        describe(b'S', "good"),
        sync(),
    ]))
    .await
    .unwrap();
    assert_tags(&a.recv_until_ready().await.unwrap(), b"1tTZ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_prepared_mode_works_with_more_clients_than_connections() {
    let fx = Fixture::start_with(Options {
        max_connections: 4,
        ..Options::default()
    })
    .await;
    let port = fx.addr.port().to_string();
    let base = ["-h", "127.0.0.1", "-p", port.as_str(), "-U", APP];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        test_support::run_client(
            "pgbench",
            &args,
            APP_PASSWORD,
            std::time::Duration::from_secs(120),
        )
        .unwrap()
    };
    let init = tokio::task::block_in_place(|| run(&["-i", "-s", "1", "-q", APP]));
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    // Select-only: every statement is a transaction, so 16 clients share 4 connections. (The
    // TPC-B script with more clients than connections deadlocks pgbench itself: it prepares
    // with a blocking PQprepare while its other clients hold connections in open transactions.)
    for (clients, script) in [("16", "-S"), ("4", "-N")] {
        let args = [
            "-n", "-c", clients, "-j", "2", "-t", "100", "-M", "prepared", script, APP,
        ];
        let out = tokio::task::block_in_place(|| run(&args));
        let stdout = common::succeeded(&out);
        let want = format!(
            "number of transactions actually processed: {0}00/{0}00",
            clients
        );
        assert!(stdout.contains(&want), "{stdout}");
        assert!(
            stdout.contains("number of failed transactions: 0"),
            "{stdout}"
        );
    }
    // Nothing pgbench does needs pinning.
    assert_eq!(fx.observer.pins_total(), 0, "{:?}", fx.observer.pins());
}

fn extended(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}
fn assert_tags(replies: &[(u8, Vec<u8>)], want: &[u8]) {
    let got: Vec<u8> = replies.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want),
        "{replies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_deallocate_of_a_protocol_statement_works_on_any_connection() {
    let fx = Fixture::start_with(Options {
        max_connections: 1,
        ..Options::default()
    })
    .await;
    let mut a = common::raw_login(&fx.addr.to_string()).await;
    a.send(&extended(&[parse("s5", "SELECT 5"), sync()]))
        .await
        .unwrap();
    assert_tags(&a.recv_until_ready().await.unwrap(), b"1Z");
    // Another client wipes the only server connection: it no longer has A's statement.
    let b = fx
        .try_client(common::MD5_USER, common::MD5_PASSWORD)
        .await
        .unwrap();
    b.batch_execute("DISCARD ALL").await.unwrap();
    a.send(&test_support::raw::query_message("DEALLOCATE s5"))
        .await
        .unwrap();
    let replies = a.recv_until_ready().await.unwrap();
    assert_tags(&replies, b"CZ");
    assert_eq!(replies[0].1, b"DEALLOCATE\0");
    a.send(&extended(&[bind("s5"), execute(), sync()]))
        .await
        .unwrap();
    assert_tags(&a.recv_until_ready().await.unwrap(), b"EZ");
}
