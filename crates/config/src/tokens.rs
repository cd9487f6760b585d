//! Token authentication settings: `token_auth` per user, `[tokens]` (Sluice's own signing key
//! and the clock skew allowed) and `[[token_issuers]]` (OIDC / JWT identity providers whose
//! tokens clients may present as their password). Only paths and URLs live here; keys are read
//! when the proxy starts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Issuer and audience of the tokens Sluice signs itself (`sluice token`). Reserved: a
/// `[[token_issuers]]` entry may not use it.
pub const SELF_ISSUER: &str = "sluice";

/// In a `[[token_issuers]] users` map, this key matches any claim value, and this user name
/// stands for "the user named like the claim value".
pub const WILDCARD: &str = "*";

/// `token_auth` of a `[[users]]` table: whether the password field may carry a signed token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenAuth {
    /// Only the password (`"disabled"`). The default.
    #[default]
    Disabled,
    /// The password or a token (`"optional"`); over TLS only, as a cleartext password message.
    Optional,
    /// Only a token (`"required"`); the password is then only for Sluice's login to PostgreSQL.
    Required,
}

impl TokenAuth {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuth::Disabled => "disabled",
            TokenAuth::Optional => "optional",
            TokenAuth::Required => "required",
        }
    }

    /// Whether a token may log this user in.
    pub fn accepts_tokens(self) -> bool {
        self != TokenAuth::Disabled
    }

    pub(crate) const ALL: &'static [TokenAuth] = &[
        TokenAuth::Disabled,
        TokenAuth::Optional,
        TokenAuth::Required,
    ];
}

crate::model::display_as_str!(TokenAuth);

/// `[tokens]`: settings shared by every kind of token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokensConfig {
    /// PKCS#8 PEM Ed25519 private key that `sluice token` signs with; Sluice verifies its own
    /// tokens with the public half. `None`: Sluice issues no tokens and accepts none of its own.
    pub signing_key_file: Option<PathBuf>,
    /// How far `exp` and `nbf` may be off to allow for clocks that differ. Default 60s.
    pub skew: Duration,
}

impl Default for TokensConfig {
    fn default() -> Self {
        TokensConfig {
            signing_key_file: None,
            skew: DEFAULT_SKEW,
        }
    }
}

pub(crate) const DEFAULT_SKEW: Duration = Duration::from_secs(60);
pub(crate) const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(5 * 60);
pub(crate) const DEFAULT_CLAIM: &str = "sub";

/// `[[token_issuers]]`: an OIDC / JWT identity provider (Kubernetes service accounts, a cloud
/// or CI provider) whose tokens log users in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIssuerConfig {
    /// The `iss` claim its tokens carry, exactly.
    pub issuer: String,
    /// The `aud` its tokens must be for (one of theirs, when they list several).
    pub audience: String,
    /// Where its public keys (a JSON Web Key Set) come from.
    pub jwks: JwksSource,
    /// The claim naming the workload (`"sub"` by default); its value must be a string.
    pub claim: String,
    /// Claim value (or [`WILDCARD`] for any) to the users it may log in as ([`WILDCARD`]: the
    /// user named like the claim value). Never empty.
    pub users: BTreeMap<String, Vec<String>>,
}

impl TokenIssuerConfig {
    /// Whether a token whose claim is `claim_value` may log in as `user`.
    pub fn allows(&self, claim_value: &str, user: &str) -> bool {
        let listed = |key: &str| {
            self.users.get(key).is_some_and(|users| {
                users
                    .iter()
                    .any(|u| u == user || (u == WILDCARD && claim_value == user))
            })
        };
        listed(claim_value) || listed(WILDCARD)
    }
}

/// A JSON Web Key Set: a file read at startup, or a URL fetched at startup and then every
/// `refresh`, so the provider can rotate its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// `jwks_file`.
    File(PathBuf),
    /// `jwks_url` (https, or http to a loopback address) and `jwks_refresh` (default 5m).
    Url { url: String, refresh: Duration },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(users: &[(&str, &[&str])]) -> TokenIssuerConfig {
        TokenIssuerConfig {
            issuer: "https://idp".into(),
            audience: "sluice".into(),
            jwks: JwksSource::File("jwks.json".into()),
            claim: "sub".into(),
            users: users
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|u| u.to_string()).collect()))
                .collect(),
        }
    }

    #[test]
    fn exact_claim_values_map_to_their_users() {
        let i = issuer(&[("ci-job", &["app", "reporting"])]);
        assert!(i.allows("ci-job", "app"));
        assert!(i.allows("ci-job", "reporting"));
        assert!(!i.allows("ci-job", "admin"));
        assert!(!i.allows("other-job", "app"));
    }

    #[test]
    fn wildcards_match_any_value_or_the_same_name() {
        let same_name = issuer(&[("*", &["*"])]);
        assert!(same_name.allows("app", "app"));
        assert!(!same_name.allows("app", "reporting"));
        let anyone = issuer(&[("*", &["reporting"])]);
        assert!(anyone.allows("whoever", "reporting"));
        assert!(!anyone.allows("whoever", "app"));
    }
}
