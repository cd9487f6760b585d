//! Tests against real PostgreSQL clusters.

use std::time::{Duration, Instant};

use sluice_test_support::raw::{error_fields, query_message, RawConn};
use sluice_test_support::{pg_bin, run_client, ClusterOptions, HbaAuth, PgCluster, StopMode};

#[tokio::test]
async fn superuser_users_databases_and_restart() {
    let mut pg = PgCluster::start().await.unwrap();
    let su = pg.superuser().await.unwrap();
    let row = su
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "postgres");

    pg.create_user("alice", "s3cret'x").await.unwrap();
    pg.create_database("alicedb", "alice").await.unwrap();
    let alice = pg.connect("alice", "s3cret'x", "alicedb").await.unwrap();
    let row = alice
        .query_one("SELECT current_database()::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "alicedb");
    assert!(pg.connect("alice", "wrong", "alicedb").await.is_err());

    assert_eq!(pg.psql("SELECT 1, 'a'; SELECT 2").unwrap(), "1|a\n2\n");
    assert!(pg.psql("SELECT nope").is_err());

    // Host/port/user as flags: run_client supplies the password via PGPASSWORD.
    let port = pg.port().to_string();
    let out = run_client(
        "psql",
        &[
            "-X",
            "-At",
            "-h",
            pg.host(),
            "-p",
            &port,
            "-U",
            "alice",
            "-d",
            "alicedb",
            "-c",
            "SELECT 7",
        ],
        "s3cret'x",
        Duration::from_secs(30),
    )
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "7\n");
    assert!(pg_bin("pgbench").unwrap().is_file());

    // Fast shutdown waits for nothing, but close our sessions anyway.
    drop((su, alice));
    let pid = pg.postmaster_pid().unwrap();
    let port = pg.port();
    pg.stop(StopMode::Fast).unwrap();
    assert!(pg.postmaster_pid().is_err());
    pg.start_again().unwrap();
    assert_eq!(pg.port(), port);
    assert_ne!(pg.postmaster_pid().unwrap(), pid);
    pg.superuser().await.unwrap();
}

#[tokio::test]
async fn standby_replicates_and_promotes() {
    let primary = PgCluster::start().await.unwrap();
    primary
        .psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        .unwrap();
    let standby = primary.start_standby().await.unwrap();
    assert_ne!(standby.port(), primary.port());

    let client = standby.superuser().await.unwrap();
    let row = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));

    primary.psql("INSERT INTO t VALUES (2)").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = client
            .query_one("SELECT count(*) FROM t", &[])
            .await
            .unwrap();
        if row.get::<_, i64>(0) == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "row 2 never replicated");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    standby.promote().unwrap();
    let row = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0));
}

#[tokio::test]
async fn raw_md5_login() {
    let opts = ClusterOptions {
        auth: HbaAuth::Md5,
        ..ClusterOptions::default()
    };
    let pg = PgCluster::start_with(opts).await.unwrap();
    pg.create_user("bob", "pw").await.unwrap();

    for (user, pw) in [
        ("bob", "pw"),
        (PgCluster::SUPERUSER, PgCluster::SUPERUSER_PASSWORD),
    ] {
        let mut conn = RawConn::connect(&pg.addr()).await.unwrap();
        let msgs = conn.login_md5(user, pw, "postgres").await.unwrap();
        assert_eq!(msgs.first().map(|m| m.0), Some(b'R'));
        conn.send(&query_message("SELECT 41 + 1")).await.unwrap();
        let msgs = conn.recv_until_ready().await.unwrap();
        let data_row = msgs.iter().find(|m| m.0 == b'D').unwrap();
        assert!(data_row.1.ends_with(b"42"));
    }

    let mut conn = RawConn::connect(&pg.addr()).await.unwrap();
    let err = conn.login_md5("bob", "bad", "postgres").await.unwrap_err();
    assert!(err.to_string().contains("28P01"), "{err:#}");

    // SSLRequest is answered with a single 'N' (no TLS configured).
    let mut conn = RawConn::connect(&pg.addr()).await.unwrap();
    conn.send(&[0, 0, 0, 8, 4, 210, 22, 47]).await.unwrap();
    assert_eq!(conn.recv_single_byte().await.unwrap(), b'N');
    // Garbage instead of a startup packet: server closes, maybe with an error.
    conn.send(&[0, 0, 0, 8, 0, 9, 0, 0]).await.unwrap();
    if let Some((tag, body)) = conn.recv().await.unwrap() {
        assert_eq!(tag, b'E');
        assert!(error_fields(&body).iter().any(|(c, _)| *c == b'C'));
    }
}

#[tokio::test]
async fn two_clusters_at_once_and_cleanup_on_drop() {
    let (a, b) = tokio::join!(PgCluster::start(), PgCluster::start());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.port(), b.port());
    a.psql("CREATE TABLE only_a ()").unwrap();
    assert!(b.psql("SELECT * FROM only_a").is_err());

    let dir = a.data_dir().to_path_buf();
    let addr = a.addr();
    drop(a);
    assert!(!dir.exists(), "temp dir left behind");
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
    b.superuser().await.unwrap();
}
