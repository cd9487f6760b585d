//! Each secret source (file:, env:, exec:) loads and is used for logins both ways; what fails
//! to load is an error naming the user and the source, at startup; at refresh time the old
//! credentials stay.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::binary::{free_port, SluiceProcess};
use common::{Fixture, Options, APP, APP_PASSWORD};
use tempfile::TempDir;
use test_support::PgCluster;

const SECRET_JSON: &str = r#"{"username":"app","password":"app-secret-pw"}"#;

async fn query_as_app(connstr: &str) -> Result<String, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(connstr, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let row = client.query_one("SELECT current_user::text", &[]).await?;
    Ok(row.get(0))
}

/// Sluice with `app`'s credentials from `source(path)`, `path` being a file that holds them.
async fn with_secret_file(source: impl Fn(&std::path::Path) -> String) -> (Fixture, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.json");
    std::fs::write(&path, SECRET_JSON).unwrap();
    let fx = Fixture::start_with(Options {
        app_secret: Some(source(&path)),
        ..Default::default()
    })
    .await;
    (fx, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_source_logs_in_both_ways() {
    let (fx, _dir) = with_secret_file(|path| format!("exec:/bin/cat '{}'", path.display())).await;
    // The query needs a server connection: Sluice logged in to PostgreSQL with the secret.
    let who = query_as_app(&fx.connstr(APP, APP_PASSWORD, APP))
        .await
        .unwrap();
    assert_eq!(who, APP);
    let wrong = query_as_app(&fx.connstr(APP, "nope", APP))
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&wrong).as_deref(), Some("28P01"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_source_logs_in_both_ways() {
    let (fx, _dir) = with_secret_file(|path| format!("file:{}", path.display())).await;
    let who = query_as_app(&fx.connstr(APP, APP_PASSWORD, APP))
        .await
        .unwrap();
    assert_eq!(who, APP);
}

/// `env:` holds the JSON, or (when it does not start with `{`) the password alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_source_takes_json_or_the_password_alone() {
    let pg = PgCluster::start().await.unwrap();
    pg.create_user(APP, APP_PASSWORD).await.unwrap();
    pg.create_database(APP, APP).await.unwrap();
    for value in [SECRET_JSON, APP_PASSWORD] {
        let addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = format!(
            "[proxy]\nlisten = \"{addr}\"\n[database]\nhosts = [\"{}\"]\n\
             [[users]]\nname = \"{APP}\"\nsecret = \"env:SLUICE_TEST_APP_SECRET\"\n",
            pg.addr()
        );
        let sluice =
            SluiceProcess::start(&config, addr, "info", &[("SLUICE_TEST_APP_SECRET", value)])
                .await
                .unwrap();
        let who = query_as_app(&sluice.connstr(APP, APP_PASSWORD, APP))
            .await
            .unwrap();
        assert_eq!(who, APP, "with {value:?}");
    }
}

/// `[secrets]` for the startup error cases: a command that hangs fails fast.
const FAST_EXEC: &str = "exec_timeout = \"1s\"";

async fn startup_error(secret: &str) -> String {
    common::startup_error(secret, FAST_EXEC).await
}

#[tokio::test]
async fn startup_errors_name_the_user_and_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, r#"{"password": "hunter2""#).unwrap();
    let no_password = dir.path().join("nopw.json");
    std::fs::write(&no_password, r#"{"username": "hunter2"}"#).unwrap();
    let cases = [
        (
            "file:/nonexistent/app.json".to_string(),
            "user \"app\": secret file:/nonexistent/app.json: cannot open the file: No such file or directory",
        ),
        (
            format!("file:{}", bad_json.display()),
            "is not valid JSON (line 1, column 22)",
        ),
        (
            format!("file:{}", no_password.display()),
            "is not a JSON object with a string \"password\"",
        ),
        (
            "exec:/bin/false".to_string(),
            "user \"app\": secret exec:/bin/false: the command failed (exit status: 1)",
        ),
        (
            "exec:/bin/sleep 10".to_string(),
            "user \"app\": secret exec:/bin/sleep 10: the command did not finish within exec_timeout (1s)",
        ),
        (
            "env:SLUICE_TEST_UNSET_VARIABLE".to_string(),
            "user \"app\": secret env:SLUICE_TEST_UNSET_VARIABLE: the variable is not set",
        ),
    ];
    for (secret, want) in cases {
        let err = startup_error(&secret).await;
        assert!(err.contains(want), "{secret}: {err}");
        assert!(
            err.contains(&format!("user \"app\": secret {secret}")),
            "{err}"
        );
        assert!(
            !err.contains("hunter2"),
            "the secret leaked into the error: {err}"
        );
    }
}

/// A secret that becomes unreadable after startup: the old credentials stay in use for new
/// server connections and new clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_keeps_the_old_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.json");
    std::fs::write(&path, SECRET_JSON).unwrap();
    let fx = Fixture::start_with(Options {
        app_secret: Some(format!("file:{}", path.display())),
        extra_config: "[secrets]\nrefresh_interval = \"200ms\"".into(),
        extra_database: "server_lifetime = \"500ms\"",
        ..Default::default()
    })
    .await;
    query_as_app(&fx.connstr(APP, APP_PASSWORD, APP))
        .await
        .unwrap();
    for broken in ["{\"password\": ", "{\"password\": \"\"}"] {
        std::fs::write(&path, broken).unwrap();
        // Several refreshes fail, and the pooled connections are retired meanwhile.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let who = query_as_app(&fx.connstr(APP, APP_PASSWORD, APP))
            .await
            .unwrap();
        assert_eq!(who, APP);
    }
    std::fs::remove_file(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    query_as_app(&fx.connstr(APP, APP_PASSWORD, APP))
        .await
        .unwrap();
}

/// `aws:` parses in every build; one without the `aws` feature refuses it in `sluice check` and
/// at startup, saying how to get a build that has it.
#[tokio::test]
async fn aws_secrets_need_a_build_with_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.toml");
    std::fs::write(
        &path,
        "[database]\nhosts = [\"127.0.0.1:9\"]\n[[users]]\nname = \"app\"\nsecret = \"aws:prod/app\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("--config")
        .arg(&path)
        .arg("check")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "aws") {
        assert!(out.status.success(), "{stderr}");
        return;
    }
    assert!(!out.status.success());
    let want = "user \"app\": secret aws:prod/app: this Sluice was built without AWS Secrets \
                Manager support; rebuild it with `cargo build --release --features aws`";
    assert_eq!(stderr.trim(), want);
    let err = startup_error("aws:prod/app").await;
    assert_eq!(err, want);
}
