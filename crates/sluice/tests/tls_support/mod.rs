//! Certificates made on the spot (rcgen), PostgreSQL clusters that serve them, Sluice
//! instances with TLS settings, and TLS clients that show what they were served.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use sluice::{CertificateReloader, Proxy, ReloadHandle, ShutdownHandle};
use test_support::{ClusterOptions, ClusterTls, HbaAuth, PgCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub const APP: &str = "app";
pub const APP_PASSWORD: &str = "app-secret-pw";

/// A certificate authority that issues server certificates.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

/// A PEM certificate and its key.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn issue(&self, names: &[&str]) -> Issued {
        let key = KeyPair::generate().unwrap();
        let sans: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }
}

/// Files in a temp dir that lives as long as this.
pub struct Files {
    pub dir: tempfile::TempDir,
}

impl Files {
    pub fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A cluster with the `app` user and database; TLS when `tls` is given.
pub async fn cluster(auth: HbaAuth, tls: Option<(&Issued, bool)>) -> PgCluster {
    let pg = PgCluster::start_with(ClusterOptions {
        auth,
        tls: tls.map(|(issued, tls_only)| ClusterTls {
            cert_pem: issued.cert_pem.clone(),
            key_pem: issued.key_pem.clone(),
            tls_only,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    pg.create_user(APP, APP_PASSWORD).await.unwrap();
    pg.create_database(APP, APP).await.unwrap();
    pg
}

/// A running Sluice.
pub struct Sluice {
    pub addr: SocketAddr,
    pub reloader: CertificateReloader,
    /// The configuration it was started with, and a handle to reload another.
    pub toml: String,
    pub reload: ReloadHandle,
    shutdown: ShutdownHandle,
}

impl Drop for Sluice {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

/// Sluice in front of `host`, with extra `[database]` lines and extra tables (e.g.
/// `[proxy.tls]`). Short borrow timeout: the failure tests wait for it.
pub async fn sluice(host: &str, database: &str, tables: &str) -> Sluice {
    let toml = format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
shutdown_timeout = "1s"

[database]
hosts = ["{host}"]
probe_interval = "200ms"
connection_borrow_timeout = "3s"
max_connections = 5
{database}

[[users]]
name = "{APP}"
password = "{APP_PASSWORD}"

[log]
filter = "warn"

{tables}
"#
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter("sluice=info")
        .with_test_writer()
        .try_init();
    let config = config::Config::from_toml_str(&toml).unwrap();
    let proxy = Proxy::bind(config).await.unwrap();
    let sluice = Sluice {
        addr: proxy.local_addr(),
        reloader: proxy.certificate_reloader(),
        toml,
        reload: proxy.reload_handle(),
        shutdown: proxy.shutdown_handle(),
    };
    tokio::spawn(proxy.run());
    sluice
}

/// The `[proxy.tls]` table for these files.
pub fn proxy_tls(cert: &Path, key: &Path, require_tls: bool) -> String {
    format!(
        "[proxy.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nrequire_tls = {require_tls}\n",
        cert.display(),
        key.display()
    )
}

/// A rustls client trusting `roots`, with ring, offering `alpn`.
pub fn client_config(roots: RootCertStore, alpn: &[&[u8]]) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// SSLRequest, 'S', handshake as "localhost": the certificate Sluice shows a new client.
pub async fn served_certificate(addr: SocketAddr, roots: RootCertStore) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&ssl_request()).await.unwrap();
    assert_eq!(tcp.read_u8().await.unwrap(), b'S');
    let connector = TlsConnector::from(Arc::new(client_config(roots, &[])));
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let chain: &[CertificateDer<'_>] = tls.get_ref().1.peer_certificates().unwrap();
    chain[0].to_vec()
}

pub fn ssl_request() -> Vec<u8> {
    let mut packet = 8u32.to_be_bytes().to_vec();
    packet.extend_from_slice(&80_877_103u32.to_be_bytes());
    packet
}

/// tokio-postgres over rustls through `addr`, as `app`, with extra conninfo.
pub async fn tokio_postgres_tls(
    addr: SocketAddr,
    roots: RootCertStore,
    alpn: &[&[u8]],
    extra: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_config(roots, alpn));
    let connstr = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user={APP} password={APP_PASSWORD} \
         dbname={APP} connect_timeout=10 {extra}",
        addr.port()
    );
    let (client, conn) = tokio_postgres::connect(&connstr, tls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// Whether `app`'s server connections from Sluice to `pg` are encrypted, as PostgreSQL sees
/// them (pg_stat_ssl); `None` when there are none.
pub async fn app_backends_use_tls(pg: &PgCluster) -> Option<bool> {
    let admin = pg.superuser().await.unwrap();
    let rows = admin
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.usename = $1",
            &[&APP],
        )
        .await
        .unwrap();
    let all: Vec<bool> = rows.iter().map(|r| r.get(0)).collect();
    match all.is_empty() {
        true => None,
        false => Some(all.iter().all(|&ssl| ssl)),
    }
}

/// SQLSTATE and message of a tokio-postgres error from the server (or Sluice).
pub fn db_error(e: &tokio_postgres::Error) -> (String, String) {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("expected a server error, got {e}"));
    (db.code().code().to_owned(), db.message().to_owned())
}

/// psql to Sluice at `addr` as `user` (libpq with `conninfo` added, e.g. sslmode), running
/// `sql`; on the blocking pool so Sluice keeps running meanwhile.
pub async fn psql(
    addr: SocketAddr,
    user: &str,
    password: &str,
    conninfo: &str,
    sql: &str,
) -> std::process::Output {
    let conninfo = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user={user} dbname={APP} {conninfo}",
        addr.port()
    );
    let (password, sql) = (password.to_owned(), sql.to_owned());
    tokio::task::spawn_blocking(move || {
        let args = ["-X", "-A", "-t", "-d", &conninfo, "-c", &sql];
        let timeout = std::time::Duration::from_secs(20);
        test_support::run_client("psql", &args, &password, timeout).unwrap()
    })
    .await
    .unwrap()
}
