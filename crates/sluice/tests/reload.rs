//! Hot reload against a real PostgreSQL: under pgbench load a new configuration adds a user and
//! shrinks the pool without a failed transaction; a configuration that cannot be applied changes
//! nothing; the admin console's RELOAD reads the file again.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Fixture, Options, APP, APP_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_pool_limits_change_under_load_without_a_failed_transaction() {
    let fx = Fixture::start_with(Options {
        max_connections: 5,
        ..Options::default()
    })
    .await;
    fx.pg.create_user("late", "late-secret-pw").await.unwrap();
    fx.pg.create_database("late", "late").await.unwrap();
    let before = fx.client().await;
    // Set up straight on PostgreSQL: the setup is not what is tested here.
    let init = tokio::task::block_in_place(|| {
        common::load::run_pgbench(fx.pg.port(), &["-i", "-s", "1", "-q"])
    });
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    assert_eq!(fx.observer.pool_limit(), 5);

    let load = common::load::select_only(fx.addr, 4);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let new = fx
        .config_text
        .replace("max_connections = 5", "max_connections = 3")
        + "\n[[users]]\nname = \"late\"\npassword = \"late-secret-pw\"\n";
    let kept = fx
        .reload
        .reload(config::Config::from_toml_str(&new).unwrap())
        .await
        .unwrap();
    assert!(kept.is_empty(), "{kept:?}");
    assert_eq!(fx.observer.pool_limit(), 3);

    // The new user logs in while the load runs; the client from before keeps working.
    let late = fx.try_client("late", "late-secret-pw").await.unwrap();
    late.simple_query("SELECT 1").await.unwrap();
    before.simple_query("SELECT 1").await.unwrap();

    let stdout = load.await.unwrap();
    assert!(
        stdout.contains("number of failed transactions: 0"),
        "{stdout}"
    );
    // The smaller pool is respected once connections come back.
    let servers = common::eventually(Duration::from_secs(5), || async {
        fx.server_backends(APP).await.len() <= 3
    })
    .await;
    assert!(servers, "{:?}", fx.server_backends(APP).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_that_cannot_be_applied_changes_nothing() {
    let fx = Fixture::start().await;
    // The first login reads the server's max_connections and sizes the pool.
    fx.client().await.simple_query("SELECT 1").await.unwrap();
    assert_eq!(fx.observer.pool_limit(), 5);
    // A secret that cannot be fetched: the whole reload is refused.
    let broken = fx
        .config_text
        .replace("max_connections = 5", "max_connections = 2")
        + "\n[[users]]\nname = \"ghost\"\nsecret = \"file:/nonexistent/ghost.json\"\n";
    let err = fx
        .reload
        .reload(config::Config::from_toml_str(&broken).unwrap())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("ghost"), "{err:#}");
    assert_eq!(fx.observer.pool_limit(), 5);
    fx.client().await.simple_query("SELECT 1").await.unwrap();

    // Dropping the user the monitor logs in as is refused too.
    let without_app = fx
        .config_text
        .replace(&format!("name = \"{APP}\""), "name = \"someone_else\"");
    let err = fx
        .reload
        .reload(config::Config::from_toml_str(&without_app).unwrap())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("monitor"), "{err:#}");
    fx.client().await.simple_query("SELECT 1").await.unwrap();

    // A key bound at startup keeps its running value, and the reload says so.
    let moved = fx
        .config_text
        .replace("listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:1\"");
    let kept = fx
        .reload
        .reload(config::Config::from_toml_str(&moved).unwrap())
        .await
        .unwrap();
    assert_eq!(kept, ["proxy.listen"]);

    // Each outcome is an event on the status page.
    let reloads: Vec<_> = fx
        .observer
        .events()
        .into_iter()
        .filter(|(kind, _)| kind.starts_with("config_"))
        .collect();
    let kinds: Vec<_> = reloads.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(
        kinds,
        ["config_refused", "config_refused", "config_reloaded"]
    );
    assert!(reloads[0].1.contains("ghost"), "{reloads:?}");
    assert!(reloads[2].1.contains("proxy.listen"), "{reloads:?}");
    fx.client().await.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_from_the_admin_console_reads_the_file_again() {
    let fx = Fixture::start_with(Options {
        extra_sections: "[admin]\nusers = [\"app\"]\n",
        ..Options::default()
    })
    .await;
    fx.pg.create_user("later", "later-secret-pw").await.unwrap();
    fx.pg.create_database("later", "later").await.unwrap();
    assert!(fx.try_client("later", "later-secret-pw").await.is_err());
    let admin = common::connstr_at(fx.addr, APP, APP_PASSWORD, "sluice");
    let (console, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);

    // An invalid file: RELOAD says why, and the running configuration stays.
    std::fs::write(&fx.config_file, "[proxy]\nlisten = 12\n").unwrap();
    let err = console.simple_query("RELOAD").await.unwrap_err();
    assert_eq!(common::sqlstate(&err).as_deref(), Some("F0000"));
    assert!(
        err.to_string().contains("proxy.listen") || format!("{err:?}").contains("proxy.listen")
    );
    fx.client().await.simple_query("SELECT 1").await.unwrap();

    let with_later =
        fx.config_text.clone() + "\n[[users]]\nname = \"later\"\npassword = \"later-secret-pw\"\n";
    std::fs::write(&fx.config_file, with_later).unwrap();
    console.simple_query("RELOAD").await.unwrap();
    let later = fx.try_client("later", "later-secret-pw").await.unwrap();
    later.simple_query("SELECT 1").await.unwrap();
}

/// The real binary: SIGHUP switches `log.filter` and the periodic stats line on and off, so
/// an operator can turn logging up on a running Sluice and down again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_changes_the_log_filter_and_the_stats_line() {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", common::binary::free_port())
        .parse()
        .unwrap();
    let config = |filter: &str, stats: &str| {
        format!(
            "[proxy]\nlisten = \"{addr}\"\n[database]\nhosts = [\"127.0.0.1:9\"]\n\
             [[users]]\nname = \"a\"\npassword = \"b\"\n\
             [log]\nfilter = \"{filter}\"\nstats_interval = \"{stats}\"\n"
        )
    };
    let sluice = common::binary::SluiceProcess::start(&config("warn", "0s"), addr, "", &[])
        .await
        .unwrap();
    let stats_lines = |log: &str| log.lines().filter(|l| l.contains(" stats ")).count();

    std::fs::write(&sluice.config_path, config("info", "200ms")).unwrap();
    sluice.hangup();
    let on = common::eventually(Duration::from_secs(10), || async {
        let log = sluice.log();
        log.contains("configuration reloaded") && stats_lines(&log) >= 2
    })
    .await;
    assert!(on, "{}", sluice.log());

    std::fs::write(&sluice.config_path, config("warn", "0s")).unwrap();
    sluice.hangup();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_off = stats_lines(&sluice.log());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let log = sluice.log();
    assert_eq!(stats_lines(&log), after_off, "stats still logged: {log}");
    assert_eq!(
        log.matches("configuration reloaded").count(),
        1,
        "the second reload's info line passed the warn filter: {log}"
    );
}

/// `ignore_pin_reasons` reloads: a reason switched off no longer pins the next client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_switches_a_pin_reason_off() {
    let fx = Fixture::start().await;
    let temp_pins = |fx: &Fixture| {
        let pins = fx.observer.pins();
        pins.iter().find(|(r, _)| *r == "temp_object").unwrap().1
    };
    let before = fx.client().await;
    before
        .batch_execute("CREATE TEMP TABLE scratch (n int)")
        .await
        .unwrap();
    assert_eq!(temp_pins(&fx), 1);

    let anchor = "shutdown_timeout = \"1s\"";
    assert!(fx.config_text.contains(anchor));
    let ignoring = fx.config_text.replace(
        anchor,
        &format!("{anchor}\nignore_pin_reasons = [\"temp_object\"]"),
    );
    let kept = fx
        .reload
        .reload(config::Config::from_toml_str(&ignoring).unwrap())
        .await
        .unwrap();
    assert!(kept.is_empty(), "{kept:?}");
    let after = fx.client().await;
    after
        .batch_execute("CREATE TEMP TABLE scratch (n int)")
        .await
        .unwrap();
    assert_eq!(temp_pins(&fx), 1, "the switched-off reason pinned again");
    // The client pinned before the reload keeps its server connection and its table.
    before
        .batch_execute("INSERT INTO scratch VALUES (1)")
        .await
        .unwrap();
}

/// A lower `max_client_connections` disconnects nobody: new clients are refused until enough
/// have left, then the new limit holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_client_limit_applies_as_clients_leave() {
    let fx = Fixture::start_with(Options {
        max_client_connections: 3,
        ..Options::default()
    })
    .await;
    let first = fx.client().await;
    let second = fx.client().await;
    let lower = fx
        .config_text
        .replace("max_client_connections = 3", "max_client_connections = 1");
    assert_ne!(lower, fx.config_text);
    let kept = fx
        .reload
        .reload(config::Config::from_toml_str(&lower).unwrap())
        .await
        .unwrap();
    assert!(kept.is_empty(), "{kept:?}");

    let refused = fx.try_client(APP, APP_PASSWORD).await.unwrap_err();
    assert_eq!(common::sqlstate(&refused).as_deref(), Some("53300"));
    first.simple_query("SELECT 1").await.unwrap();
    second.simple_query("SELECT 1").await.unwrap();

    // Their slots come back once Sluice sees them leave.
    drop((first, second));
    let mut only = None;
    for _ in 0..50 {
        if let Ok(client) = fx.try_client(APP, APP_PASSWORD).await {
            only = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let only = only.expect("no slot came back");
    let refused = fx.try_client(APP, APP_PASSWORD).await.unwrap_err();
    assert_eq!(common::sqlstate(&refused).as_deref(), Some("53300"));
    only.simple_query("SELECT 1").await.unwrap();
}

/// Two reloads at once (SIGHUP and RELOAD, say) apply one after the other, in the order they
/// came: a slow one (its secret takes a second to fetch) does not overwrite a later one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_apply_in_the_order_they_came() {
    let fx = Fixture::start_with(Options {
        max_connections: 5,
        ..Options::default()
    })
    .await;
    fx.client().await.simple_query("SELECT 1").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("late.json");
    std::fs::write(&secret, r#"{"password": "late-pw"}"#).unwrap();
    let slow = fx
        .config_text
        .replace("max_connections = 5", "max_connections = 2")
        + &format!(
            "\n[[users]]\nname = \"late\"\nsecret = \"exec:/bin/sh -c 'sleep 1; cat {}'\"\n",
            secret.display()
        );
    let fast = fx
        .config_text
        .replace("max_connections = 5", "max_connections = 3");
    let first = tokio::spawn({
        let reload = fx.reload.clone();
        async move {
            reload
                .reload(config::Config::from_toml_str(&slow).unwrap())
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = fx
        .reload
        .reload(config::Config::from_toml_str(&fast).unwrap());
    second.await.unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(
        fx.observer.pool_limit(),
        3,
        "the earlier reload applied last"
    );
}

/// `[[endpoints]]` reload by name: a new one accepts at once, a removed one stops accepting
/// while its clients stay, one whose settings changed keeps running as it was (and the reload
/// says so), and an address in use refuses the whole reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_added_and_removed_by_a_reload() {
    let fx = Fixture::start().await;
    let reload = |text: String| {
        let handle = fx.reload.clone();
        async move {
            handle
                .reload(config::Config::from_toml_str(&text).unwrap())
                .await
        }
    };
    let endpoint = |listen: &str, role: &str| {
        format!("\n[[endpoints]]\nname = \"extra\"\nlisten = \"{listen}\"\nrole = \"{role}\"\n")
    };
    let added = fx.config_text.clone() + &endpoint("127.0.0.1:0", "read-write");
    assert!(reload(added.clone()).await.unwrap().is_empty());
    let endpoints = fx.observer.endpoints();
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    let (name, addr) = endpoints[0].clone();
    assert_eq!(name, "extra");
    let (through, conn) = tokio_postgres::connect(
        &common::connstr_at(addr, APP, APP_PASSWORD, APP),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    through.simple_query("SELECT 1").await.unwrap();

    let changed = fx.config_text.clone() + &endpoint("127.0.0.1:0", "read-only");
    let kept = reload(changed).await.unwrap();
    assert_eq!(kept, ["endpoints[\"extra\"]"]);
    assert_eq!(fx.observer.endpoints()[0].1, addr, "moved in place");

    let taken = fx.config_text.clone() + &endpoint(&fx.addr.to_string(), "read-write");
    let taken = taken.replace("name = \"extra\"", "name = \"other\"");
    let err = reload(taken).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("could not listen on"),
        "{err:#}"
    );
    assert_eq!(
        fx.observer.endpoints().len(),
        1,
        "the refused reload changed the endpoints"
    );

    assert!(reload(fx.config_text.clone()).await.unwrap().is_empty());
    assert!(fx.observer.endpoints().is_empty());
    let refused = common::eventually(Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert!(refused, "the removed endpoint still accepts");
    through.simple_query("SELECT 1").await.unwrap();
}
