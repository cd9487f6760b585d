//! Tokens Sluice signs itself (`sluice token`): a JWT with alg EdDSA, iss and aud "sluice",
//! sub the user, and a short expiry, for a deploy pipeline to hand to its jobs.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use config::{Config, SELF_ISSUER};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use zeroize::Zeroizing;

use super::SigningKey;

/// A signed token. A bearer credential until it expires: never printed by `Debug`.
pub struct IssuedToken(Zeroizing<String>);

impl IssuedToken {
    /// The token, to hand to a client. Named loudly so every use is easy to find.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssuedToken(<redacted>)")
    }
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: u64,
    exp: u64,
}

/// Signs a token for `user`, valid for `ttl`, with the key in `[tokens] signing_key_file`.
/// Refuses users Sluice would not accept it for.
pub fn issue_token(config: &Config, user: &str, ttl: Duration) -> anyhow::Result<IssuedToken> {
    let Some(path) = &config.tokens.signing_key_file else {
        bail!("[tokens] signing_key_file is not set: Sluice has no key to sign tokens with");
    };
    let Some(entry) = config.user(user) else {
        bail!("unknown user {user:?}: tokens are only issued for users in [[users]]");
    };
    if !entry.token_auth.accepts_tokens() {
        bail!(
            "user {user:?} has token_auth = \"disabled\", so Sluice would refuse the token: \
             set it to \"optional\" or \"required\""
        );
    }
    if ttl.is_zero() {
        bail!("the token's lifetime must be greater than 0");
    }
    let key = SigningKey::load(path)?;
    sign(&key, user, ttl)
}

pub(crate) fn sign(key: &SigningKey, user: &str, ttl: Duration) -> anyhow::Result<IssuedToken> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    let claims = Claims {
        iss: SELF_ISSUER,
        aud: SELF_ISSUER,
        sub: user,
        iat: now,
        exp: now + ttl.as_secs().max(1),
    };
    // jsonwebtoken keeps its own copy of the key bytes for the call, which it does not wipe;
    // the copy lives only for this function, in a short-lived command.
    let encoding = EncodingKey::from_ed_der(key.pkcs8());
    let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &encoding)
        .context("signing the token failed")?;
    Ok(IssuedToken(Zeroizing::new(token)))
}
