//! The Prometheus metrics move as the traffic says they should.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::admin_http::scrape;
use common::{eventually, Fixture, Options, APP, APP_PASSWORD};

const ADMIN: &str = "[admin]\nlisten = \"127.0.0.1:0\"\nusers = [\"app\"]\n";

fn with_admin() -> Options {
    Options {
        extra_sections: ADMIN,
        ..Options::default()
    }
}

/// pgbench opens one connection of its own before its clients, to read the scale of the
/// select-only script's tables; on it runs GetTableInfo's two queries (the row count of
/// pgbench_branches and the partitioning of pgbench_accounts).
const PGBENCH_EXTRA_CONNECTIONS: f64 = 1.0;
const PGBENCH_EXTRA_QUERIES: f64 = 2.0;

fn pgbench(fx: &Fixture, args: &[&str]) -> String {
    let port = fx.addr.port().to_string();
    let mut all = vec!["-h", "127.0.0.1", "-p", port.as_str(), "-U", APP];
    all.extend_from_slice(args);
    all.push(APP);
    let out = tokio::task::block_in_place(|| {
        test_support::run_client("pgbench", &all, APP_PASSWORD, Duration::from_secs(120))
    })
    .unwrap();
    common::succeeded(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_follow_a_pgbench_run() {
    let fx = Fixture::start_with(with_admin()).await;
    let admin = fx.admin_addr.unwrap();
    pgbench(&fx, &["-i", "-s", "1", "-q"]);
    // Let the init's connection be counted as closed before the baseline.
    let settled = eventually(Duration::from_secs(5), || async {
        let m = scrape(admin).await;
        m["sluice_client_connections"] == 0.0
    })
    .await;
    assert!(settled);
    let before = scrape(admin).await;

    let (clients, per_client) = (8.0, 125.0);
    let out = pgbench(
        &fx,
        &[
            "-n", "-S", "-c", "8", "-j", "2", "-t", "125", "-M", "simple",
        ],
    );
    assert!(
        out.contains("number of transactions actually processed: 1000/1000"),
        "{out}"
    );

    let closed = eventually(Duration::from_secs(5), || async {
        scrape(admin).await["sluice_client_connections"] == 0.0
    })
    .await;
    assert!(closed, "every pgbench connection should be closed");
    let after = scrape(admin).await;
    let delta = |name: &str| after[name] - before[name];

    assert_eq!(
        delta("sluice_query_requests_total"),
        clients * per_client + PGBENCH_EXTRA_QUERIES
    );
    assert_eq!(
        delta("sluice_query_response_latency_seconds_count"),
        delta("sluice_query_requests_total"),
        "every request answered is timed"
    );
    let opened = clients + PGBENCH_EXTRA_CONNECTIONS;
    assert_eq!(delta("sluice_client_connections_received_total"), opened);
    assert_eq!(
        delta("sluice_client_connections_setup_succeeded_total"),
        opened
    );
    assert_eq!(delta("sluice_client_connections_closed_total"), opened);
    assert_eq!(delta("sluice_client_connections_setup_failed_total"), 0.0);
    // Every transaction borrowed a server connection (the extra connection's two queries too).
    assert_eq!(
        delta("sluice_database_connection_borrow_latency_seconds_count"),
        clients * per_client + PGBENCH_EXTRA_QUERIES
    );
    assert!(
        after["sluice_database_connections"] <= 5.0,
        "max_connections = 5"
    );
    assert!(after["sluice_database_connections_setup_succeeded_total"] >= 1.0);
    assert_eq!(after["sluice_database_connections_borrowed"], 0.0);
    assert_eq!(after["sluice_client_connections_tls_total"], 0.0);
    let pool = r#"{database="app",user="app",role="read-write"}"#;
    assert_eq!(
        after[&format!("sluice_pool_connections{pool}")],
        after["sluice_database_connections"]
    );
    assert_eq!(after[&format!("sluice_pool_waiting_clients{pool}")], 0.0);
    assert_eq!(after["sluice_writer_elections_total"], 1.0);
    assert_eq!(after["sluice_writer_lost_total"], 0.0);
    let host = format!("{{host=\"{}\"}}", fx.pg.addr());
    assert_eq!(after[&format!("sluice_target_available{host}")], 1.0);
    assert_eq!(after[&format!("sluice_target_writer{host}")], 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_counts_as_a_failed_setup() {
    let fx = Fixture::start_with(with_admin()).await;
    let admin = fx.admin_addr.unwrap();
    let before = scrape(admin).await;
    assert!(fx.try_client(APP, "not-the-password").await.is_err());
    let after = scrape(admin).await;
    let delta = |name: &str| after[name] - before[name];
    assert_eq!(delta("sluice_client_connections_setup_failed_total"), 1.0);
    assert_eq!(
        delta("sluice_client_connections_setup_succeeded_total"),
        0.0
    );
    assert_eq!(delta("sluice_client_connections_received_total"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_gauge_follows_a_pinned_client() {
    let fx = Fixture::start_with(with_admin()).await;
    let admin = fx.admin_addr.unwrap();
    let gauge = r#"sluice_client_connections_pinned{reason="advisory_lock"}"#;
    let total = r#"sluice_client_pins_total{reason="advisory_lock"}"#;
    assert_eq!(scrape(admin).await[gauge], 0.0);
    let client = fx.client().await;
    client
        .simple_query("SELECT pg_advisory_lock(42)")
        .await
        .unwrap();
    let m = scrape(admin).await;
    assert_eq!(m[gauge], 1.0);
    assert_eq!(m[total], 1.0);
    // Unlocking ends the pin (the server confirms nothing pins any more).
    client
        .simple_query("SELECT pg_advisory_unlock_all()")
        .await
        .unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            scrape(admin).await[gauge] == 0.0
        })
        .await
    );
    // A client that leaves pinned takes its pin with it.
    client
        .simple_query("SELECT pg_advisory_lock(43)")
        .await
        .unwrap();
    assert_eq!(scrape(admin).await[gauge], 1.0);
    drop(client);
    assert!(
        eventually(Duration::from_secs(5), || async {
            scrape(admin).await[gauge] == 0.0
        })
        .await
    );
    assert_eq!(scrape(admin).await[total], 2.0);
}
