//! Rotating a user's password under load: pgbench runs through Sluice while the password changes
//! in PostgreSQL (ALTER ROLE) and in the secret file, in either order. No transaction may fail.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::load::{assert_no_failures, init_pgbench, pgbench};
use common::rotation::{alter_role, assert_both_passwords_work, assert_rotated, NEW_PASSWORD};
use common::{Fixture, APP, APP_PASSWORD};

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

/// Sluice with `app`'s password in a secret file (see `rotation::options`).
async fn start() -> Rotation {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("app.json");
    write_secret(
        &secret,
        &format!(r#"{{"username":"{APP}","password":"{APP_PASSWORD}"}}"#),
    );
    let fx = Fixture::start_with(common::rotation::options(
        format!("file:{}", secret.display()),
        "",
    ))
    .await;
    init_pgbench(fx.addr);
    Rotation {
        fx,
        secret,
        _dir: dir,
    }
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
    assert_both_passwords_work(&r.fx).await;
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
