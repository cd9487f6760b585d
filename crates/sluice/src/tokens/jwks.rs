//! An issuer's public keys: a JSON Web Key Set from a file, or from a URL fetched at startup
//! and then every `jwks_refresh` so the issuer can rotate its keys.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};

use super::TokenRefusal;

/// A JWKS larger than this is refused: real ones hold a handful of keys.
const MAX_JWKS_BYTES: usize = 1 << 20;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a JSON Web Key Set ({0})")]
    NotJwks(String),
    #[error("no usable key in the set (RSA, P-256 or Ed25519 public keys are)")]
    NoUsableKeys,
    #[error("fetching {url} failed: {cause}")]
    Fetch { url: String, cause: String },
}

/// One usable public key.
struct Key {
    kid: Option<String>,
    algorithm: Algorithm,
    decoding: DecodingKey,
}

/// The current keys of one issuer. Read at every token login and replaced whole by the
/// refresher: a std RwLock, held only to clone the Arc, never across an await.
#[derive(Default)]
pub(crate) struct KeySet {
    keys: RwLock<Option<Arc<Vec<Key>>>>,
}

impl KeySet {
    pub(crate) fn from_file(path: &Path) -> Result<KeySet, JwksError> {
        let bytes = std::fs::read(path).map_err(|source| JwksError::Read {
            path: path.to_owned(),
            source,
        })?;
        let set = KeySet::default();
        set.replace(parse(&bytes)?);
        Ok(set)
    }

    fn replace(&self, keys: Vec<Key>) {
        *self.keys.write().expect("no panics while holding it") = Some(Arc::new(keys));
    }

    /// Checks `token` with the key its header names (or every key of its algorithm when it
    /// names none), returning its claims.
    pub(crate) fn verify(
        &self,
        token: &str,
        header: &Header,
        validation: &Validation,
    ) -> Result<serde_json::Map<String, serde_json::Value>, TokenRefusal> {
        let keys = self
            .keys
            .read()
            .expect("no panics while holding it")
            .clone()
            .ok_or(TokenRefusal::KeysUnavailable)?;
        let mut candidates = keys
            .iter()
            .filter(|k| k.algorithm == header.alg && (header.kid.is_none() || k.kid == header.kid));
        let first = candidates.next().ok_or(TokenRefusal::NoMatchingKey)?;
        let mut outcome = decode(token, &first.decoding, validation);
        for key in candidates {
            if !matches!(outcome, Err(TokenRefusal::BadSignature)) {
                break;
            }
            outcome = decode(token, &key.decoding, validation);
        }
        outcome
    }
}

fn decode(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<serde_json::Map<String, serde_json::Value>, TokenRefusal> {
    jsonwebtoken::decode(token, key, validation)
        .map(|data| data.claims)
        .map_err(|e| TokenRefusal::from_jwt(&e))
}

/// The usable keys of a JWKS document; keys of other types are skipped, not errors.
fn parse(bytes: &[u8]) -> Result<Vec<Key>, JwksError> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let doc: Document =
        serde_json::from_slice(bytes).map_err(|e| JwksError::NotJwks(e.to_string()))?;
    let keys: Vec<Key> = doc.keys.into_iter().filter_map(usable_key).collect();
    match keys.is_empty() {
        true => Err(JwksError::NoUsableKeys),
        false => Ok(keys),
    }
}

fn usable_key(value: serde_json::Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    // A key that names its algorithm is used for that one only.
    if let Some(named) = jwk.common.key_algorithm {
        if named.to_string() != format!("{algorithm:?}") {
            return None;
        }
    }
    Some(Key {
        kid: jwk.common.key_id.clone(),
        algorithm,
        decoding: DecodingKey::from_jwk(&jwk).ok()?,
    })
}

/// Fetches `url` now (waiting at most the fetch timeout, so a down identity provider does not
/// stop Sluice from starting) and then every `refresh` until the key set is dropped. A failed
/// fetch keeps the keys already loaded.
pub(crate) async fn fetch_and_refresh(url: String, refresh: Duration) -> Arc<KeySet> {
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .redirect(https_redirects_only())
        .build()
        .expect("a client with rustls and a timeout builds");
    let set = Arc::new(KeySet::default());
    refresh_once(&client, &url, &set).await;
    tokio::spawn(refresh_loop(client, url, refresh, Arc::downgrade(&set)));
    set
}

/// A redirect may not take the fetch off https (the keys would cross the network readable).
fn https_redirects_only() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.url().scheme() == "https" && attempt.previous().len() < MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

async fn refresh_loop(client: reqwest::Client, url: String, every: Duration, set: Weak<KeySet>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(set) = set.upgrade() else {
            return;
        };
        refresh_once(&client, &url, &set).await;
    }
}

async fn refresh_once(client: &reqwest::Client, url: &str, set: &KeySet) {
    match fetch(client, url).await {
        Ok(keys) => {
            tracing::debug!(url, keys = keys.len(), "JWKS loaded");
            set.replace(keys);
        }
        Err(e) => tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys loaded before"),
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<Key>, JwksError> {
    let failed = |cause: String| JwksError::Fetch {
        url: url.to_owned(),
        cause,
    };
    let mut response = client
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| failed(e.to_string()))?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(failed(format!(
                "the key set is larger than {MAX_JWKS_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    parse(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_keys_it_cannot_use() {
        let doc = br#"{"keys": [
            {"kty": "oct", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "one",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]}"#;
        let keys = parse(doc).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("one"));
        assert_eq!(keys[0].algorithm, Algorithm::EdDSA);
    }

    #[test]
    fn refuses_documents_without_usable_keys() {
        assert!(matches!(
            parse(b"{\"keys\": []}"),
            Err(JwksError::NoUsableKeys)
        ));
        assert!(matches!(parse(b"[]"), Err(JwksError::NotJwks(_))));
    }
}
