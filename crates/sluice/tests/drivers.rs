//! Real drivers of other languages through Sluice in transaction mode.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{Fixture, Options, APP, APP_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg3_and_asyncpg_with_statement_caches() {
    let fx = Fixture::start_with(Options {
        max_connections: 3,
        ..Options::default()
    })
    .await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/drivers/python_drivers.py"
    );
    let port = fx.addr.port().to_string();
    let out = tokio::task::block_in_place(|| {
        Command::new("python3")
            .args([script, "127.0.0.1", &port, APP, APP_PASSWORD, APP])
            .output()
            .expect("python3 runs (scripts/install-deps.sh installs psycopg and asyncpg)")
    });
    let stdout = common::succeeded(&out);
    assert!(
        stdout.contains("checked 2400 results from 24 clients"),
        "{stdout}"
    );
}

fn run_driver(program: &str, args: &[&str], fx: &Fixture) -> String {
    let port = fx.addr.port().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["127.0.0.1", port.as_str(), APP, APP_PASSWORD, APP]);
    let out = tokio::task::block_in_place(|| {
        Command::new(program)
            .args(&all)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/drivers"))
            .output()
            .unwrap_or_else(|e| panic!("{program} runs (scripts/install-deps.sh installs it): {e}"))
    });
    common::succeeded(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jdbc_with_prepare_threshold_reached() {
    let fx = Fixture::start_with(Options {
        max_connections: 3,
        ..Options::default()
    })
    .await;
    let jar = "/usr/share/java/postgresql.jar";
    let stdout = run_driver("java", &["-cp", jar, "JdbcDriver.java"], &fx);
    assert!(
        stdout.contains("checked 1000 results from 10 clients"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_postgres_named_queries() {
    let fx = Fixture::start_with(Options {
        max_connections: 3,
        ..Options::default()
    })
    .await;
    let stdout = run_driver("node", &["node_pg.js"], &fx);
    assert!(
        stdout.contains("checked 1500 results from 10 clients"),
        "{stdout}"
    );
}
