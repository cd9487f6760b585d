//! CancelRequest reaches the server running that client's query, and nothing else.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::Fixture;
use tokio_postgres::NoTls;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_that_clients_query_only() {
    let fx = Fixture::start().await;
    let victim = fx.client().await;
    let bystander = fx.client().await;
    let token = victim.cancel_token();
    let sleeping = tokio::spawn(async move { victim.simple_query("SELECT pg_sleep(30)").await });
    let other = tokio::spawn(async move { bystander.simple_query("SELECT pg_sleep(1.5)").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    token.cancel_query(NoTls).await.unwrap();
    let err = sleeping.await.unwrap().unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("57014"));
    assert!(started.elapsed() < Duration::from_secs(5));
    other
        .await
        .unwrap()
        .expect("the other client's query must not be cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_with_a_wrong_key_does_nothing() {
    let fx = Fixture::start().await;
    let client = fx.client().await;
    let q = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(1)").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut raw = test_support::RawConn::connect(&fx.addr.to_string())
        .await
        .unwrap();
    raw.send(&[0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2])
        .await
        .unwrap();
    assert!(raw.recv().await.unwrap().is_none());
    q.await
        .unwrap()
        .expect("a cancel with a made-up key must not cancel anything");
}
