//! The admin HTTP API and the admin console, with real clients (psql, tokio-postgres).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::admin_http::{get, get_json};
use common::{eventually, sqlstate, Fixture, Options, APP, APP_PASSWORD, MD5_PASSWORD, MD5_USER};

const ADMIN: &str = "[admin]\nlisten = \"127.0.0.1:0\"\nusers = [\"app\"]\n";

async fn start() -> Fixture {
    Fixture::start_with(Options {
        extra_sections: ADMIN,
        ..Options::default()
    })
    .await
}

/// Runs one console command with psql as `user`; Ok(CSV rows, header first) or Err(stderr).
fn console_as(
    fx: &Fixture,
    user: &str,
    password: &str,
    command: &str,
) -> Result<Vec<Vec<String>>, String> {
    let port = fx.addr.port().to_string();
    let args = [
        "-X",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        user,
        "-d",
        "sluice",
        "--csv",
        "-c",
        command,
    ];
    let out = tokio::task::block_in_place(|| {
        test_support::run_client("psql", &args, password, Duration::from_secs(30))
    })
    .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect())
}

fn console(fx: &Fixture, command: &str) -> Vec<Vec<String>> {
    console_as(fx, APP, APP_PASSWORD, command).unwrap_or_else(|e| panic!("{command}: {e}"))
}

/// The rows as maps from column name to value.
fn records(table: &[Vec<String>]) -> Vec<std::collections::HashMap<String, String>> {
    let header = &table[0];
    table[1..]
        .iter()
        .map(|row| header.iter().cloned().zip(row.iter().cloned()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_commands_use_pgbouncer_columns_with_plausible_values() {
    let fx = start().await;
    let client = fx.client().await;
    for _ in 0..3 {
        client.simple_query("SELECT 1").await.unwrap();
    }

    let pools = console(&fx, "SHOW POOLS");
    assert_eq!(
        pools[0],
        [
            "database",
            "user",
            "cl_active",
            "cl_waiting",
            "sv_active",
            "sv_idle",
            "sv_login",
            "maxwait",
            "maxwait_us",
            "pool_mode",
            "role"
        ]
    );
    let pool = records(&pools)
        .into_iter()
        .find(|r| r["database"] == "app")
        .unwrap();
    assert_eq!(pool["user"], "app");
    assert_eq!(pool["cl_active"], "1");
    assert_eq!(pool["cl_waiting"], "0");
    assert_eq!(pool["sv_active"], "0");
    assert_eq!(pool["pool_mode"], "transaction");
    let idle: usize = pool["sv_idle"].parse().unwrap();
    assert!((1..=5).contains(&idle), "{pool:?}");

    let clients = records(&console(&fx, "show clients;"));
    let app = clients.iter().find(|r| r["database"] == "app").unwrap();
    assert_eq!(
        (
            app["type"].as_str(),
            app["user"].as_str(),
            app["state"].as_str()
        ),
        ("C", "app", "idle")
    );
    assert_eq!(app["addr"], "127.0.0.1");
    assert!(app["connect_time"].ends_with('Z'), "{app:?}");
    let me = clients.iter().find(|r| r["database"] == "sluice").unwrap();
    assert_eq!(me["state"], "idle");

    // Every idle server connection Sluice lists is a real backend of user app.
    let servers = records(&console(&fx, "SHOW SERVERS"));
    let backends: Vec<String> = fx
        .server_backends(APP)
        .await
        .iter()
        .map(|b| b.0.to_string())
        .collect();
    assert_eq!(servers.len(), idle);
    for s in &servers {
        assert_eq!((s["type"].as_str(), s["state"].as_str()), ("S", "idle"));
        assert!(
            backends.contains(&s["remote_pid"]),
            "{s:?} not in {backends:?}"
        );
        assert_eq!(s["port"], fx.pg.port().to_string());
    }

    let stats = records(&console(&fx, "SHOW STATS"));
    let total: u64 = stats[0]["total_query_count"].parse().unwrap();
    assert!(total >= 3, "{stats:?}");
    assert!(stats[0].contains_key("avg_wait_time"));

    let databases = records(&console(&fx, "SHOW DATABASES"));
    let db = databases.iter().find(|r| r["name"] == "app").unwrap();
    assert_eq!(db["port"], fx.pg.port().to_string());
    assert_eq!(db["paused"], "0");

    let config = console(&fx, "SHOW CONFIG");
    assert_eq!(config[0], ["key", "value", "changeable"]);
    let text = config
        .iter()
        .map(|r| r.join(","))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!text.contains(APP_PASSWORD), "a password leaked: {text}");
    assert!(text.contains("users[0].password,<redacted>,yes"), "{text}");
    assert!(text.contains("database.hosts,"), "{text}");
    let changeable = |key: &str| {
        let row = config.iter().find(|r| r[0] == key).unwrap();
        row[2].clone()
    };
    assert_eq!(changeable("database.hosts"), "yes");
    assert_eq!(changeable("proxy.listen"), "no");

    let version = console(&fx, "SHOW VERSION");
    assert!(version[1][0].starts_with("Sluice "), "{version:?}");
    let help = console(&fx, "SHOW HELP");
    assert!(help.iter().any(|r| r[0] == "KILL_CLIENT id"), "{help:?}");

    let err = console_as(&fx, APP, APP_PASSWORD, "SELECT 1").unwrap_err();
    assert!(
        err.contains("unknown admin console command") && err.contains("SHOW HELP"),
        "{err}"
    );
    // The file it started with, unchanged: nothing to apply, nothing to complain about.
    console_as(&fx, APP, APP_PASSWORD, "RELOAD").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_not_listed_as_admin_is_refused() {
    let fx = start().await;
    let err = console_as(&fx, MD5_USER, MD5_PASSWORD, "SHOW POOLS").unwrap_err();
    assert!(
        err.contains("may not use the Sluice admin console"),
        "{err}"
    );
    // And with tokio-postgres, to see the SQLSTATE.
    let connstr = fx.connstr(MD5_USER, MD5_PASSWORD, "sluice");
    let e = tokio_postgres::connect(&connstr, tokio_postgres::NoTls)
        .await
        .err()
        .unwrap();
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"));
    // A wrong password is a wrong password, admin database or not.
    let err = console_as(&fx, APP, "wrong", "SHOW POOLS").unwrap_err();
    assert!(err.contains("password authentication failed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_new_transactions_until_resume() {
    let fx = start().await;
    let client = fx.client().await;
    client.simple_query("SELECT 1").await.unwrap();
    console(&fx, "PAUSE");
    let waiting = tokio::spawn(async move {
        client.simple_query("SELECT 2").await.unwrap();
        client
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "a transaction ran while paused");
    let pools = records(&console(&fx, "SHOW POOLS"));
    let pool = pools.iter().find(|r| r["database"] == "app").unwrap();
    assert_eq!(pool["cl_waiting"], "1", "{pool:?}");
    let databases = records(&console(&fx, "SHOW DATABASES"));
    assert_eq!(databases[0]["paused"], "1");
    console(&fx, "RESUME");
    let client = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    client.simple_query("SELECT 3").await.unwrap();
}

/// Ids of the pooled (non-admin) clients, in login order.
fn app_client_ids(fx: &Fixture) -> Vec<u64> {
    let mut ids: Vec<u64> = records(&console(fx, "SHOW CLIENTS"))
        .iter()
        .filter(|r| r["database"] == "app")
        .map(|r| r["id"].parse().unwrap())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_client_disconnects_that_client_only() {
    let fx = start().await;
    let idle = fx.client().await;
    let in_transaction = fx.client().await;
    let pinned = fx.client().await;
    let bystander = fx.client().await;
    idle.simple_query("SELECT 1").await.unwrap();
    in_transaction
        .simple_query("BEGIN; CREATE TABLE killed_midway (x int)")
        .await
        .unwrap();
    pinned
        .simple_query("SELECT pg_advisory_lock(5)")
        .await
        .unwrap();
    let ids = app_client_ids(&fx);
    assert_eq!(ids.len(), 4);
    // Logged in one after the other, so the ids are in that order.
    for (id, client) in ids.iter().zip([&idle, &in_transaction, &pinned]) {
        console(&fx, &format!("KILL_CLIENT {id}"));
        assert!(
            eventually(Duration::from_secs(5), || async { client.is_closed() }).await,
            "client {id} still connected"
        );
    }
    bystander.simple_query("SELECT 1").await.unwrap();
    assert_eq!(app_client_ids(&fx), [ids[3]]);
    // The killed transaction was rolled back and the advisory lock released: no server
    // connection is left holding either.
    let gone = eventually(Duration::from_secs(5), || async {
        let backends = fx.server_backends(APP).await;
        backends
            .iter()
            .all(|(_, state, xid)| state == "idle" && xid.is_none())
    })
    .await;
    assert!(gone, "{:?}", fx.server_backends(APP).await);
    let admin = fx.direct_superuser().await;
    let locks = admin
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(locks.get::<_, i64>(0), 0);
    let table = bystander
        .query_one("SELECT to_regclass('killed_midway') IS NULL", &[])
        .await
        .unwrap();
    assert!(table.get::<_, bool>(0), "the killed transaction committed");
    let err = console_as(&fx, APP, APP_PASSWORD, "KILL_CLIENT 999999").unwrap_err();
    assert!(err.contains("no client with id 999999"), "{err}");
}

/// A client killed inside a transaction is told why, as one killed between transactions is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_client_in_a_transaction_says_57p01() {
    let fx = start().await;
    let mut raw = common::raw_login(&fx.addr.to_string()).await;
    raw.send(&test_support::raw::query_message("BEGIN"))
        .await
        .unwrap();
    raw.recv_until_ready().await.unwrap();
    let id = records(&console(&fx, "SHOW CLIENTS"))
        .into_iter()
        .find(|r| r["user"] == MD5_USER)
        .unwrap()["id"]
        .clone();
    console(&fx, &format!("KILL_CLIENT {id}"));
    let (tag, body) = raw.recv().await.unwrap().expect("a FATAL before the close");
    assert_eq!(tag, b'E');
    let fields = test_support::raw::error_fields(&body);
    assert!(fields.contains(&(b'C', "57P01".to_owned())), "{fields:?}");
    assert!(
        fields
            .iter()
            .any(|(c, m)| *c == b'M' && m.contains("KILL_CLIENT")),
        "{fields:?}"
    );
    assert!(
        raw.recv().await.unwrap().is_none(),
        "closed after the FATAL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_from_the_console_drains() {
    let fx = start().await;
    let admin = fx.admin_addr.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            get(admin, "/readyz").await.0 == 200
        })
        .await
    );
    let in_transaction = fx.client().await;
    in_transaction.simple_query("BEGIN").await.unwrap();
    let idle = fx.client().await;
    console(&fx, "SHUTDOWN");
    // Draining: not ready, while the open transaction may still finish.
    let (status, body) = get(admin, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("shutting down"), "{body}");
    in_transaction.simple_query("COMMIT").await.unwrap();
    // Idle clients are told at once; new connections are refused.
    assert!(eventually(Duration::from_secs(5), || async { idle.is_closed() }).await);
    assert!(
        eventually(Duration::from_secs(5), || async {
            fx.try_client(APP, APP_PASSWORD).await.is_err()
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_answers_json_and_health() {
    let fx = start().await;
    let admin = fx.admin_addr.unwrap();
    assert_eq!(get(admin, "/livez").await.0, 200);
    assert!(
        eventually(Duration::from_secs(5), || async {
            get(admin, "/readyz").await.0 == 200
        })
        .await
    );
    let client = fx.client().await;
    client
        .simple_query("SELECT pg_advisory_lock(7)")
        .await
        .unwrap();

    let pools = get_json(admin, "/api/pools").await;
    let pool = pools
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["database"] == "app")
        .unwrap();
    assert_eq!(pool["user"], "app");
    assert_eq!(
        pool["sv_active"], 1,
        "the pinned client holds its connection: {pool}"
    );
    for field in [
        "cl_active",
        "cl_waiting",
        "sv_idle",
        "sv_login",
        "maxwait",
        "pool_mode",
    ] {
        assert!(pool.get(field).is_some(), "{field} missing: {pool}");
    }

    let clients = get_json(admin, "/api/clients").await;
    let c = &clients.as_array().unwrap()[0];
    assert_eq!(c["user"], "app");
    assert_eq!(c["database"], "app");
    assert_eq!(c["state"], "active");
    assert_eq!(c["pinned"], true);
    assert_eq!(c["pin_reason"], "advisory_lock");
    assert_eq!(c["server"], fx.pg.addr().replace("localhost", "127.0.0.1"));
    assert!(c["client_addr"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(c["connected_since"].as_str().unwrap().ends_with('Z'));
    assert!(c["id"].as_u64().is_some());

    let targets = get_json(admin, "/api/targets").await;
    let t = &targets.as_array().unwrap()[0];
    assert_eq!(t["host"], fx.pg.addr());
    assert_eq!(t["role"], "writer");
    assert!(t["last_probe"].as_str().unwrap().ends_with('Z'));

    let config = get_json(admin, "/api/config").await;
    assert_eq!(config["users"][0]["name"], "app");
    assert_eq!(config["users"][0]["password"], "<redacted>");
    assert_eq!(config["admin"]["users"][0], "app");
    assert!(!config.to_string().contains(APP_PASSWORD));

    let servers = get_json(admin, "/api/servers").await;
    assert_eq!(
        servers
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["state"] == "active")
            .count(),
        1
    );
    let stats = get_json(admin, "/api/stats").await;
    assert!(stats["total_query_count"].as_u64().unwrap() >= 1);
    assert_eq!(get(admin, "/api/nothing").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_no_writer_is_known() {
    let mut fx = start().await;
    let admin = fx.admin_addr.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            get(admin, "/readyz").await.0 == 200
        })
        .await
    );
    fx.pg.stop(test_support::StopMode::Immediate).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || async {
            get(admin, "/readyz").await.0 == 503
        })
        .await
    );
    let (_, body) = get(admin, "/readyz").await;
    assert!(body.contains("no writer"), "{body}");
    let targets = get_json(admin, "/api/targets").await;
    assert_eq!(targets[0]["role"], "down");
    let metrics = common::admin_http::scrape(admin).await;
    assert_eq!(metrics["sluice_writer_lost_total"], 1.0);
    let host = format!("{{host=\"{}\"}}", fx.pg.addr());
    assert_eq!(metrics[&format!("sluice_target_available{host}")], 0.0);
    // Livez still says the process runs.
    assert_eq!(get(admin, "/livez").await.0, 200);
}
