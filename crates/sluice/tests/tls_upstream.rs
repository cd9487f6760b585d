//! TLS from Sluice to PostgreSQL, against real PostgreSQL 15 clusters serving certificates
//! made in the test: every tls_mode (with right and wrong names and CAs, and no fallback to
//! plaintext where libpq would not fall back), and server_auth.
#![allow(clippy::unwrap_used)]

mod tls_support;

use test_support::HbaAuth;
use tls_support::*;
use tokio_postgres::NoTls;

/// A plaintext client through Sluice: the answer to `SELECT 1`, or Sluice's error message.
async fn through_sluice(sluice: &Sluice) -> Result<i32, String> {
    let connstr = format!(
        "host=127.0.0.1 port={} user={APP} password={APP_PASSWORD} dbname={APP} \
         connect_timeout=20",
        sluice.addr.port()
    );
    let (client, conn) = tokio_postgres::connect(&connstr, NoTls)
        .await
        .map_err(|e| db_error(&e).1)?;
    tokio::spawn(conn);
    let row = client
        .query_one("SELECT 1", &[])
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

fn database_tls(mode: &str, ca: Option<&std::path::Path>) -> String {
    let ca = ca
        .map(|p| format!("tls_ca_file = \"{}\"", p.display()))
        .unwrap_or_default();
    format!("tls_mode = \"{mode}\"\n{ca}")
}

#[tokio::test]
async fn sluice_to_postgres_in_each_verifying_mode() {
    let ca = Ca::new("PostgreSQL CA");
    let files = Files::new();
    let ca_file = files.write("pg-ca.crt", &ca.pem());
    let wrong_ca = files.write("wrong-ca.crt", &Ca::new("not the one").pem());
    // The certificate names "localhost" only. The cluster accepts plaintext too, so a
    // fallback to plaintext would show up as a successful login.
    let pg = cluster(
        HbaAuth::ScramSha256,
        Some((&ca.issue(&["localhost"]), false)),
    )
    .await;
    let by_ip = pg.addr();
    let by_name = format!("localhost:{}", pg.port());

    for (host, mode, ca_file) in [
        (&by_ip, "require", None),
        (&by_ip, "verify-ca", Some(&ca_file)),
        (&by_name, "verify-full", Some(&ca_file)),
    ] {
        let proxy = sluice(host, &database_tls(mode, ca_file.map(|p| p.as_path())), "").await;
        assert_eq!(through_sluice(&proxy).await, Ok(1), "{mode} via {host}");
        assert_eq!(app_backends_use_tls(&pg).await, Some(true), "{mode}");
        drop(proxy);
    }

    // verify-full by IP: the certificate does not name 127.0.0.1.
    let proxy = sluice(&by_ip, &database_tls("verify-full", Some(&ca_file)), "").await;
    let err = through_sluice(&proxy).await.unwrap_err();
    assert!(
        err.contains("TLS with") && err.contains("not valid for name"),
        "{err}"
    );
    drop(proxy);

    // verify-full against another CA.
    let proxy = sluice(&by_name, &database_tls("verify-full", Some(&wrong_ca)), "").await;
    let err = through_sluice(&proxy).await.unwrap_err();
    assert!(
        err.contains("TLS with") && err.contains("UnknownIssuer"),
        "{err}"
    );
    drop(proxy);
}

#[tokio::test]
async fn prefer_falls_back_to_plaintext_and_require_does_not() {
    let pg = cluster(HbaAuth::ScramSha256, None).await;
    let sluice_prefer = sluice(&pg.addr(), &database_tls("prefer", None), "").await;
    assert_eq!(through_sluice(&sluice_prefer).await, Ok(1));
    assert_eq!(app_backends_use_tls(&pg).await, Some(false));
    drop(sluice_prefer);

    let files = Files::new();
    let ca_file = files.write("ca.crt", &Ca::new("any").pem());
    for (mode, ca) in [("require", None), ("verify-full", Some(ca_file.as_path()))] {
        let proxy = sluice(&pg.addr(), &database_tls(mode, ca), "").await;
        let err = through_sluice(&proxy).await.unwrap_err();
        let want =
            format!("does not accept TLS, and tls_mode = \"{mode}\" does not allow plaintext");
        assert!(err.contains(&want), "{err}");
    }
}

#[tokio::test]
async fn server_auth_refuses_md5_when_only_scram_is_allowed() {
    let pg = cluster(HbaAuth::Md5, None).await;
    let strict = sluice(&pg.addr(), "server_auth = \"scram-sha-256\"", "").await;
    let err = through_sluice(&strict).await.unwrap_err();
    assert!(
        err.contains("server asked for md5, which server_auth = \"scram-sha-256\" does not allow"),
        "{err}"
    );
    let lenient = sluice(&pg.addr(), "server_auth = \"any\"", "").await;
    assert_eq!(through_sluice(&lenient).await, Ok(1));
}

#[tokio::test]
async fn cleartext_password_only_over_tls() {
    let ca = Ca::new("PostgreSQL CA");
    let pg = cluster(HbaAuth::Password, Some((&ca.issue(&["localhost"]), false))).await;
    let plain = sluice(&pg.addr(), &database_tls("disable", None), "").await;
    let err = through_sluice(&plain).await.unwrap_err();
    assert!(
        err.contains("cleartext password over an unencrypted connection"),
        "{err}"
    );
    let encrypted = sluice(&pg.addr(), &database_tls("require", None), "").await;
    assert_eq!(through_sluice(&encrypted).await, Ok(1));
    let strict = sluice(
        &pg.addr(),
        "tls_mode = \"require\"\nserver_auth = \"scram-sha-256\"",
        "",
    )
    .await;
    let err = through_sluice(&strict).await.unwrap_err();
    assert!(
        err.contains("server asked for a cleartext password"),
        "{err}"
    );
}

#[tokio::test]
async fn prefer_uses_tls_when_the_server_offers_it() {
    let ca = Ca::new("PostgreSQL CA");
    // hostssl only: PostgreSQL itself refuses plaintext logins.
    let pg = cluster(
        HbaAuth::ScramSha256,
        Some((&ca.issue(&["localhost"]), true)),
    )
    .await;
    let proxy = sluice(&pg.addr(), &database_tls("prefer", None), "").await;
    assert_eq!(through_sluice(&proxy).await, Ok(1));
    assert_eq!(app_backends_use_tls(&pg).await, Some(true));
    drop(proxy);
    let proxy = sluice(&pg.addr(), &database_tls("disable", None), "").await;
    let err = through_sluice(&proxy).await.unwrap_err();
    assert!(err.contains("pg_hba.conf rejects connection"), "{err}");
}

/// A reload changes TLS on both sides without dropping anyone: server connections are remade
/// under the new tls_mode (pooled ones replaced, the monitor's too), `[proxy.tls]` can be
/// turned on, and a CA file that cannot be read refuses the whole reload.
#[tokio::test]
async fn a_reload_changes_tls_on_both_sides_and_a_bad_file_changes_nothing() {
    let ca = Ca::new("PostgreSQL CA");
    let files = Files::new();
    let ca_file = files.write("pg-ca.crt", &ca.pem());
    let pg = cluster(
        HbaAuth::ScramSha256,
        Some((&ca.issue(&["localhost"]), false)),
    )
    .await;
    let plain = database_tls("disable", None);
    let proxy = sluice(&pg.addr(), &plain, "").await;
    let connstr = format!(
        "host=127.0.0.1 port={} user={APP} password={APP_PASSWORD} dbname={APP}",
        proxy.addr.port()
    );
    let (early, conn) = tokio_postgres::connect(&connstr, NoTls).await.unwrap();
    tokio::spawn(conn);
    early.simple_query("SELECT 1").await.unwrap();
    assert_eq!(app_backends_use_tls(&pg).await, Some(false));

    let reload = |toml: String| {
        let handle = proxy.reload.clone();
        async move {
            handle
                .reload(config::Config::from_toml_str(&toml).unwrap())
                .await
        }
    };
    // A CA file that is not there: refused, nothing changes.
    let missing = database_tls("verify-ca", Some(&files.path("missing.crt")));
    let err = reload(proxy.toml.replace(&plain, &missing))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("tls_ca_file"), "{err:#}");
    early.simple_query("SELECT 1").await.unwrap();
    assert_eq!(app_backends_use_tls(&pg).await, Some(false));

    // verify-ca and client TLS at once.
    let (cert, key) = (files.path("cert"), files.path("key"));
    let issued = ca.issue(&["localhost"]);
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    std::fs::write(&key, &issued.key_pem).unwrap();
    let verified = database_tls("verify-ca", Some(&ca_file));
    let both = proxy.toml.replace(&plain, &verified) + &proxy_tls(&cert, &key, false);
    let kept = reload(both).await.unwrap();
    assert!(kept.is_empty(), "{kept:?}");

    // The client from before carries on, now over an encrypted server connection; the
    // plaintext ones (the monitor's included) are replaced.
    early.simple_query("SELECT 1").await.unwrap();
    let mut all_tls = false;
    for _ in 0..50 {
        all_tls = app_backends_use_tls(&pg).await == Some(true);
        if all_tls {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(all_tls, "plaintext server connections are left");
    let over_tls = tokio_postgres_tls(proxy.addr, ca.roots(), &[], "sslmode=require")
        .await
        .unwrap();
    let row = over_tls.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
}
