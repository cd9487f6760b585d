//! Validation of the token settings: `[tokens]`, `[[token_issuers]]`, and the cross-checks
//! between them and the users' `token_auth`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::model::UserConfig;
use crate::raw::{RawTokenIssuer, RawTokens};
use crate::tokens::{
    JwksSource, TokenIssuerConfig, TokensConfig, DEFAULT_CLAIM, DEFAULT_JWKS_REFRESH, DEFAULT_SKEW,
    SELF_ISSUER, WILDCARD,
};
use crate::validate::{any_duration, positive_duration, Checker};

impl Checker {
    pub(crate) fn tokens(&mut self, raw: RawTokens) -> TokensConfig {
        let signing_key_file = match raw.signing_key_file {
            Some(p) if p.trim().is_empty() => {
                self.problem("tokens.signing_key_file", "must not be empty");
                None
            }
            other => other.map(PathBuf::from),
        };
        TokensConfig {
            signing_key_file,
            skew: self
                .field("tokens.skew", raw.skew, DEFAULT_SKEW, any_duration)
                .unwrap_or(DEFAULT_SKEW),
        }
    }

    pub(crate) fn token_issuers(
        &mut self,
        raw: Vec<RawTokenIssuer>,
        users: &[UserConfig],
    ) -> Vec<TokenIssuerConfig> {
        let mut issuers: Vec<TokenIssuerConfig> = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let at = |key: &str| format!("token_issuers[{i}].{key}");
            let issuer = self.required_text(&at("issuer"), r.issuer, "the iss claim of its tokens");
            if issuer == SELF_ISSUER {
                self.problem(
                    at("issuer"),
                    format!(
                        "\"{SELF_ISSUER}\" is reserved for the tokens Sluice signs itself \
                         (set [tokens] signing_key_file for those)"
                    ),
                );
            } else if let Some(j) = issuers.iter().position(|prev| prev.issuer == issuer) {
                self.problem(
                    at("issuer"),
                    format!(
                        "duplicate issuer \"{issuer}\" (already defined at token_issuers[{j}])"
                    ),
                );
            }
            let audience =
                self.required_text(&at("audience"), r.audience, "the aud its tokens must carry");
            let jwks = self.jwks_source(i, r.jwks_file, r.jwks_url, r.jwks_refresh);
            let claim = match r.claim {
                Some(c) if c.trim().is_empty() => {
                    self.problem(at("claim"), "must not be empty");
                    c
                }
                other => other.unwrap_or_else(|| DEFAULT_CLAIM.to_owned()),
            };
            let users = self.claim_users(i, r.users, users);
            if let Some(jwks) = jwks {
                issuers.push(TokenIssuerConfig {
                    issuer,
                    audience,
                    jwks,
                    claim,
                    users,
                });
            }
        }
        issuers
    }

    /// A user may take tokens only if some token can be verified.
    pub(crate) fn token_users(&mut self, users: &[UserConfig], tokens_configured: bool) {
        for (i, user) in users.iter().enumerate() {
            if user.token_auth.accepts_tokens() && !tokens_configured {
                self.problem(
                    format!("users[{i}].token_auth"),
                    format!(
                        "is \"{}\" but no token could be verified: set [tokens] \
                         signing_key_file or add a [[token_issuers]] table",
                        user.token_auth
                    ),
                );
            }
        }
    }

    fn required_text(&mut self, key: &str, raw: Option<String>, what: &str) -> String {
        match raw {
            Some(s) if s.trim().is_empty() => {
                self.problem(key, "must not be empty");
                s
            }
            Some(s) => s,
            None => {
                self.problem(key, format!("required: {what}"));
                String::new()
            }
        }
    }

    /// Exactly one of `jwks_file` and `jwks_url`; `jwks_refresh` only with a URL.
    fn jwks_source(
        &mut self,
        i: usize,
        file: Option<String>,
        url: Option<String>,
        refresh: Option<crate::raw::StrOrInt>,
    ) -> Option<JwksSource> {
        let at = |key: &str| format!("token_issuers[{i}].{key}");
        match (file, url) {
            (Some(_), Some(_)) => {
                self.problem(at("jwks_url"), "set either jwks_file or jwks_url, not both");
                None
            }
            (None, None) => {
                self.problem(
                    at("jwks_file"),
                    "required: the issuer's public keys, as jwks_file (a JWKS file) or \
                     jwks_url (fetched and refreshed)",
                );
                None
            }
            (Some(file), None) => {
                if refresh.is_some() {
                    self.problem(
                        at("jwks_refresh"),
                        "only applies to jwks_url (a jwks_file is read at startup)",
                    );
                }
                match file.trim().is_empty() {
                    true => {
                        self.problem(at("jwks_file"), "must not be empty");
                        None
                    }
                    false => Some(JwksSource::File(file.into())),
                }
            }
            (None, Some(url)) => {
                let refresh = self.field(
                    &at("jwks_refresh"),
                    refresh,
                    DEFAULT_JWKS_REFRESH,
                    positive_duration,
                );
                match jwks_url(&url) {
                    Ok(()) => Some(JwksSource::Url {
                        url,
                        refresh: refresh.unwrap_or(DEFAULT_JWKS_REFRESH),
                    }),
                    Err(m) => {
                        self.problem(at("jwks_url"), m);
                        None
                    }
                }
            }
        }
    }

    /// The claim value to users map: every listed user exists and takes tokens.
    fn claim_users(
        &mut self,
        i: usize,
        raw: Option<BTreeMap<String, Vec<String>>>,
        users: &[UserConfig],
    ) -> BTreeMap<String, Vec<String>> {
        let at = format!("token_issuers[{i}].users");
        let Some(map) = raw.filter(|m| !m.is_empty()) else {
            self.problem(
                &at,
                "required: map claim values to the users they may log in as, e.g. \
                 users = { \"system:serviceaccount:jobs:etl\" = [\"app\"] }",
            );
            return BTreeMap::new();
        };
        for (value, names) in &map {
            if names.is_empty() {
                self.problem(format!("{at}.\"{value}\""), "must list at least one user");
            }
            for name in names.iter().filter(|n| *n != WILDCARD) {
                match users.iter().find(|u| &u.name == name) {
                    None => self.problem(
                        format!("{at}.\"{value}\""),
                        format!("unknown user \"{name}\": add it as a [[users]] table"),
                    ),
                    Some(u) if !u.token_auth.accepts_tokens() => self.problem(
                        format!("{at}.\"{value}\""),
                        format!(
                            "user \"{name}\" has token_auth = \"disabled\": set it to \
                             \"optional\" or \"required\""
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        map
    }
}

/// https, or http to a loopback address (a sidecar or a test); anything else could hand a
/// man in the middle the power to choose the keys.
fn jwks_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Ok(());
    }
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    let is_loopback = loopback.iter().any(|prefix| {
        url.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
    });
    match is_loopback {
        true => Ok(()),
        false => Err(format!(
            "\"{url}\" must be an https:// URL (plain http is accepted only to a loopback \
             address)"
        )),
    }
}
