//! Rotating `app`'s password under load: pgbench through Sluice, ALTER ROLE behind its back,
//! and the checks that nothing failed and the new password took over. The secret store side
//! is each test's own (a file, AWS Secrets Manager).

use std::time::SystemTime;

use super::{Fixture, APP, APP_PASSWORD};

pub const NEW_PASSWORD: &str = "app-rotated-pw-2";

/// Options for Sluice with `app`'s password from `secret`, refreshed every second, and server
/// connections retired after a second, so new server logins keep happening during the run.
pub fn options(secret: String, extra_secrets: &str) -> super::Options {
    super::Options {
        app_secret: Some(secret),
        extra_database: "server_lifetime = \"1s\"",
        extra_config: format!("[secrets]\nrefresh_interval = \"1s\"\n{extra_secrets}"),
        max_connections: 6,
        ..Default::default()
    }
}

pub async fn alter_role(fx: &Fixture, password: &str) -> SystemTime {
    let admin = fx.direct_superuser().await;
    admin
        .batch_execute(&format!("ALTER ROLE {APP} PASSWORD '{password}'"))
        .await
        .unwrap();
    SystemTime::now()
}

/// After the rotation: Sluice has opened server connections with the new password, a new
/// client logs in with it, and the old one is refused.
pub async fn assert_rotated(fx: &Fixture, since: SystemTime) {
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
    assert_eq!(super::sqlstate(&old).as_deref(), Some("28P01"));
}

/// During a rotation window both the current and the pending password log clients in.
pub async fn assert_both_passwords_work(fx: &Fixture) {
    for pw in [APP_PASSWORD, NEW_PASSWORD] {
        let client = fx.try_client(APP, pw).await.unwrap();
        client.simple_query("SELECT 1").await.unwrap();
    }
}
