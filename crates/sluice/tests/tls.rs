//! TLS between clients and Sluice, against real PostgreSQL 15 and real clients (psql/libpq,
//! tokio-postgres with rustls): SCRAM-SHA-256-PLUS, require_tls, the SSLRequest buffering
//! attack, certificate reload (API and SIGHUP), direct TLS with ALPN, min_version.
//! Sluice to PostgreSQL is in tls_upstream.rs.
#![allow(clippy::unwrap_used)]

mod tls_support;

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::ServerName;
use test_support::{HbaAuth, RawConn};
use tls_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::NoTls;
use tokio_rustls::TlsConnector;

/// Sluice with a certificate for localhost/127.0.0.1 from `ca`, in front of a plain cluster.
struct ClientSide {
    ca: Ca,
    files: Files,
    _pg: test_support::PgCluster,
    sluice: Sluice,
}

async fn client_side(require_tls: bool) -> ClientSide {
    let ca = Ca::new("Sluice test CA");
    let files = Files::new();
    let issued = ca.issue(&["localhost", "127.0.0.1"]);
    let cert = files.write("sluice.crt", &issued.cert_pem);
    let key = files.write("sluice.key", &issued.key_pem);
    files.write("ca.crt", &ca.pem());
    let pg = cluster(HbaAuth::ScramSha256, None).await;
    let sluice = sluice(&pg.addr(), "", &proxy_tls(&cert, &key, require_tls)).await;
    ClientSide {
        ca,
        files,
        _pg: pg,
        sluice,
    }
}

/// psql through Sluice as `app`.
async fn psql(side: &ClientSide, conninfo: &str) -> std::process::Output {
    let addr = side.sluice.addr;
    tls_support::psql(addr, APP, APP_PASSWORD, conninfo, "SELECT 'through sluice'").await
}

#[tokio::test]
async fn psql_verify_full_with_channel_binding_required() {
    let side = client_side(false).await;
    let root = side.files.path("ca.crt");
    let out = psql(
        &side,
        &format!(
            "sslmode=verify-full sslrootcert={} channel_binding=require",
            root.display()
        ),
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "psql failed: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "through sluice"
    );

    // sslmode=require (no verification) works too.
    let out = psql(&side, "sslmode=require").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A client that trusts another CA refuses Sluice's certificate.
    let other = side
        .files
        .write("other-ca.crt", &Ca::new("someone else").pem());
    let out = psql(
        &side,
        &format!("sslmode=verify-full sslrootcert={}", other.display()),
    )
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("certificate verify failed"));
}

#[tokio::test]
async fn tokio_postgres_rustls_with_channel_binding_required() {
    let side = client_side(false).await;
    // tokio-postgres refuses to log in without SCRAM-SHA-256-PLUS when binding is required.
    let client = tokio_postgres_tls(
        side.sluice.addr,
        side.ca.roots(),
        &[],
        "sslmode=require channel_binding=require",
    )
    .await
    .unwrap();
    let row = client.query_one("SELECT 40 + 2", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    // A wrong password is still refused over TLS, with the usual error.
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_config(side.ca.roots(), &[]));
    let connstr = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user={APP} password=wrong dbname={APP} \
         sslmode=require channel_binding=require",
        side.sluice.addr.port()
    );
    let err = tokio_postgres::connect(&connstr, tls).await.err().unwrap();
    assert_eq!(db_error(&err).0, "28P01");
}

#[tokio::test]
async fn plaintext_client_refused_when_tls_is_required() {
    let side = client_side(true).await;
    let connstr = format!(
        "host=127.0.0.1 port={} user={APP} password={APP_PASSWORD} dbname={APP}",
        side.sluice.addr.port()
    );
    let err = tokio_postgres::connect(&connstr, NoTls)
        .await
        .err()
        .unwrap();
    let (code, message) = db_error(&err);
    assert_eq!(code, "28000");
    assert!(message.contains("TLS is required"), "{message}");

    // Refused before any password is asked: the first reply to the startup message is the
    // error, not an authentication request.
    let mut raw = RawConn::connect(&side.sluice.addr.to_string())
        .await
        .unwrap();
    raw.send(&test_support::raw::startup_message(&[("user", APP)]))
        .await
        .unwrap();
    let (tag, body) = raw.recv().await.unwrap().unwrap();
    assert_eq!(tag, b'E');
    let fields = test_support::raw::error_fields(&body);
    assert!(fields.contains(&(b'C', "28000".to_owned())), "{fields:?}");

    // The same client with TLS gets in.
    let out = psql(&side, "sslmode=require").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn bytes_after_ssl_request_are_refused_not_read_as_the_session() {
    let side = client_side(false).await;
    // SSLRequest and a StartupMessage in one write: the startup message was sent in
    // plaintext and must never count as sent over TLS.
    let mut packet = ssl_request();
    packet.extend(test_support::raw::startup_message(&[("user", APP)]));
    let mut raw = RawConn::connect(&side.sluice.addr.to_string())
        .await
        .unwrap();
    raw.send(&packet).await.unwrap();
    let (tag, body) = raw.recv().await.unwrap().unwrap();
    assert_eq!(tag, b'E', "expected an error instead of 'S'");
    let fields = test_support::raw::error_fields(&body);
    assert!(fields.contains(&(b'C', "08P01".to_owned())), "{fields:?}");
    assert!(raw.recv().await.unwrap().is_none(), "connection must close");
    // Nothing reached PostgreSQL on that client's behalf.
    let admin = side._pg.superuser().await.unwrap();
    let row = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE usename = $1 AND application_name <> 'sluice-monitor'",
            &[&APP],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 0);
}

#[tokio::test]
async fn certificate_reload_serves_new_connections_and_keeps_old_sessions() {
    let side = client_side(false).await;
    let first = std::fs::read_to_string(side.files.path("sluice.crt")).unwrap();
    let first_der = rustls::pki_types::CertificateDer::from_pem_slice(first.as_bytes()).unwrap();
    assert_eq!(
        served_certificate(side.sluice.addr, side.ca.roots()).await,
        first_der.to_vec()
    );
    let old_session = tokio_postgres_tls(side.sluice.addr, side.ca.roots(), &[], "sslmode=require")
        .await
        .unwrap();
    old_session.simple_query("SELECT 1").await.unwrap();

    let second = side.ca.issue(&["localhost", "127.0.0.1"]);
    side.files.write("sluice.crt", &second.cert_pem);
    side.files.write("sluice.key", &second.key_pem);
    let reloader = &side.sluice.reloader;
    reloader.reload().unwrap();
    assert_eq!(
        served_certificate(side.sluice.addr, side.ca.roots()).await,
        second.der
    );
    // The session that started with the first certificate goes on.
    let row = old_session.query_one("SELECT 7", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 7);

    // A broken key file is refused and the second certificate stays.
    side.files
        .write("sluice.key", "-----BEGIN PRIVATE KEY-----\nnot a key\n");
    let err = reloader.reload().unwrap_err().to_string();
    assert!(err.contains("sluice.key"), "{err}");
    assert!(
        !err.contains("not a key"),
        "key file contents must not be shown: {err}"
    );
    // So is a key that belongs to another certificate.
    side.files
        .write("sluice.key", &side.ca.issue(&["x"]).key_pem);
    let err = reloader.reload().unwrap_err().to_string();
    assert!(err.contains("does not belong"), "{err}");
    assert_eq!(
        served_certificate(side.sluice.addr, side.ca.roots()).await,
        second.der
    );
    let client = tokio_postgres_tls(side.sluice.addr, side.ca.roots(), &[], "sslmode=require")
        .await
        .unwrap();
    client.simple_query("SELECT 1").await.unwrap();
}

/// The real binary: SIGHUP reloads the certificate, a bad file is refused with a log line
/// (naming the file, not its contents) and the old certificate stays.
#[tokio::test]
async fn sighup_reloads_the_certificate_in_the_binary() {
    let ca = Ca::new("Sluice test CA");
    let files = Files::new();
    let first = ca.issue(&["localhost"]);
    let cert = files.write("sluice.crt", &first.cert_pem);
    let key = files.write("sluice.key", &first.key_pem);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = files.write(
        "sluice.toml",
        &format!(
            "[proxy]\nlisten = \"127.0.0.1:{port}\"\n\n[database]\nhosts = [\"127.0.0.1:9\"]\n\n\
             [[users]]\nname = \"{APP}\"\npassword = \"{APP_PASSWORD}\"\n\n{}",
            proxy_tls(&cert, &key, false)
        ),
    );
    let log = std::fs::File::create(files.path("sluice.log")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("--config")
        .arg(&config)
        .stderr(log)
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let up = eventually(|| async { TcpStream::connect(addr).await.is_ok() }).await;
    assert!(up, "sluice did not start listening");
    assert_eq!(served_certificate(addr, ca.roots()).await, first.der);

    let hangup = |pid: u32| {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let second = ca.issue(&["localhost"]);
    files.write("sluice.crt", &second.cert_pem);
    files.write("sluice.key", &second.key_pem);
    hangup(child.id());
    let reloaded =
        eventually(|| async { served_certificate(addr, ca.roots()).await == second.der }).await;
    assert!(reloaded, "SIGHUP did not reload the certificate");

    files.write("sluice.key", "-----BEGIN PRIVATE KEY-----\nnot a key\n");
    hangup(child.id());
    let logged = eventually(|| async {
        let log = std::fs::read_to_string(files.path("sluice.log")).unwrap();
        log.contains("TLS certificate not reloaded")
    })
    .await;
    assert!(logged, "no log line for the refused reload");
    assert_eq!(served_certificate(addr, ca.roots()).await, second.der);
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP must not stop Sluice"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(files.path("sluice.log")).unwrap();
    assert!(log.contains("sluice.key"), "{log}");
    assert!(
        !log.contains("not a key") && !log.contains("BEGIN"),
        "{log}"
    );
}

/// Polls `check` for up to 10 s.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn direct_tls_with_alpn_postgresql() {
    let side = client_side(true).await;
    // tokio-postgres with sslnegotiation=direct: a ClientHello first, no SSLRequest.
    let client = tokio_postgres_tls(
        side.sluice.addr,
        side.ca.roots(),
        &[b"postgresql"],
        "sslmode=require sslnegotiation=direct channel_binding=require",
    )
    .await
    .unwrap();
    let row = client.query_one("SELECT 'direct'", &[]).await.unwrap();
    assert_eq!(row.get::<_, &str>(0), "direct");

    // By hand: the handshake selects ALPN "postgresql", then the startup message goes
    // over TLS and SCRAM-SHA-256-PLUS is offered.
    let mut tls = direct_tls(&side, &[b"postgresql"]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"postgresql"[..]));
    let startup = test_support::raw::startup_message(&[("user", APP), ("database", APP)]);
    tls.write_all(&startup).await.unwrap();
    let mut reply = vec![0u8; 64];
    let n = tls.read(&mut reply).await.unwrap();
    assert_eq!(reply[0], b'R', "expected AuthenticationSASL");
    assert!(String::from_utf8_lossy(&reply[..n]).contains("SCRAM-SHA-256-PLUS"));
}

#[tokio::test]
async fn direct_tls_without_alpn_is_refused() {
    let side = client_side(false).await;
    // The handshake may finish on the client's side before the server checks ALPN; either
    // way the connection ends without a reply to the startup message.
    if let Ok(mut tls) = direct_tls(&side, &[]).await {
        let startup = test_support::raw::startup_message(&[("user", APP)]);
        let _ = tls.write_all(&startup).await;
        let mut reply = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut reply))
            .await
            .expect("Sluice closes the connection");
        assert!(matches!(read, Ok(0) | Err(_)), "got a reply: {read:?}");
    }
    // Another ALPN protocol fails the handshake itself.
    assert!(direct_tls(&side, &[b"http/1.1"]).await.is_err());
}

async fn direct_tls(
    side: &ClientSide,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(side.sluice.addr).await?;
    let connector = TlsConnector::from(Arc::new(client_config(side.ca.roots(), alpn)));
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

// ---- SCRAM-SHA-256-PLUS by hand, over TLS ----

async fn read_message<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> (u8, Vec<u8>) {
    let tag = stream.read_u8().await.unwrap();
    let len = stream.read_u32().await.unwrap() as usize;
    let mut body = vec![0u8; len - 4];
    stream.read_exact(&mut body).await.unwrap();
    (tag, body)
}

fn sqlstate_of(body: &[u8]) -> String {
    let fields = test_support::raw::error_fields(body);
    fields
        .into_iter()
        .find(|(code, _)| *code == b'C')
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// Logs in over direct TLS with `binding`; returns the SQLSTATE of the refusal, or "" when
/// Sluice sent AuthenticationOk.
async fn scram_over_tls(side: &ClientSide, binding: pgwire::auth::ClientBinding) -> String {
    use bytes::BytesMut;
    let mut tls = direct_tls(side, &[b"postgresql"]).await.unwrap();
    let startup = test_support::raw::startup_message(&[("user", APP), ("database", APP)]);
    tls.write_all(&startup).await.unwrap();
    let (tag, body) = read_message(&mut tls).await;
    assert_eq!(tag, b'R');
    assert!(String::from_utf8_lossy(&body).contains("SCRAM-SHA-256-PLUS"));

    let mut client = pgwire::auth::ScramClient::with_binding(APP_PASSWORD, binding);
    let mut out = BytesMut::new();
    pgwire::encode::sasl_initial_response(&mut out, client.mechanism(), &client.client_first());
    tls.write_all(&out).await.unwrap();
    let (tag, body) = read_message(&mut tls).await;
    if tag == b'E' {
        return sqlstate_of(&body);
    }
    assert_eq!(&body[..4], &11i32.to_be_bytes(), "expected SASLContinue");
    let client_final = client.server_first(&body[4..]).unwrap();
    out.clear();
    pgwire::encode::sasl_response(&mut out, &client_final);
    tls.write_all(&out).await.unwrap();
    let (tag, body) = read_message(&mut tls).await;
    if tag == b'E' {
        return sqlstate_of(&body);
    }
    assert_eq!(&body[..4], &12i32.to_be_bytes(), "expected SASLFinal");
    client.server_final(&body[4..]).unwrap();
    let (tag, body) = read_message(&mut tls).await;
    assert_eq!((tag, &body[..4]), (b'R', &0i32.to_be_bytes()[..]));
    String::new()
}

#[tokio::test]
async fn scram_plus_checks_the_binding_and_refuses_a_downgrade() {
    use pgwire::auth::ClientBinding;
    use sha2::Digest;
    let side = client_side(false).await;
    // The binding data a client computes from the certificate it was shown (ECDSA with
    // SHA-256, so SHA-256 of the DER).
    let shown = served_certificate(side.sluice.addr, side.ca.roots()).await;
    let right = sha2::Sha256::digest(&shown).to_vec();
    assert_eq!(
        scram_over_tls(&side, ClientBinding::TlsServerEndPoint(right)).await,
        ""
    );
    // A man in the middle with another certificate: the client hashes that one.
    let other = side.ca.issue(&["localhost"]).der;
    let wrong = sha2::Sha256::digest(&other).to_vec();
    assert_eq!(
        scram_over_tls(&side, ClientBinding::TlsServerEndPoint(wrong)).await,
        "28P01"
    );
    // 'y': the client could bind but did not see PLUS offered, yet Sluice offered it.
    assert_eq!(
        scram_over_tls(&side, ClientBinding::ServerDidNotOffer).await,
        "28P01"
    );
    // A client that cannot bind at all ('n') still logs in over TLS.
    assert_eq!(scram_over_tls(&side, ClientBinding::NotSupported).await, "");
}

#[tokio::test]
async fn min_version_refuses_older_tls() {
    let ca = Ca::new("Sluice test CA");
    let files = Files::new();
    let issued = ca.issue(&["localhost"]);
    let cert = files.write("sluice.crt", &issued.cert_pem);
    let key = files.write("sluice.key", &issued.key_pem);
    let pg = cluster(HbaAuth::ScramSha256, None).await;
    let tables = format!("{}min_version = \"1.3\"\n", proxy_tls(&cert, &key, false));
    let proxy = sluice(&pg.addr(), "", &tables).await;
    let handshake = |versions: &'static [&'static rustls::SupportedProtocolVersion]| {
        let roots = ca.roots();
        async move {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"postgresql".to_vec()];
            let tcp = TcpStream::connect(proxy.addr).await.unwrap();
            TlsConnector::from(Arc::new(config))
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .map(|_| ())
        }
    };
    static TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
    static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    assert!(handshake(TLS12_ONLY).await.is_err());
    assert!(handshake(TLS13_ONLY).await.is_ok());
}
