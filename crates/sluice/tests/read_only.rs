//! The read-only endpoint against a real primary and two streaming standbys: transactions go to
//! the least busy readable standby, never to the writer unless allowed; a lagging or failed
//! standby is skipped and used again once healthy.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Fixture, Options};
use test_support::StopMode;
use tokio_postgres::{Client, SimpleQueryMessage};

const READER: &str = r#"
[[endpoints]]
name = "reader"
listen = "127.0.0.1:0"
role = "read-only"

[[endpoints]]
name = "reader-or-writer"
listen = "127.0.0.1:0"
role = "read-only"
fallback_to_writer = true

[admin]
listen = "127.0.0.1:0"
"#;

async fn start(standbys: usize) -> Fixture {
    let fx = Fixture::start_with(Options {
        standbys,
        borrow_timeout: "3s",
        max_connections: 4,
        extra_database: "max_replica_lag = \"1s\"",
        extra_config: READER.into(),
        ..Options::default()
    })
    .await;
    let all_readable = common::eventually(Duration::from_secs(10), || async {
        let hosts = fx.observer.hosts();
        hosts.len() == standbys + 1 && hosts.iter().filter(|h| h.readable).count() == standbys
    })
    .await;
    assert!(
        all_readable,
        "standbys never readable: {:?}",
        fx.observer.hosts()
    );
    fx
}

async fn value(client: &Client, sql: &str) -> Result<String, tokio_postgres::Error> {
    let rows = client.simple_query(sql).await?;
    Ok(rows
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap())
}

/// The port of the server that ran the query: tells which host a transaction went to.
async fn server_port(client: &Client) -> Result<u16, tokio_postgres::Error> {
    let port = value(client, "SELECT current_setting('port')").await?;
    Ok(port.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_least_busy_standby_and_never_to_the_writer() {
    let fx = start(2).await;
    let standby_ports = [fx.standbys[0].port(), fx.standbys[1].port()];

    // Two open transactions at once land on different standbys.
    let first = fx.endpoint_client(0).await.unwrap();
    let second = fx.endpoint_client(0).await.unwrap();
    first.simple_query("BEGIN").await.unwrap();
    let first_port = server_port(&first).await.unwrap();
    second.simple_query("BEGIN").await.unwrap();
    let second_port = server_port(&second).await.unwrap();
    assert!(
        standby_ports.contains(&first_port),
        "{first_port} is not a standby"
    );
    assert!(
        standby_ports.contains(&second_port),
        "{second_port} is not a standby"
    );
    assert_ne!(first_port, second_port, "the busy standby was picked again");

    // A write through the read-only endpoint is refused by the standby itself.
    let err = second
        .simple_query("CREATE TABLE nope (id int)")
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("25006"));

    // The admin views count the standbys' connections in read-only rows of their own.
    let admin = fx.admin_addr.unwrap();
    let pools = common::admin_http::get_json(admin, "/api/pools").await;
    let read_only = pools
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "read-only" && p["user"] == common::APP)
        .unwrap_or_else(|| panic!("no read-only pool: {pools}"));
    assert_eq!(read_only["sv_active"], 2, "{read_only}");
    assert!(read_only["cl_active"].as_u64().unwrap() >= 2, "{read_only}");
    let metrics = common::admin_http::scrape(admin).await;
    let series = format!(
        "sluice_pool_in_use_connections{{database=\"{0}\",user=\"{0}\",role=\"read-only\"}}",
        common::APP
    );
    assert_eq!(metrics.get(&series), Some(&2.0), "{metrics:?}");

    second.simple_query("ROLLBACK").await.unwrap();
    first.simple_query("COMMIT").await.unwrap();

    // Logins report the standby's parameters; the main listener still writes to the primary.
    let reader = fx.endpoint_client(0).await.unwrap();
    let hot_standby = value(&reader, "SHOW in_hot_standby").await.unwrap();
    assert_eq!(hot_standby, "on");
    let writer = fx.client().await;
    assert_eq!(server_port(&writer).await.unwrap(), fx.pg.port());
    writer
        .simple_query("CREATE TABLE yes (id int)")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_standby_gets_no_reads_until_it_catches_up() {
    let fx = start(2).await;
    let lagging = &fx.standbys[0];
    let admin = lagging.superuser().await.unwrap();
    admin
        .simple_query("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    // Commits on the primary reach the paused standby's WAL but are not replayed.
    let writer = fx.client().await;
    writer
        .simple_query("CREATE TABLE ticks (at timestamptz)")
        .await
        .unwrap();
    let excluded = common::eventually(Duration::from_secs(10), || async {
        writer
            .simple_query("INSERT INTO ticks VALUES (now())")
            .await
            .unwrap();
        fx.observer.failover_events().lag_exceeded >= 1
    })
    .await;
    assert!(excluded, "lag never noticed: {:?}", fx.observer.hosts());
    assert!(!fx.observer.hosts()[1].readable);

    for _ in 0..10 {
        let reader = fx.endpoint_client(0).await.unwrap();
        assert_eq!(server_port(&reader).await.unwrap(), fx.standbys[1].port());
    }

    admin
        .simple_query("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    let back = common::eventually(Duration::from_secs(10), || async {
        fx.observer.hosts()[1].readable
    })
    .await;
    assert!(back, "caught-up standby not readable again");
    // Ties go to the first listed standby, so a single reader lands there again.
    let reader = fx.endpoint_client(0).await.unwrap();
    assert_eq!(server_port(&reader).await.unwrap(), lagging.port());
}

/// One query on every client at once: the port that answered, or the error.
async fn work(readers: &[Client]) -> Vec<Result<u16, String>> {
    let each = readers
        .iter()
        .map(|c| async move { server_port(c).await.map_err(|e| e.to_string()) });
    futures_util::future::join_all(each).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_standby_moves_reads_to_the_other_and_is_used_again_once_healthy() {
    let mut fx = start(2).await;
    let survivor = fx.standbys[1].port();
    let readers: Vec<Client> =
        futures_util::future::join_all((0..6).map(|_| fx.endpoint_client(0)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();

    // Warm up: both standbys serve.
    assert!(work(&readers).await.iter().all(Result::is_ok));

    tokio::task::block_in_place(|| fx.standbys[0].stop(StopMode::Immediate).unwrap());
    let mut failed = 0;
    let mut after_switch = Vec::new();
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        for result in work(&readers).await {
            match result {
                Ok(port) => after_switch.push(port),
                Err(_) => failed += 1,
            }
        }
    }
    // Only work already running on the stopped standby fails: at most one per client.
    assert!(failed <= readers.len(), "{failed} reads failed");
    assert!(
        after_switch.iter().all(|p| *p == survivor),
        "reads went to a stopped standby"
    );
    assert!(
        after_switch.len() > 20,
        "too few reads: {}",
        after_switch.len()
    );
    assert!(fx.observer.failover_events().host_down >= 1);

    tokio::task::block_in_place(|| fx.standbys[0].start_again().unwrap());
    let back = common::eventually(Duration::from_secs(20), || async {
        fx.observer.hosts()[1].readable
    })
    .await;
    assert!(
        back,
        "restarted standby never readable: {:?}",
        fx.observer.hosts()
    );
    assert!(fx.observer.failover_events().host_up >= 1);
    let fresh = fx.endpoint_client(0).await.unwrap();
    assert_eq!(server_port(&fresh).await.unwrap(), fx.standbys[0].port());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_standby_reads_wait_and_fail_or_fall_back_to_the_writer() {
    let mut fx = start(1).await;
    let strict = fx.endpoint_client(0).await.unwrap();
    tokio::task::block_in_place(|| fx.standbys[0].stop(StopMode::Fast).unwrap());
    let gone = common::eventually(Duration::from_secs(10), || async {
        !fx.observer.hosts()[1].readable
    })
    .await;
    assert!(gone);

    // The transaction waits borrow_timeout, then fails with an error that names the cause,
    // and the connection stays usable.
    let started = std::time::Instant::now();
    let err = strict.simple_query("SELECT 1").await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_secs(2), "did not wait");
    assert_eq!(common::sqlstate(&err).as_deref(), Some("53300"));
    let message = err.as_db_error().unwrap().message();
    assert!(message.contains("no standby"), "{message}");
    let fallback = fx.endpoint_client(1).await.unwrap();
    assert_eq!(server_port(&fallback).await.unwrap(), fx.pg.port());

    tokio::task::block_in_place(|| fx.standbys[0].start_again().unwrap());
    let back = common::eventually(Duration::from_secs(20), || async {
        fx.observer.hosts()[1].readable
    })
    .await;
    assert!(back);
    assert_eq!(server_port(&strict).await.unwrap(), fx.standbys[0].port());
}

/// `[database] hosts = [...]` with these clusters.
fn hosts_line(clusters: &[&test_support::PgCluster]) -> String {
    let quoted: Vec<String> = clusters
        .iter()
        .map(|c| format!("\"{}\"", c.addr()))
        .collect();
    format!("hosts = [{}]", quoted.join(", "))
}

/// A reload changes `database.hosts`: a standby taken out gets no new transactions (the one it
/// is running finishes), one put back serves again, pgbench writing meanwhile loses nothing,
/// and a list without the primary holds writes until a reload brings it back; every client
/// stays connected throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_follow_a_reload_without_dropping_clients() {
    let fx = start(2).await;
    let (primary, first, second) = (&fx.pg, &fx.standbys[0], &fx.standbys[1]);
    let all = hosts_line(&[primary, first, second]);
    assert!(fx.config_text.contains(&all), "{}", fx.config_text);
    let reload = |line: String| {
        let text = fx.config_text.replace(&all, &line);
        let reload = fx.reload.clone();
        async move {
            let kept = reload
                .reload(config::Config::from_toml_str(&text).unwrap())
                .await
                .unwrap();
            assert!(kept.is_empty(), "{kept:?}");
        }
    };
    let writer = fx.client().await;
    // Writes run through the standby reloads below; none may fail.
    tokio::task::block_in_place(|| common::load::init_pgbench(fx.addr));
    let load = common::load::pgbench(fx.addr, 4);
    let reader = fx.endpoint_client(0).await.unwrap();
    reader.batch_execute("BEGIN").await.unwrap();
    let busy_port = server_port(&reader).await.unwrap();
    let (busy, other) = if busy_port == first.port() {
        (first, second)
    } else {
        (second, first)
    };

    // The standby running the open transaction is taken out: the transaction finishes there.
    reload(hosts_line(&[primary, other])).await;
    let probed = common::eventually(Duration::from_secs(10), || async {
        fx.observer.hosts().len() == 2
    })
    .await;
    assert!(probed, "{:?}", fx.observer.hosts());
    assert_eq!(server_port(&reader).await.unwrap(), busy.port());
    reader.batch_execute("COMMIT").await.unwrap();
    for _ in 0..4 {
        assert_eq!(server_port(&reader).await.unwrap(), other.port());
    }

    // Put back, it serves again: two open transactions land on different standbys.
    reload(all.clone()).await;
    let readable = common::eventually(Duration::from_secs(10), || async {
        fx.observer.hosts().iter().filter(|h| h.readable).count() == 2
    })
    .await;
    assert!(readable, "{:?}", fx.observer.hosts());
    let second_reader = fx.endpoint_client(0).await.unwrap();
    reader.batch_execute("BEGIN").await.unwrap();
    second_reader.batch_execute("BEGIN").await.unwrap();
    let mut ports = [
        server_port(&reader).await.unwrap(),
        server_port(&second_reader).await.unwrap(),
    ];
    ports.sort_unstable();
    let mut standbys = [first.port(), second.port()];
    standbys.sort_unstable();
    assert_eq!(ports, standbys);
    reader.batch_execute("COMMIT").await.unwrap();
    second_reader.batch_execute("COMMIT").await.unwrap();
    common::load::assert_no_failures(&load.await.unwrap());

    // Without the primary in the list there is no writer: writes wait (and fail after the
    // borrow timeout), and succeed on the same connection once a reload names it again.
    reload(hosts_line(&[first, second])).await;
    let no_writer = common::eventually(Duration::from_secs(10), || async {
        fx.observer
            .hosts()
            .iter()
            .all(|h| h.host.port != primary.port())
    })
    .await;
    assert!(no_writer);
    let err = writer.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("53300"), "{err}");
    let back = tokio::spawn({
        let reload = reload(all.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            reload.await
        }
    });
    // Queued during the reload, this one runs on the primary as soon as it is elected.
    assert_eq!(server_port(&writer).await.unwrap(), primary.port());
    back.await.unwrap();
}
