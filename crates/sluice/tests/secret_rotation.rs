//! Rotating a user's password under load: pgbench runs through Sluice while the password changes
//! in PostgreSQL (ALTER ROLE) and in the secret file, in either order. No transaction may fail.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Fixture, Options, APP, APP_PASSWORD};

const NEW_PASSWORD: &str = "app-rotated-pw-2";

fn write_secret(path: &Path, json: &str) {
    // Write then rename, as secret agents do, so a refresh never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

struct Rotation {
    fx: Fixture,
    secret: PathBuf,
    _dir: tempfile::TempDir,
}

/// Sluice with `app`'s password in a secret file, refreshed every second, and server
/// connections retired after a second, so new server logins keep happening during the run.
async fn start() -> Rotation {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("app.json");
    write_secret(
        &secret,
        &format!(r#"{{"username":"{APP}","password":"{APP_PASSWORD}"}}"#),
    );
    let fx = Fixture::start_with(Options {
        app_secret: Some(format!("file:{}", secret.display())),
        extra_database: "server_lifetime = \"1s\"",
        extra_config: "[secrets]\nrefresh_interval = \"1s\"".into(),
        max_connections: 6,
        ..Default::default()
    })
    .await;
    let port = fx.addr.port().to_string();
    let out = test_support::run_client(
        "pgbench",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            APP,
            "-i",
            "-s",
            "1",
            "-q",
            APP,
        ],
        APP_PASSWORD,
        Duration::from_secs(120),
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Rotation {
        fx,
        secret,
        _dir: dir,
    }
}

/// pgbench for `seconds` with clients logged in before the rotation; returns its stdout.
fn pgbench(addr: std::net::SocketAddr, seconds: u32) -> tokio::task::JoinHandle<String> {
    let port = addr.port().to_string();
    let seconds = seconds.to_string();
    tokio::task::spawn_blocking(move || {
        let args = [
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            APP,
            "-n",
            "-c",
            "4",
            "-j",
            "2",
            "-T",
            &seconds,
            APP,
        ];
        let out = test_support::run_client("pgbench", &args, APP_PASSWORD, Duration::from_secs(60))
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "pgbench failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    })
}

fn assert_no_failures(stdout: &str) {
    for line in stdout
        .lines()
        .filter(|l| l.starts_with("number of") || l.starts_with("tps"))
    {
        println!("{line}");
    }
    assert!(
        stdout.contains("number of failed transactions: 0 "),
        "{stdout}"
    );
    let processed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(processed > 0, "{stdout}");
}

async fn alter_role(fx: &Fixture, password: &str) -> std::time::SystemTime {
    let admin = fx.direct_superuser().await;
    admin
        .batch_execute(&format!("ALTER ROLE {APP} PASSWORD '{password}'"))
        .await
        .unwrap();
    std::time::SystemTime::now()
}

/// After the rotation: Sluice has opened server connections with the new password, a new
/// client logs in with it, and the old one is refused.
async fn assert_rotated(fx: &Fixture, since: std::time::SystemTime) {
    let admin = fx.direct_superuser().await;
    let fresh: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND backend_start > $2",
            &[&APP, &since],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        fresh > 0,
        "no server connection was opened after the password changed"
    );
    let client = fx.try_client(APP, NEW_PASSWORD).await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    let old = fx.try_client(APP, APP_PASSWORD).await.unwrap_err();
    assert_eq!(common::sqlstate(&old).as_deref(), Some("28P01"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_first_then_alter_role() {
    let r = start().await;
    let run = pgbench(r.fx.addr, 6);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    write_secret(
        &r.secret,
        &format!(r#"{{"username":"{APP}","password":"{NEW_PASSWORD}"}}"#),
    );
    // Until the database catches up, new server logins with the new password are rejected and
    // Sluice waits (connect_timeout) for a secret that works.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let since = alter_role(&r.fx, NEW_PASSWORD).await;
    assert_no_failures(&run.await.unwrap());
    assert_rotated(&r.fx, since).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_role_then_secret() {
    let r = start().await;
    let run = pgbench(r.fx.addr, 6);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let since = alter_role(&r.fx, NEW_PASSWORD).await;
    // A rejected server login makes Sluice fetch the secret again at once, and keep polling it
    // for up to connect_timeout.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    write_secret(
        &r.secret,
        &format!(r#"{{"username":"{APP}","password":"{NEW_PASSWORD}"}}"#),
    );
    assert_no_failures(&run.await.unwrap());
    assert_rotated(&r.fx, since).await;
}

/// The AWS Secrets Manager sequence: createSecret (AWSPENDING), setSecret (ALTER ROLE),
/// finishSecret (AWSCURRENT moves, the old one becomes AWSPREVIOUS). Server logins never wait:
/// the pending or previous version works at every step. Clients may use the pending password
/// while the rotation is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_and_previous_versions_cover_every_step() {
    let r = start().await;
    let run = pgbench(r.fx.addr, 6);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    write_secret(
        &r.secret,
        &format!(r#"{{"password":"{APP_PASSWORD}","pending_password":"{NEW_PASSWORD}"}}"#),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Rotation window: both passwords log clients in.
    for pw in [APP_PASSWORD, NEW_PASSWORD] {
        let client = r.fx.try_client(APP, pw).await.unwrap();
        client.simple_query("SELECT 1").await.unwrap();
    }
    let since = alter_role(&r.fx, NEW_PASSWORD).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    write_secret(
        &r.secret,
        &format!(r#"{{"password":"{NEW_PASSWORD}","previous_password":"{APP_PASSWORD}"}}"#),
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_no_failures(&run.await.unwrap());
    assert_rotated(&r.fx, since).await;
}
