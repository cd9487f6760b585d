//! TLS for clients: the rustls server configuration and the handshake.

use std::sync::Arc;

use config::{ProxyTlsConfig, TlsVersion};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::cert_store::{CertError, CertStore, LoadedCert};
use super::provider;

/// ALPN protocol id PostgreSQL 17 uses; required for direct TLS, checked if offered otherwise.
pub const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// Client-facing TLS: settings and the reloadable certificate.
pub struct ClientTls {
    base: Arc<ServerConfig>,
    pub store: Arc<CertStore>,
    pub require_tls: bool,
}

/// A finished handshake.
pub struct Accepted {
    pub stream: TlsStream<TcpStream>,
    /// Channel-binding data for SCRAM-SHA-256-PLUS, when the certificate allows it.
    pub end_point: Option<Vec<u8>>,
}

impl ClientTls {
    pub fn new(config: &ProxyTlsConfig) -> Result<ClientTls, CertError> {
        let provider = provider();
        let store = Arc::new(CertStore::load(
            &config.cert_file,
            &config.key_file,
            provider.clone(),
        )?);
        let versions: &[&rustls::SupportedProtocolVersion] = match config.min_version {
            TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            TlsVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let mut base = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Snapshot(store.current())));
        // A client that offers ALPN must offer "postgresql" (rustls then refuses the others).
        base.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
        Ok(ClientTls {
            base: Arc::new(base),
            store,
            require_tls: config.require_tls,
        })
    }

    /// Runs the handshake with the certificate current now. For direct TLS (no SSLRequest
    /// first) the client must have negotiated ALPN "postgresql", as PostgreSQL 17 requires:
    /// that proves it meant to speak PostgreSQL, not some other protocol sent to this port.
    pub async fn accept(&self, tcp: TcpStream, direct: bool) -> std::io::Result<Accepted> {
        let cert = self.store.current();
        let end_point = cert.end_point.clone();
        let mut config = (*self.base).clone();
        config.cert_resolver = Arc::new(Snapshot(cert));
        let stream = TlsAcceptor::from(Arc::new(config)).accept(tcp).await?;
        if direct && stream.get_ref().1.alpn_protocol() != Some(ALPN_POSTGRESQL) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "direct TLS connection without ALPN \"postgresql\"",
            ));
        }
        Ok(Accepted { stream, end_point })
    }
}

/// Always the one certificate taken for this handshake.
#[derive(Debug)]
struct Snapshot(Arc<LoadedCert>);

impl ResolvesServerCert for Snapshot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.key.clone())
    }
}
