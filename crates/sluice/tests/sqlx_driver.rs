//! sqlx with its default statement cache, through Sluice in transaction mode.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, Options, APP, APP_PASSWORD};
use futures_util::future::join_all;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_statement_cache_works_across_server_connections() {
    let fx = Fixture::start_with(Options {
        max_connections: 3,
        ..Options::default()
    })
    .await;
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(fx.addr.port())
        .username(APP)
        .password(APP_PASSWORD)
        .database(APP);
    let checked = join_all((0..12i64).map(|id| {
        let options = options.clone();
        async move {
            let mut conn = options.connect().await.unwrap();
            let mut checked = 0;
            for i in 0..30i64 {
                // sqlx prepares each query once per connection and caches it.
                let row = sqlx::query("SELECT $1::int8 * 2 AS v")
                    .bind(id * 1000 + i)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                assert_eq!(row.get::<i64, _>("v"), (id * 1000 + i) * 2);
                let mut tx = conn.begin().await.unwrap();
                let row = sqlx::query("SELECT $1::text || '-tx' AS v")
                    .bind(format!("{id}-{i}"))
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                assert_eq!(row.get::<String, _>("v"), format!("{id}-{i}-tx"));
                tx.commit().await.unwrap();
                checked += 2;
            }
            conn.close().await.unwrap();
            checked
        }
    }))
    .await;
    assert_eq!(checked.iter().sum::<i32>(), 12 * 30 * 2);
}
