//! No password ever reaches the log: the sluice binary runs at trace level while clients log in
//! with right and wrong passwords, a password is rotated (with a broken secret file on the way)
//! and queries run; then the whole log is searched for every password used.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::binary::{free_port, SluiceProcess};
use common::{APP, APP_PASSWORD, MD5_PASSWORD, MD5_USER};
use test_support::PgCluster;

const ROTATED: &str = "rotated-app-pw-7f3a";
const PENDING: &str = "pending-app-pw-91c2";
const WRONG: [&str; 3] = [
    "wrong-pw-a81b",
    "wrong-pw-c3d9",
    "{\"password\":\"wrong-pw-json\"}",
];

async fn query(
    sluice: &SluiceProcess,
    user: &str,
    password: &str,
) -> Result<(), tokio_postgres::Error> {
    let (client, conn) =
        tokio_postgres::connect(&sluice.connstr(user, password, user), tokio_postgres::NoTls)
            .await?;
    tokio::spawn(conn);
    client.simple_query("SELECT 1").await?;
    client
        .query_one("SELECT current_user::text, $1::text", &[&"a parameter"])
        .await?;
    Ok(())
}

/// md5(password + user) in hex: what an md5 login proves knowledge of, as good as the password.
fn md5_inner(password: &str, user: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(format!("{password}{user}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_reaches_the_log_at_trace_level() {
    let pg = PgCluster::start().await.unwrap();
    for (user, pw) in [(APP, APP_PASSWORD), (MD5_USER, MD5_PASSWORD)] {
        pg.create_user(user, pw).await.unwrap();
        pg.create_database(user, user).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("app.json");
    std::fs::write(&secret, format!(r#"{{"password":"{APP_PASSWORD}"}}"#)).unwrap();
    let addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = format!(
        r#"
[proxy]
listen = "{addr}"
max_failed_logins = 0
[database]
hosts = ["{pg}"]
server_lifetime = "500ms"
[secrets]
refresh_interval = "200ms"
[[users]]
name = "{APP}"
secret = "file:{secret}"
[[users]]
name = "{MD5_USER}"
password = "{MD5_PASSWORD}"
client_auth = "md5"
"#,
        pg = pg.addr(),
        secret = secret.display(),
    );
    let sluice = SluiceProcess::start(&config, addr, "trace", &[])
        .await
        .unwrap();

    // Good and bad logins, both methods, and an unknown user.
    query(&sluice, APP, APP_PASSWORD).await.unwrap();
    query(&sluice, MD5_USER, MD5_PASSWORD).await.unwrap();
    for wrong in WRONG {
        for user in [APP, MD5_USER, "nobody"] {
            assert!(query(&sluice, user, wrong).await.is_err());
        }
    }
    // A secret file that does not parse, with the password inside: logged as a failed refresh.
    std::fs::write(&secret, format!(r#"{{"password": {APP_PASSWORD}}}"#)).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    query(&sluice, APP, APP_PASSWORD).await.unwrap();
    // A rotation: pending, ALTER ROLE, finish.
    std::fs::write(
        &secret,
        format!(r#"{{"password":"{APP_PASSWORD}","pending_password":"{ROTATED}"}}"#),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let admin = pg.superuser().await.unwrap();
    admin
        .batch_execute(&format!("ALTER ROLE {APP} PASSWORD '{ROTATED}'"))
        .await
        .unwrap();
    query(&sluice, APP, ROTATED).await.unwrap();
    std::fs::write(
        &secret,
        format!(r#"{{"password":"{ROTATED}","previous_password":"{APP_PASSWORD}","pending_password":"{PENDING}"}}"#),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    query(&sluice, APP, ROTATED).await.unwrap();
    query(&sluice, APP, PENDING).await.unwrap();
    assert!(query(&sluice, APP, APP_PASSWORD).await.is_err());

    let log = sluice.log();
    // The log is really at trace level and saw what happened.
    for expected in [
        "credentials rotated",
        "could not refresh the secret",
        "authentication failed",
        "TRACE",
    ] {
        assert!(log.contains(expected), "the log lacks {expected:?}:\n{log}");
    }
    let mut secrets: Vec<String> = [APP_PASSWORD, MD5_PASSWORD, ROTATED, PENDING]
        .into_iter()
        .chain(WRONG)
        .map(str::to_owned)
        .collect();
    secrets.push("wrong-pw-json".into());
    secrets.push(md5_inner(MD5_PASSWORD, MD5_USER));
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "{secret:?} appears in the log:\n{}",
            log.lines()
                .filter(|l| l.contains(secret.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    println!(
        "{} log lines checked for {} secrets",
        log.lines().count(),
        secrets.len()
    );
}
