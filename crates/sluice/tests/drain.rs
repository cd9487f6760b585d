//! Graceful drain: after a shutdown request Sluice accepts no new clients, lets transactions in
//! flight finish (within shutdown_timeout), tells idle clients 57P01, and tells those still
//! running at the timeout 57P01 too, on a message boundary.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Fixture;

/// Rows committed in `table`, as PostgreSQL itself (not Sluice) sees them.
async fn rows_in(fx: &Fixture, table: &str) -> i64 {
    let direct = fx
        .pg
        .connect(common::APP, common::APP_PASSWORD, common::APP)
        .await
        .unwrap();
    let sql = format!("SELECT count(*) FROM {table}");
    direct.query_one(&sql, &[]).await.unwrap().get(0)
}

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
    assert_eq!(rows_in(&fx, "drained").await, 2);
    // And then it is disconnected too.
    let closed = common::eventually(Duration::from_secs(5), || async {
        busy.simple_query("SELECT 1").await.is_err()
    })
    .await;
    assert!(closed);
}

/// A transaction still running when shutdown_timeout (1 s here) runs out is ended: its client
/// is told 57P01 and nothing of the transaction is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_still_running_at_shutdown_timeout_gets_57p01_and_rolls_back() {
    let fx = Fixture::start().await;
    let slow = fx.client().await;
    slow.batch_execute("CREATE TABLE unfinished (n int)")
        .await
        .unwrap();
    slow.batch_execute("BEGIN; INSERT INTO unfinished VALUES (1)")
        .await
        .unwrap();
    let running = tokio::spawn(async move { slow.batch_execute("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    fx.shutdown();
    let err = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the session was not closed after shutdown_timeout")
        .unwrap()
        .unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("57P01"), "{err}");
    let db = err.as_db_error().unwrap();
    assert!(db.message().contains("shutdown_timeout"), "{err}");

    assert_eq!(rows_in(&fx, "unfinished").await, 0);
}

/// The 57P01 at shutdown_timeout never lands inside a reply: a client in the middle of a
/// 48 MiB row gets the rest of the row, then the FATAL; a client that stopped reading gets no
/// FATAL at all, only the row it was sent, cut where its connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_57p01_at_shutdown_timeout_waits_for_a_message_boundary() {
    const ROW: usize = 48 << 20;
    let fx = Fixture::start().await;
    let addr = fx.addr.to_string();
    let mut resumes = common::raw_login(&addr).await;
    let mut stalls = common::raw_login(&addr).await;
    let query = test_support::raw::query_message(&format!("SELECT repeat('x', {ROW})"));
    resumes.send(&query).await.unwrap();
    stalls.send(&query).await.unwrap();
    // Neither reads yet: Sluice is stuck writing the row to both, socket buffers full.
    tokio::time::sleep(Duration::from_millis(500)).await;

    fx.shutdown();
    // shutdown_timeout is 1 s; Sluice then has 2 s to finish the message it is writing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut tags = Vec::new();
    let fatal = loop {
        let (tag, body) = resumes.recv().await.unwrap().expect("EOF before the FATAL");
        if tag == b'D' {
            assert!(body.len() > ROW, "a whole DataRow");
        }
        tags.push(tag);
        if tag == b'E' {
            break test_support::raw::error_fields(&body);
        }
    };
    assert_eq!(tags, b"TDE", "the row, whole, then the FATAL");
    assert!(fatal.contains(&(b'C', "57P01".to_owned())), "{fatal:?}");
    assert!(fatal.contains(&(b'S', "FATAL".to_owned())), "{fatal:?}");
    assert!(
        resumes.recv().await.unwrap().is_none(),
        "closed after the FATAL"
    );

    // The other client starts reading only after Sluice gave up on it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stalls.recv().await.unwrap().unwrap().0, b'T');
    let cut = stalls.recv().await.unwrap_err().to_string();
    assert!(cut.starts_with("EOF inside a message"), "{cut}");
}
