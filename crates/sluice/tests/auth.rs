//! Client authentication by Sluice itself.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, APP, APP_PASSWORD, MD5_PASSWORD, MD5_USER};
use test_support::raw::{startup_message, RawConn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_get_the_same_fatal() {
    let fx = Fixture::start().await;
    let wrong = fx.try_client(APP, "not-the-password").await.unwrap_err();
    let unknown = fx.try_client("nobody", "whatever").await.unwrap_err();
    let (wrong, unknown) = (wrong.as_db_error().unwrap(), unknown.as_db_error().unwrap());
    assert_eq!(wrong.code().code(), "28P01");
    assert_eq!(unknown.code().code(), "28P01");
    assert_eq!(wrong.severity(), "FATAL");
    assert_eq!(
        wrong.message(),
        "password authentication failed for user \"app\""
    );
    assert_eq!(
        unknown.message(),
        "password authentication failed for user \"nobody\""
    );
    // The right password still works afterwards.
    fx.client().await.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md5_users_log_in_with_md5() {
    let fx = Fixture::start().await;
    let mut raw = RawConn::connect(&fx.addr.to_string()).await.unwrap();
    let greeting = raw
        .login_md5(MD5_USER, MD5_PASSWORD, MD5_USER)
        .await
        .unwrap();
    assert!(
        greeting.iter().any(|(tag, _)| *tag == b'K'),
        "BackendKeyData missing"
    );
    assert!(greeting
        .iter()
        .any(|(tag, body)| *tag == b'S' && body.starts_with(b"server_version\0")));
    let mut raw = RawConn::connect(&fx.addr.to_string()).await.unwrap();
    let err = raw
        .login_md5(MD5_USER, "wrong", MD5_USER)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("28P01"), "{err}");
    // tokio-postgres answers md5 too.
    let client = fx.try_client(MD5_USER, MD5_PASSWORD).await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_parameters_are_accepted() {
    let fx = Fixture::start().await;
    let conn = format!(
        "{} application_name=myapp options='-c statement_timeout=5000 -c DateStyle=ISO,MDY'",
        fx.connstr(APP, APP_PASSWORD, APP)
    );
    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client.simple_query("SELECT 1").await.unwrap();
    // Arbitrary GUCs in the startup packet are accepted too.
    let mut raw = RawConn::connect(&fx.addr.to_string()).await.unwrap();
    raw.send(&startup_message(&[
        ("user", MD5_USER),
        ("database", MD5_USER),
        ("statement_timeout", "1000"),
        ("extra_float_digits", "3"),
    ]))
    .await
    .unwrap();
    let (tag, _) = raw.recv().await.unwrap().unwrap();
    assert_eq!(
        tag, b'R',
        "expected an authentication request, not a rejection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_does_not_exist_is_reported_at_login() {
    let fx = Fixture::start().await;
    let connstr = fx.connstr(APP, APP_PASSWORD, "no_such_db");
    let Err(err) = tokio_postgres::connect(&connstr, tokio_postgres::NoTls).await else {
        panic!("login to a missing database succeeded");
    };
    assert_eq!(common::sqlstate(&err).as_deref(), Some("3D000"));
}
