//! Checks a token presented as a password: signature, issuer, audience, expiry and
//! not-before (with the configured skew), then whether it may log in as the user asked for.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use config::{Config, JwksSource, TokenIssuerConfig, SELF_ISSUER};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::jwks::{fetch_and_refresh, KeySet};
use super::peek::unverified_issuer;
use super::{SigningKey, TokenRefusal};

/// The algorithms accepted; anything else (HS*, none) is refused before any key is tried.
const ACCEPTED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// Every key Sluice trusts tokens from.
pub struct TokenVerifier {
    /// The public half of `[tokens] signing_key_file`.
    own: Option<DecodingKey>,
    issuers: Vec<Issuer>,
    skew: Duration,
}

struct Issuer {
    config: TokenIssuerConfig,
    keys: Arc<KeySet>,
}

/// Who a valid token says the client is, for the login's log line (no secret in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    pub issuer: String,
    /// The claim mapped to users, and its value (e.g. a service account).
    pub claim: String,
    pub value: String,
}

impl TokenVerifier {
    /// Loads the signing key and the key sets; a JWKS URL is fetched once here and then
    /// refreshed in the background.
    pub async fn load(config: &Config) -> anyhow::Result<TokenVerifier> {
        TokenVerifier::reload(config, None).await
    }

    /// [`TokenVerifier::load`] for a reload: files are read again (a key rotated in place is
    /// picked up), while a JWKS URL that `previous` already follows keeps its key set and
    /// refresher rather than being fetched again (a fetch failing just then would leave the
    /// issuer without keys until the next refresh).
    pub async fn reload(
        config: &Config,
        previous: Option<&TokenVerifier>,
    ) -> anyhow::Result<TokenVerifier> {
        let own = match &config.tokens.signing_key_file {
            Some(path) => Some(DecodingKey::from_ed_der(
                &SigningKey::load(path)?.public_key(),
            )),
            None => None,
        };
        let mut issuers = Vec::with_capacity(config.token_issuers.len());
        for (i, issuer) in config.token_issuers.iter().enumerate() {
            let keys = match &issuer.jwks {
                JwksSource::File(path) => Arc::new(
                    KeySet::from_file(path)
                        .with_context(|| format!("token_issuers[{i}].jwks_file"))?,
                ),
                JwksSource::Url { url, refresh } => {
                    let followed = previous
                        .into_iter()
                        .flat_map(|p| &p.issuers)
                        .find(|p| p.config.jwks == issuer.jwks);
                    match followed {
                        Some(followed) => followed.keys.clone(),
                        None => fetch_and_refresh(url.clone(), *refresh).await,
                    }
                }
            };
            issuers.push(Issuer {
                config: issuer.clone(),
                keys,
            });
        }
        Ok(TokenVerifier {
            own,
            issuers,
            skew: config.tokens.skew,
        })
    }

    /// Loads the signing key and every JWKS file without starting anything, for `sluice
    /// check`; a JWKS URL is not fetched.
    pub fn check_files(config: &Config) -> anyhow::Result<()> {
        if let Some(path) = &config.tokens.signing_key_file {
            SigningKey::load(path)?;
        }
        for (i, issuer) in config.token_issuers.iter().enumerate() {
            if let JwksSource::File(path) = &issuer.jwks {
                KeySet::from_file(path).with_context(|| format!("token_issuers[{i}].jwks_file"))?;
            }
        }
        Ok(())
    }

    /// Ok when `token` is valid now and may log in as `user`.
    pub fn verify(&self, token: &str, user: &str) -> Result<TokenIdentity, TokenRefusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRefusal::Malformed)?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(TokenRefusal::Algorithm);
        }
        let issuer = unverified_issuer(token).ok_or(TokenRefusal::NoIssuer)?;
        if issuer == SELF_ISSUER {
            return self.verify_own(token, &header, user);
        }
        let Some(trusted) = self.issuers.iter().find(|i| i.config.issuer == issuer) else {
            return Err(TokenRefusal::UnknownIssuer(issuer));
        };
        let validation = self.validation(header.alg, &issuer, &trusted.config.audience);
        let claims = trusted.keys.verify(token, &header, &validation)?;
        let claim = &trusted.config.claim;
        let value = claim_str(&claims, claim)?;
        match trusted.config.allows(value, user) {
            true => Ok(TokenIdentity {
                issuer,
                claim: claim.clone(),
                value: value.to_owned(),
            }),
            false => Err(TokenRefusal::WrongUser {
                claim: claim.clone(),
            }),
        }
    }

    fn verify_own(
        &self,
        token: &str,
        header: &Header,
        user: &str,
    ) -> Result<TokenIdentity, TokenRefusal> {
        let key = self
            .own
            .as_ref()
            .ok_or_else(|| TokenRefusal::UnknownIssuer(SELF_ISSUER.to_owned()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenRefusal::Algorithm);
        }
        let validation = self.validation(Algorithm::EdDSA, SELF_ISSUER, SELF_ISSUER);
        let claims: Map<String, Value> = jsonwebtoken::decode(token, key, &validation)
            .map_err(|e| TokenRefusal::from_jwt(&e))?
            .claims;
        match claim_str(&claims, "sub")? == user {
            true => Ok(TokenIdentity {
                issuer: SELF_ISSUER.into(),
                claim: "sub".into(),
                value: user.into(),
            }),
            false => Err(TokenRefusal::WrongUser {
                claim: "sub".into(),
            }),
        }
    }

    fn validation(&self, alg: Algorithm, issuer: &str, audience: &str) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = self.skew.as_secs();
        v.validate_nbf = true;
        v.set_issuer(&[issuer]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v
    }
}

fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<&'a str, TokenRefusal> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| TokenRefusal::MissingClaim(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::issue::sign;

    /// A verifier trusting only its own key, with no skew, and that key.
    fn own_only() -> (TokenVerifier, SigningKey, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let rng = ring::rand::SystemRandom::new();
        let der = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let path = dir.path().join("k.pem");
        std::fs::write(
            &path,
            format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n"),
        )
        .unwrap();
        let key = SigningKey::load(&path).unwrap();
        let verifier = TokenVerifier {
            own: Some(DecodingKey::from_ed_der(&key.public_key())),
            issuers: Vec::new(),
            skew: Duration::ZERO,
        };
        (verifier, key, dir)
    }

    #[test]
    fn own_tokens_log_in_their_user_only() {
        let (verifier, key, _dir) = own_only();
        let token = sign(&key, "app", Duration::from_secs(60)).unwrap();
        let identity = verifier.verify(token.expose(), "app").unwrap();
        assert_eq!(
            (identity.issuer.as_str(), identity.value.as_str()),
            ("sluice", "app")
        );
        assert_eq!(
            verifier.verify(token.expose(), "admin"),
            Err(TokenRefusal::WrongUser {
                claim: "sub".into()
            })
        );
        assert_eq!(format!("{token:?}"), "IssuedToken(<redacted>)");
    }

    #[test]
    fn another_keys_token_is_a_bad_signature() {
        let (verifier, _, _dir) = own_only();
        let (_, other_key, _dir2) = own_only();
        let token = sign(&other_key, "app", Duration::from_secs(60)).unwrap();
        assert_eq!(
            verifier.verify(token.expose(), "app"),
            Err(TokenRefusal::BadSignature)
        );
    }

    #[test]
    fn unknown_issuers_and_algorithms_are_refused_before_any_key() {
        let (verifier, _, _dir) = own_only();
        let hs256 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"iss": "sluice", "aud": "sluice", "sub": "app", "exp": 4_000_000_000u64}),
            &jsonwebtoken::EncodingKey::from_secret(b"guess"),
        )
        .unwrap();
        assert_eq!(verifier.verify(&hs256, "app"), Err(TokenRefusal::Algorithm));
        let (_, key, _dir2) = own_only();
        let foreign = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &serde_json::json!({"iss": "https://idp", "aud": "x", "sub": "app", "exp": 4_000_000_000u64}),
            &jsonwebtoken::EncodingKey::from_ed_der(key.pkcs8()),
        )
        .unwrap();
        assert_eq!(
            verifier.verify(&foreign, "app"),
            Err(TokenRefusal::UnknownIssuer("https://idp".into()))
        );
        assert_eq!(
            verifier.verify("a.b.c", "app"),
            Err(TokenRefusal::Malformed)
        );
    }
}
