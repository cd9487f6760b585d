//! Session state in transaction mode: what one client sets follows it from server connection to
//! server connection, and never reaches another client. Most cases run on a pool of ONE server
//! connection, so every client shares the same backend.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, Options, APP, APP_PASSWORD};
use tokio_postgres::{Client, SimpleQueryMessage};

async fn value(client: &Client, sql: &str) -> String {
    let rows = client.simple_query(sql).await.unwrap();
    rows.iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("NULL").to_owned()),
            _ => None,
        })
        .unwrap()
}

async fn one_connection_pool() -> Fixture {
    Fixture::start_with(Options {
        max_connections: 1,
        borrow_timeout: "5s",
        ..Options::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_follow_their_client_and_nobody_else() {
    let fx = one_connection_pool().await;
    let a = fx.client().await;
    let b = fx.client().await;
    a.batch_execute("CREATE SCHEMA IF NOT EXISTS a_schema")
        .await
        .unwrap();
    let default_path = value(&b, "SHOW search_path").await;
    let default_tz = value(&b, "SHOW TimeZone").await;
    let default_work_mem = value(&b, "SHOW work_mem").await;
    a.batch_execute("SET search_path = a_schema, public")
        .await
        .unwrap();
    a.batch_execute("SET TIME ZONE 'Asia/Tokyo'").await.unwrap();
    a.simple_query("SELECT set_config('work_mem', '7MB', false)")
        .await
        .unwrap();
    a.batch_execute("SET default_transaction_read_only = on")
        .await
        .unwrap();
    for _ in 0..3 {
        // B shares the only server connection and sees none of it.
        assert_eq!(value(&b, "SHOW search_path").await, default_path);
        assert_eq!(value(&b, "SHOW TimeZone").await, default_tz);
        assert_eq!(value(&b, "SHOW work_mem").await, default_work_mem);
        b.batch_execute(
            "CREATE TABLE IF NOT EXISTS rw_check (x int); INSERT INTO rw_check VALUES (1)",
        )
        .await
        .unwrap_or_else(|e| panic!("B inherited read-only mode: {e}"));
        // A keeps all of it.
        assert_eq!(value(&a, "SHOW search_path").await, "a_schema, public");
        assert_eq!(value(&a, "SHOW TimeZone").await, "Asia/Tokyo");
        assert_eq!(value(&a, "SHOW work_mem").await, "7MB");
        assert_eq!(value(&a, "SHOW default_transaction_read_only").await, "on");
    }
    // All of it was tracked, none of it pinned.
    assert_eq!(fx.observer.pins_total(), 0, "{:?}", fx.observer.pins());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_local_and_rolled_back_set_do_not_stick() {
    let fx = one_connection_pool().await;
    let a = fx.client().await;
    let before = value(&a, "SHOW work_mem").await;
    a.batch_execute("BEGIN; SET LOCAL work_mem = '3MB'; COMMIT")
        .await
        .unwrap();
    assert_eq!(value(&a, "SHOW work_mem").await, before);
    a.batch_execute("BEGIN; SET work_mem = '5MB'; ROLLBACK")
        .await
        .unwrap();
    assert_eq!(value(&a, "SHOW work_mem").await, before);
    a.batch_execute("BEGIN; SET work_mem = '6MB'; COMMIT")
        .await
        .unwrap();
    assert_eq!(value(&a, "SHOW work_mem").await, "6MB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_returns_to_the_clients_own_startup_values() {
    let fx = one_connection_pool().await;
    let conn = format!(
        "{} application_name=startup-app options='-c work_mem=9MB'",
        fx.connstr(APP, APP_PASSWORD, APP)
    );
    let (a, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let b = fx.client().await;
    assert_eq!(value(&a, "SHOW work_mem").await, "9MB");
    assert_eq!(value(&a, "SHOW application_name").await, "startup-app");
    assert_ne!(value(&b, "SHOW work_mem").await, "9MB");
    a.batch_execute("SET work_mem = '1MB'; SET application_name = 'changed'")
        .await
        .unwrap();
    assert_eq!(value(&a, "SHOW work_mem").await, "1MB");
    a.batch_execute("RESET work_mem").await.unwrap();
    assert_eq!(value(&a, "SHOW work_mem").await, "9MB");
    a.batch_execute("RESET ALL").await.unwrap();
    assert_eq!(value(&a, "SHOW application_name").await, "startup-app");
    assert_eq!(value(&b, "SHOW application_name").await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_that_cannot_move_pins_and_is_wiped_after() {
    let fx = Fixture::start_with(Options {
        max_connections: 2,
        ..Options::default()
    })
    .await;
    let admin = fx.direct_superuser().await;
    for (setup, check_pinned) in [
        (
            "CREATE TEMP TABLE t_pin (x int)",
            "SELECT count(*) FROM t_pin",
        ),
        ("SELECT pg_advisory_lock(4242)", "SELECT 1"),
        ("LISTEN some_channel", "SELECT 1"),
        (
            "BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT 1; COMMIT",
            "FETCH c",
        ),
    ] {
        let a = fx.client().await;
        let pins_before = fx.observer.pins_total();
        let pid: i32 = value(&a, "SELECT pg_backend_pid()").await.parse().unwrap();
        a.batch_execute(setup).await.unwrap();
        // Other clients keep working on the other connection while A holds its own.
        let b = fx.client().await;
        for _ in 0..3 {
            b.simple_query("SELECT 1").await.unwrap();
            a.simple_query(check_pinned)
                .await
                .unwrap_or_else(|e| panic!("{setup}: {e}"));
            let again: i32 = value(&a, "SELECT pg_backend_pid()").await.parse().unwrap();
            assert_eq!(again, pid, "{setup}: A was moved off its server connection");
        }
        drop(a);
        drop(b);
        // Once A is gone, its state is gone from the server connection it used.
        let wiped = common::eventually(std::time::Duration::from_secs(5), || async {
            let row = admin
                .query_one(
                    "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'), \
                            (SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND relname = 't_pin')",
                    &[],
                )
                .await
                .unwrap();
            row.get::<_, i64>(0) == 0 && row.get::<_, i64>(1) == 0
        })
        .await;
        assert!(wiped, "{setup}: state left behind");
        let c = fx.client().await;
        assert_eq!(
            fx.observer.pins_total(),
            pins_before + 1,
            "{setup}: {:?}",
            fx.observer.pins()
        );
        assert_eq!(
            value(&c, "SELECT count(*) FROM pg_listening_channels()").await,
            "0"
        );
        assert_eq!(
            value(
                &c,
                "SELECT count(*) FROM pg_prepared_statements WHERE name = 'p'"
            )
            .await,
            "0"
        );
        assert_eq!(value(&c, "SELECT count(*) FROM pg_cursors").await, "0");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_all_and_deallocate_all_behave_as_on_a_plain_server() {
    let fx = one_connection_pool().await;
    let a = fx.client().await;
    let stmt = a.prepare("SELECT 41 + 1").await.unwrap();
    assert_eq!(a.query_one(&stmt, &[]).await.unwrap().get::<_, i32>(0), 42);
    a.batch_execute("SET work_mem = '2MB'").await.unwrap();
    a.batch_execute("DISCARD ALL").await.unwrap();
    assert!(
        a.query_one(&stmt, &[]).await.is_err(),
        "statement survived DISCARD ALL"
    );
    assert_ne!(value(&a, "SHOW work_mem").await, "2MB");
    let stmt = a.prepare("SELECT 43").await.unwrap();
    a.batch_execute("DEALLOCATE ALL").await.unwrap();
    assert!(
        a.query_one(&stmt, &[]).await.is_err(),
        "statement survived DEALLOCATE ALL"
    );
    let stmt = a.prepare("SELECT 44").await.unwrap();
    assert_eq!(a.query_one(&stmt, &[]).await.unwrap().get::<_, i32>(0), 44);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_pin_reason_does_not_pin() {
    let fx = Fixture::start_with(Options {
        max_connections: 1,
        borrow_timeout: "5s",
        extra_proxy: "ignore_pin_reasons = [\"advisory_lock\"]",
        ..Options::default()
    })
    .await;
    let a = fx.client().await;
    let b = fx.client().await;
    a.simple_query("SELECT pg_advisory_lock(7)").await.unwrap();
    // Not pinned: B gets the single server connection between A's transactions.
    b.simple_query("SELECT 1").await.unwrap();
    a.simple_query("SELECT pg_advisory_unlock_all()")
        .await
        .unwrap();
    assert_eq!(fx.observer.pins_total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_prepared_statements_follow_their_client() {
    let fx = one_connection_pool().await;
    let a = fx.client().await;
    let b = fx.client().await;
    a.batch_execute("PREPARE p AS SELECT 'from a'")
        .await
        .unwrap();
    b.batch_execute("PREPARE p AS SELECT 'from b'")
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(value(&a, "EXECUTE p").await, "from a");
        assert_eq!(value(&b, "EXECUTE p").await, "from b");
    }
    b.batch_execute("DEALLOCATE p").await.unwrap();
    assert!(b.simple_query("EXECUTE p").await.is_err());
    assert_eq!(value(&a, "EXECUTE p").await, "from a");
    // A PREPARE that failed leaves nothing behind.
    assert!(a.batch_execute("PREPARE q AS SELEKT 1").await.is_err());
    assert!(a.simple_query("EXECUTE q").await.is_err());
    let c = fx.client().await;
    let err = c.simple_query("EXECUTE p").await.unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("26000"));
    assert_eq!(value(&a, "EXECUTE p").await, "from a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_is_unpinned_once_the_server_confirms_its_state_is_gone() {
    let fx = Fixture::start_with(Options {
        max_connections: 1,
        borrow_timeout: "1s",
        ..Options::default()
    })
    .await;
    let a = fx.client().await;
    let b = fx.client().await;
    for (pin, release) in [
        ("LISTEN channel_one", "UNLISTEN *"),
        (
            "SELECT pg_advisory_lock(11)",
            "SELECT pg_advisory_unlock_all()",
        ),
        ("CREATE TEMP TABLE scratch (x int)", "DISCARD TEMP"),
        (
            "BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT 1; COMMIT",
            "CLOSE ALL",
        ),
    ] {
        a.batch_execute(pin).await.unwrap();
        // Pinned: A holds the only server connection, B times out.
        let err = b.simple_query("SELECT 1").await.unwrap_err();
        assert_eq!(common::sqlstate(&err).as_deref(), Some("53300"), "{pin}");
        // A release that did not happen (rolled back) keeps the pin.
        if pin.starts_with("LISTEN") {
            a.batch_execute("BEGIN; UNLISTEN *; ROLLBACK")
                .await
                .unwrap();
            assert!(
                b.simple_query("SELECT 1").await.is_err(),
                "{pin}: unpinned too early"
            );
        }
        a.batch_execute(release).await.unwrap();
        b.simple_query("SELECT 1")
            .await
            .unwrap_or_else(|e| panic!("{pin}: still pinned: {e}"));
        a.simple_query("SELECT 1").await.unwrap();
    }
}
