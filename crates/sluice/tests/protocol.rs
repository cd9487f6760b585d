//! The protocol relayed faithfully: simple, extended, pipelined, COPY, notices, errors, NOTIFY.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, Options};
use futures_util::{future::try_join_all, SinkExt, StreamExt};
use tokio_postgres::types::Type;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_and_extended_queries() {
    let fx = Fixture::start().await;
    let client = fx.client().await;
    let rows = client
        .simple_query("SELECT 1 AS one; SELECT 'two'")
        .await
        .unwrap();
    let values: Vec<String> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(values, ["1", "two"]);
    let row = common::one(
        &client,
        "SELECT $1::int + $2::int, $3::text",
        &[
            (&40i32, Type::INT4),
            (&2i32, Type::INT4),
            (&"x", Type::TEXT),
        ],
    )
    .await
    .unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    assert_eq!(row.get::<_, &str>(1), "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_extended_queries_each_get_their_own_reply() {
    let fx = Fixture::start().await;
    let client = fx.client().await;
    // tokio-postgres pipelines concurrent queries on one connection.
    let futures = (0..50i32).map(|i| {
        let client = &client;
        async move {
            common::one(client, "SELECT $1::int * 10", &[(&i, Type::INT4)])
                .await
                .map(|r| (i, r.get::<_, i32>(0)))
        }
    });
    for (i, got) in try_join_all(futures).await.unwrap() {
        assert_eq!(got, i * 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_notices_reach_the_client_and_the_session_continues() {
    let fx = Fixture::start().await;
    let client = fx.client().await;
    let err = client
        .simple_query("SELECT * FROM no_such_table")
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("42P01"));
    // A failed transaction block is relayed as such, and ROLLBACK recovers it.
    client.batch_execute("BEGIN").await.unwrap();
    assert!(client.simple_query("SELECT 1/0").await.is_err());
    let err = client.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("25P02"));
    client.batch_execute("ROLLBACK").await.unwrap();
    client
        .batch_execute("DO $$ BEGIN RAISE NOTICE 'hello from the server'; END $$")
        .await
        .unwrap();
    assert_eq!(
        common::one(&client, "SELECT 7", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        7
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_in_and_out() {
    let fx = Fixture::start().await;
    let client = fx.client().await;
    client
        .batch_execute("CREATE TABLE items (id int, name text)")
        .await
        .unwrap();
    let sink = client.copy_in("COPY items FROM STDIN").await.unwrap();
    futures_util::pin_mut!(sink);
    let mut data = String::new();
    for i in 0..10_000 {
        data.push_str(&format!("{i}\tname-{i}\n"));
    }
    sink.send(bytes::Bytes::from(data)).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 10_000);
    let stream = client.copy_out("COPY items TO STDOUT").await.unwrap();
    futures_util::pin_mut!(stream);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 10_000);
    assert!(text.contains("9999\tname-9999"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_rows_stream_through() {
    let fx = Fixture::start().await;
    let client = fx.client().await;
    // 8 MiB in one DataRow: bigger than any buffer Sluice keeps.
    let row = common::one(&client, "SELECT repeat('x', 8 * 1024 * 1024)", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0).len(), 8 * 1024 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_is_delivered_in_session_mode() {
    let fx = Fixture::start_with(Options {
        pool_mode: "session",
        ..Options::default()
    })
    .await;
    let (listener, mut conn) = tokio_postgres::connect(
        &fx.connstr(common::APP, common::APP_PASSWORD, common::APP),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(msg)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = msg {
                let _ = tx.send(n.payload().to_owned());
            }
        }
    });
    listener.batch_execute("LISTEN events").await.unwrap();
    let sender = fx.client().await;
    sender
        .batch_execute("NOTIFY events, 'payload-1'")
        .await
        .unwrap();
    // The listener is idle; a round trip makes sure it has read what arrived.
    listener.batch_execute("SELECT 1").await.unwrap();
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some("payload-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_and_pgbench_work_through_sluice() {
    let fx = Fixture::start().await;
    let port = fx.addr.port().to_string();
    let out = test_support::run_client(
        "psql",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            common::APP,
            "-d",
            common::APP,
            "-tAc",
            "SELECT current_user || ':' || current_database()",
        ],
        common::APP_PASSWORD,
        std::time::Duration::from_secs(30),
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "app:app");

    let common_args = ["-h", "127.0.0.1", "-p", &port, "-U", common::APP];
    let init: Vec<&str> = common_args
        .iter()
        .copied()
        .chain(["-i", "-s", "1", "-q", common::APP])
        .collect();
    let out = test_support::run_client(
        "pgbench",
        &init,
        common::APP_PASSWORD,
        std::time::Duration::from_secs(120),
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for mode in ["simple", "extended"] {
        let run: Vec<&str> = common_args
            .iter()
            .copied()
            .chain([
                "-n",
                "-c",
                "20",
                "-j",
                "2",
                "-t",
                "50",
                "-M",
                mode,
                common::APP,
            ])
            .collect();
        let out = test_support::run_client(
            "pgbench",
            &run,
            common::APP_PASSWORD,
            std::time::Duration::from_secs(120),
        )
        .unwrap();
        let stdout = common::succeeded(&out);
        assert!(
            stdout.contains("number of transactions actually processed: 1000/1000"),
            "{stdout}"
        );
        assert!(
            stdout.contains("number of failed transactions: 0"),
            "{stdout}"
        );
    }
}
