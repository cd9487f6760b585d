//! Graceful drain: after a shutdown request Sluice accepts no new clients, lets transactions in
//! flight finish (within shutdown_timeout), and tells idle clients 57P01.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Fixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_in_flight_finish_and_new_clients_are_refused() {
    let fx = Fixture::start().await;
    let busy = fx.client().await;
    let mut idle = common::raw_login(&fx.addr.to_string()).await;
    busy.batch_execute("CREATE TABLE drained (n int)")
        .await
        .unwrap();
    busy.batch_execute("BEGIN; INSERT INTO drained VALUES (1)")
        .await
        .unwrap();

    fx.shutdown();
    let refused = common::eventually(Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(fx.addr).await.is_err()
    })
    .await;
    assert!(
        refused,
        "still accepting clients after the shutdown request"
    );

    // The idle client is told at once why it is being disconnected.
    let fatal = idle.recv().await.unwrap().unwrap();
    assert_eq!(fatal.0, b'E');
    let fields = test_support::raw::error_fields(&fatal.1);
    assert!(fields.contains(&(b'C', "57P01".to_owned())), "{fields:?}");

    // The transaction in flight runs to its end.
    busy.batch_execute("INSERT INTO drained VALUES (2); COMMIT")
        .await
        .unwrap();
    let direct = fx
        .pg
        .connect(common::APP, common::APP_PASSWORD, common::APP)
        .await
        .unwrap();
    let n: i64 = direct
        .query_one("SELECT count(*) FROM drained", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    // And then it is disconnected too.
    let closed = common::eventually(Duration::from_secs(5), || async {
        busy.simple_query("SELECT 1").await.is_err()
    })
    .await;
    assert!(closed);
}
