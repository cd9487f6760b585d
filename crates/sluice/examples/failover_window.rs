//! Benchmark, not a test: how long writes are unavailable during a failover, through Sluice
//! and for a client connecting directly with libpq's multi-host `target_session_attrs=
//! read-write` and reconnect-on-error (bench/libpq_writer.py, psycopg on libpq).
//!
//! Each run starts a primary and a streaming standby, runs both writers (one autocommit INSERT
//! after another, 10 ms pause after an error), stops the primary with `pg_ctl stop -m
//! immediate`, promotes the standby a second later (as an orchestrator would) and measures,
//! for each writer, the time from `pg_ctl promote` to its first successful write.
//!
//! ```text
//! cargo run --release -p sluice --example failover_window -- [RUNS] [PROBE_INTERVAL]
//! ```

// A benchmark: a poisoned lock should stop it loudly.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use test_support::{PgCluster, StopMode};
use tokio::io::{AsyncBufReadExt, BufReader};

const USER: &str = "bench";
const PASSWORD: &str = "bench-failover-pw";
const RETRY_PAUSE: Duration = Duration::from_millis(10);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let probe_interval = args.next().unwrap_or_else(|| "1s".into());
    let mut sluice = Vec::new();
    let mut direct = Vec::new();
    for run in 1..=runs {
        let (through_sluice, libpq) = one_run(&probe_interval).await?;
        println!(
            "run {run}: through Sluice {} ms, direct libpq {} ms",
            through_sluice.as_millis(),
            libpq.as_millis()
        );
        sluice.push(through_sluice);
        direct.push(libpq);
    }
    println!("\nfrom `pg_ctl promote` to the first successful write, {runs} runs, probe_interval {probe_interval}:");
    println!("| client | median | worst |\n|---|---|---|");
    for (name, windows) in [
        ("through Sluice", &mut sluice),
        ("direct libpq, target_session_attrs=read-write", &mut direct),
    ] {
        windows.sort();
        let median = windows[windows.len() / 2];
        let worst = windows[windows.len() - 1];
        println!(
            "| {name} | {} ms | {} ms |",
            median.as_millis(),
            worst.as_millis()
        );
    }
    Ok(())
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos()
}

/// Successful write times (unix ns) of one writer.
type Log = Arc<Mutex<Vec<u128>>>;

async fn one_run(probe_interval: &str) -> anyhow::Result<(Duration, Duration)> {
    let mut primary = PgCluster::start().await?;
    primary.create_user(USER, PASSWORD).await?;
    primary.create_database(USER, USER).await?;
    let setup = primary.connect(USER, PASSWORD, USER).await?;
    setup
        .batch_execute("CREATE TABLE writes (at timestamptz)")
        .await?;
    let standby = primary.start_standby().await?;

    let config = config::Config::from_toml_str(&format!(
        "[proxy]\nlisten = \"127.0.0.1:0\"\n[database]\nhosts = [\"{}\", \"{}\"]\n\
         probe_interval = \"{probe_interval}\"\nconnection_borrow_timeout = \"30s\"\n\
         [[users]]\nname = \"{USER}\"\npassword = \"{PASSWORD}\"\n[log]\nfilter = \"warn\"\n",
        primary.addr(),
        standby.addr()
    ))?;
    let proxy = sluice::Proxy::bind(config).await?;
    let addr = proxy.local_addr();
    let shutdown = proxy.shutdown_handle();
    tokio::spawn(proxy.run());

    let through_sluice: Log = Arc::default();
    let sluice_writer = tokio::spawn(write_through_sluice(
        format!(
            "host={} port={} user={USER} password={PASSWORD} dbname={USER}",
            addr.ip(),
            addr.port()
        ),
        through_sluice.clone(),
    ));
    let direct: Log = Arc::default();
    let libpq = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} user={USER} password={PASSWORD} dbname={USER} \
         target_session_attrs=read-write connect_timeout=2",
        primary.port(),
        standby.port()
    );
    let mut direct_writer = spawn_libpq_writer(&libpq, direct.clone())?;

    tokio::time::sleep(Duration::from_secs(2)).await;
    anyhow::ensure!(
        !through_sluice.lock().unwrap().is_empty() && !direct.lock().unwrap().is_empty(),
        "a writer did not get going"
    );
    tokio::task::block_in_place(|| primary.stop(StopMode::Immediate))?;
    let stopped = now_ns();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let promote = now_ns();
    tokio::task::block_in_place(|| standby.promote())?;
    tokio::time::sleep(Duration::from_secs(4)).await;

    sluice_writer.abort();
    direct_writer.kill().await?;
    shutdown.shutdown();
    let window = |log: &Log| -> anyhow::Result<Duration> {
        let first = log
            .lock()
            .unwrap()
            .iter()
            .copied()
            .find(|t| *t > stopped)
            .context("no successful write after the failover")?;
        Ok(Duration::from_nanos(first.saturating_sub(promote) as u64))
    };
    Ok((window(&through_sluice)?, window(&direct)?))
}

/// One Sluice connection, kept across errors unless Sluice closed it.
async fn write_through_sluice(conninfo: String, log: Log) {
    let mut client = None;
    loop {
        if client.is_none() {
            if let Ok((c, conn)) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await {
                tokio::spawn(conn);
                client = Some(c);
            }
        }
        let ok = match &client {
            Some(c) => c
                .simple_query("INSERT INTO writes VALUES (now())")
                .await
                .is_ok(),
            None => false,
        };
        if ok {
            log.lock().unwrap().push(now_ns());
        } else {
            if client.as_ref().is_some_and(|c| c.is_closed()) {
                client = None;
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}

fn spawn_libpq_writer(conninfo: &str, log: Log) -> anyhow::Result<tokio::process::Child> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/libpq_writer.py");
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .arg(conninfo)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting python3 bench/libpq_writer.py (needs psycopg)")?;
    let stdout = child.stdout.take().context("no stdout")?;
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut words = line.split_whitespace();
            if words.next() == Some("ok") {
                if let Some(t) = words.next().and_then(|t| t.parse().ok()) {
                    log.lock().unwrap().push(t);
                }
            }
        }
    });
    Ok(child)
}
