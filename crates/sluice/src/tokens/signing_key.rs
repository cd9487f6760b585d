//! Sluice's own Ed25519 signing key, read from a PKCS#8 PEM file
//! (`openssl genpkey -algorithm ed25519`).

use std::fmt;
use std::path::{Path, PathBuf};

use ring::signature::{Ed25519KeyPair, KeyPair};
use zeroize::Zeroizing;

/// The private key as PKCS#8 DER. Never printed, and wiped from memory when dropped.
pub struct SigningKey {
    pkcs8: Zeroizing<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("tokens.signing_key_file: cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The reason never quotes the file: it holds a private key.
    #[error(
        "tokens.signing_key_file: {path} is not a PKCS#8 PEM Ed25519 private key ({reason}); \
         make one with: openssl genpkey -algorithm ed25519 -out {path}"
    )]
    Invalid { path: PathBuf, reason: &'static str },
}

const PEM_LABEL: &str = "PRIVATE KEY";

impl SigningKey {
    pub fn load(path: &Path) -> Result<SigningKey, SigningKeyError> {
        let text = Zeroizing::new(std::fs::read(path).map_err(|source| SigningKeyError::Read {
            path: path.to_owned(),
            source,
        })?);
        let invalid = |reason| SigningKeyError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let pem = pem_der(&text).ok_or(invalid("no PRIVATE KEY block"))?;
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pem)
            .map_err(|_| invalid("not an Ed25519 key"))?;
        Ok(SigningKey { pkcs8: pem })
    }

    /// The raw 32-byte public key, which verifies the tokens this key signs.
    pub fn public_key(&self) -> Vec<u8> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&self.pkcs8)
            .expect("checked when loaded")
            .public_key()
            .as_ref()
            .to_vec()
    }

    /// The PKCS#8 DER, for signing.
    pub(crate) fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
}

/// The DER inside the first `-----BEGIN PRIVATE KEY-----` block.
fn pem_der(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    use base64::Engine;
    let text = std::str::from_utf8(text).ok()?;
    let begin = format!("-----BEGIN {PEM_LABEL}-----");
    let end = format!("-----END {PEM_LABEL}-----");
    let body = text.split_once(&begin)?.1.split_once(&end)?.0;
    let b64: Zeroizing<String> = Zeroizing::new(body.split_whitespace().collect());
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .ok()
        .map(Zeroizing::new)
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_key(dir: &tempfile::TempDir) -> PathBuf {
        let rng = ring::rand::SystemRandom::new();
        let der = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let path = dir.path().join("sluice-token.pem");
        std::fs::write(
            &path,
            format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n"),
        )
        .unwrap();
        path
    }

    #[test]
    fn loads_pkcs8_and_never_prints_it() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::load(&write_key(&dir)).unwrap();
        assert_eq!(key.public_key().len(), 32);
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn refuses_other_files_without_quoting_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-key.pem");
        std::fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = SigningKey::load(&path).unwrap_err().to_string();
        assert!(e.contains("not an Ed25519 key"), "{e}");
        assert!(!e.contains("c2VjcmV0"), "{e}");
        assert!(e.contains("openssl genpkey -algorithm ed25519"), "{e}");
    }
}
