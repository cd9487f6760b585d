//! Desync detector: many clients, few server connections, a mix of simple, extended, pipelined
//! and prepared queries with random cancels and disconnects, for a bounded time. Every reply must
//! carry its own sender's value; a reply meant for someone else means a server connection was
//! shared while busy.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Fixture, Options};
use futures_util::future::join_all;
use rand::Rng;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const CLIENTS: usize = 40;
const RUN_FOR: Duration = Duration::from_secs(5);
const MIN_PER_CLIENT: i64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_reaches_its_own_sender() {
    let fx = Arc::new(
        Fixture::start_with(Options {
            max_connections: 4,
            borrow_timeout: "30s",
            ..Options::default()
        })
        .await,
    );
    let checked = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + RUN_FOR;
    let workers = (0..CLIENTS).map(|id| {
        let (fx, checked) = (fx.clone(), checked.clone());
        tokio::spawn(async move { worker(&fx, id as i64, deadline, &checked).await })
    });
    for result in join_all(workers).await {
        result.unwrap();
    }
    let checked = checked.load(Ordering::Relaxed);
    // A sanity floor (the machine may be busy): the run must have exercised every client.
    assert!(
        checked >= (CLIENTS * 5) as u64,
        "only {checked} replies checked"
    );
}

async fn worker(fx: &Fixture, id: i64, deadline: Instant, checked: &AtomicU64) {
    let mut client = connect(fx).await;
    let mut n: i64 = 0;
    // Until the deadline, and at least a few operations each however busy the machine is.
    while Instant::now() < deadline || n < MIN_PER_CLIENT {
        n += 1;
        let tag = id * 1_000_000 + n;
        let roll = rand::thread_rng().gen_range(0..100);
        match roll {
            0..=29 => simple(&client, tag).await,
            30..=54 => extended(&client, tag).await,
            55..=74 => prepared(&client, tag).await,
            75..=89 => pipelined(&client, tag).await,
            90..=94 => cancelled(&client).await,
            _ => {
                // Vanish mid-transaction, then come back as a new client.
                client.batch_execute("BEGIN").await.unwrap();
                drop(client);
                client = connect(fx).await;
            }
        }
        checked.fetch_add(1, Ordering::Relaxed);
    }
}

async fn connect(fx: &Fixture) -> Client {
    let conn = fx.connstr(common::APP, common::APP_PASSWORD, common::APP);
    let (client, connection) = tokio_postgres::connect(&conn, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

async fn simple(client: &Client, tag: i64) {
    let rows = client
        .simple_query(&format!("SELECT {tag}::text"))
        .await
        .unwrap();
    let got = rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
        _ => None,
    });
    assert_eq!(got, Some(tag.to_string()));
}

async fn extended(client: &Client, tag: i64) {
    let rows = client
        .query_typed("SELECT $1::int8", &[(&tag, Type::INT8)])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), tag);
}

async fn prepared(client: &Client, tag: i64) {
    let stmt = client.prepare("SELECT $1::int8 + 0").await.unwrap();
    assert_eq!(
        client
            .query_one(&stmt, &[&tag])
            .await
            .unwrap()
            .get::<_, i64>(0),
        tag
    );
}

async fn pipelined(client: &Client, tag: i64) {
    let queries = (0..4i64).map(|k| async move {
        let v = tag * 10 + k;
        let rows = client
            .query_typed("SELECT $1::int8", &[(&v, Type::INT8)])
            .await
            .unwrap();
        assert_eq!(rows[0].get::<_, i64>(0), v);
    });
    join_all(queries).await;
}

async fn cancelled(client: &Client) {
    let token = client.cancel_token();
    let sleeping = client.simple_query("SELECT pg_sleep(2)");
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        token.cancel_query(NoTls).await.unwrap();
    };
    let (result, ()) = tokio::join!(sleeping, cancel);
    // Cancelled, or (if it was still waiting for a connection) finished: never someone else's.
    if let Err(e) = result {
        assert_eq!(common::sqlstate(&e).as_deref(), Some("57014"), "{e}");
    }
}
