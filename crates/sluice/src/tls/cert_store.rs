//! The certificate shown to clients, reloadable while the proxy runs.
//!
//! Each handshake takes a snapshot ([`CertStore::current`]) and keeps it for the connection,
//! so a reload changes what new connections see and never touches sessions already running;
//! the snapshot also carries the channel-binding hash of exactly the certificate sent.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::end_point::tls_server_end_point;

/// One loaded certificate chain with its key.
#[derive(Debug)]
pub struct LoadedCert {
    pub key: Arc<CertifiedKey>,
    /// tls-server-end-point data of the leaf; `None`: SCRAM-SHA-256-PLUS is not offered.
    pub end_point: Option<Vec<u8>>,
}

/// Why a certificate could not be loaded. Names files, never their contents.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: rustls_pki_types::pem::Error,
    },
    #[error("{0} holds no PEM certificate")]
    NoCertificate(PathBuf),
    #[error("the key in {path} is not usable: {cause}")]
    BadKey { path: PathBuf, cause: rustls::Error },
    #[error("the key in {key} does not belong to the certificate in {cert}: {cause}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        cause: rustls::Error,
    },
}

pub struct CertStore {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    // std RwLock: read once per handshake to clone an Arc, written only on reload.
    current: RwLock<Arc<LoadedCert>>,
}

impl CertStore {
    /// Loads both files; an error here stops the proxy from starting.
    pub fn load(
        cert_file: &Path,
        key_file: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<CertStore, CertError> {
        let loaded = load_pair(cert_file, key_file, &provider)?;
        Ok(CertStore {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            provider,
            current: RwLock::new(Arc::new(loaded)),
        })
    }

    /// The certificate for a new handshake.
    pub fn current(&self) -> Arc<LoadedCert> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-reads both files. On error the certificate in use stays, and the error says why.
    pub fn reload(&self) -> Result<(), CertError> {
        let loaded = load_pair(&self.cert_file, &self.key_file, &self.provider)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
        Ok(())
    }

    /// [`CertStore::reload`], with the outcome logged (paths only, never key material).
    pub fn reload_and_log(&self) {
        match self.reload() {
            Ok(()) => tracing::info!(
                cert_file = %self.cert_file.display(),
                "TLS certificate reloaded; new connections use it"
            ),
            Err(e) => tracing::error!(
                error = %e,
                "TLS certificate not reloaded; the previous one stays in use"
            ),
        }
    }
}

fn read_error(path: &Path) -> impl Fn(rustls_pki_types::pem::Error) -> CertError + '_ {
    move |cause| CertError::Read {
        path: path.to_owned(),
        cause,
    }
}

fn load_pair(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<LoadedCert, CertError> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(read_error(cert_file))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error(cert_file))?;
    let leaf = chain
        .first()
        .ok_or_else(|| CertError::NoCertificate(cert_file.to_owned()))?;
    let end_point = tls_server_end_point(leaf);
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(read_error(key_file))?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|cause| CertError::BadKey {
            path: key_file.to_owned(),
            cause,
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified
        .keys_match()
        .map_err(|cause| CertError::Mismatch {
            cert: cert_file.to_owned(),
            key: key_file.to_owned(),
            cause,
        })?;
    Ok(LoadedCert {
        key: Arc::new(certified),
        end_point,
    })
}
