//! TLS to PostgreSQL: the rustls client configuration for the configured tls_mode.

use std::path::Path;
use std::sync::Arc;

use config::{DatabaseConfig, ServerTlsMode};
use rustls::client::WebPkiServerVerifier;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::end_point::tls_server_end_point;
use super::provider;
use super::verifiers::{AcceptAnyServerCert, ChainOnlyVerifier};

/// Why the server-side TLS settings could not be set up (at startup).
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsSetupError {
    #[error("database.tls_ca_file: cannot read {path}: {cause}")]
    ReadCa {
        path: String,
        cause: rustls_pki_types::pem::Error,
    },
    #[error("database.tls_ca_file: {path} holds no usable CA certificate")]
    NoCa { path: String },
    #[error("database.tls_ca_file: {0}")]
    Verifier(String),
}

/// Sluice's TLS client side, one per target group.
pub struct ServerTls {
    pub mode: ServerTlsMode,
    /// `None` only for `disable`.
    connector: Option<TlsConnector>,
}

/// A TLS connection to PostgreSQL, ready for the startup message.
pub struct Secured {
    pub stream: TlsStream<TcpStream>,
    /// tls-server-end-point data of the server's certificate, for SCRAM-SHA-256-PLUS.
    pub end_point: Option<Vec<u8>>,
}

impl ServerTls {
    pub fn new(db: &DatabaseConfig) -> Result<ServerTls, ServerTlsSetupError> {
        let provider = provider();
        let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match db.tls_mode {
            ServerTlsMode::Disable => {
                return Ok(ServerTls {
                    mode: db.tls_mode,
                    connector: None,
                })
            }
            ServerTlsMode::Prefer | ServerTlsMode::Require => {
                Arc::new(AcceptAnyServerCert(provider.clone()))
            }
            ServerTlsMode::VerifyCa | ServerTlsMode::VerifyFull => {
                let ca = db
                    .tls_ca_file
                    .as_deref()
                    .expect("config validation requires tls_ca_file for verify modes");
                let roots = load_roots(ca)?;
                let full =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| ServerTlsSetupError::Verifier(e.to_string()))?;
                match db.tls_mode {
                    ServerTlsMode::VerifyCa => Arc::new(ChainOnlyVerifier(full)),
                    _ => full,
                }
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(ServerTls {
            mode: db.tls_mode,
            connector: Some(TlsConnector::from(Arc::new(config))),
        })
    }

    /// The handshake, after PostgreSQL answered 'S' to SSLRequest. `host` is the configured
    /// name (or address) that verify-full checks the certificate against.
    pub async fn handshake(&self, tcp: TcpStream, host: &str) -> std::io::Result<Secured> {
        let connector = self.connector.as_ref().ok_or_else(|| {
            std::io::Error::other("TLS handshake attempted with tls_mode = disable")
        })?;
        let name = ServerName::try_from(host.to_owned()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{host:?} is not a valid TLS server name"),
            )
        })?;
        let stream = connector.connect(name, tcp).await?;
        let end_point = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| tls_server_end_point(leaf));
        Ok(Secured { stream, end_point })
    }
}

fn load_roots(path: &Path) -> Result<RootCertStore, ServerTlsSetupError> {
    let shown = path.display().to_string();
    let read = |cause| ServerTlsSetupError::ReadCa {
        path: shown.clone(),
        cause,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ServerTlsSetupError::NoCa { path: shown });
    }
    Ok(roots)
}
