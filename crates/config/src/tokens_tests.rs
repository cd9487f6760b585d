//! Token settings: the shape accepted, the defaults, and the messages for mistakes.

use std::time::Duration;

use crate::*;

const BASE: &str = r#"
[database]
hosts = ["127.0.0.1:5432"]

[[users]]
name = "app"
password = "pw"
token_auth = "required"

[[users]]
name = "reporting"
password = "pw2"
"#;

fn problems(toml: &str) -> Vec<String> {
    Config::from_toml_str(toml)
        .expect_err("config should be rejected")
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn full_token_setup_parses() {
    let c = Config::from_toml_str(&format!(
        r#"{BASE}
[tokens]
signing_key_file = "/etc/sluice/token-signing.pem"
skew = "30s"

[[token_issuers]]
issuer = "https://kubernetes.default.svc.cluster.local"
audience = "sluice"
jwks_url = "https://kubernetes.default.svc/openid/v1/jwks"
jwks_refresh = "10m"
users = {{ "system:serviceaccount:jobs:etl" = ["app"] }}

[[token_issuers]]
issuer = "https://token.actions.githubusercontent.com"
audience = "sluice"
jwks_file = "/etc/sluice/github-jwks.json"
claim = "repository"
[token_issuers.users]
"*" = ["*"]
"#
    ))
    .unwrap();
    assert_eq!(c.users[0].token_auth, TokenAuth::Required);
    assert_eq!(c.users[1].token_auth, TokenAuth::Disabled);
    assert_eq!(c.tokens.skew, Duration::from_secs(30));
    let k8s = &c.token_issuers[0];
    assert_eq!(k8s.claim, "sub");
    assert_eq!(
        k8s.jwks,
        JwksSource::Url {
            url: "https://kubernetes.default.svc/openid/v1/jwks".into(),
            refresh: Duration::from_secs(600)
        }
    );
    assert!(k8s.allows("system:serviceaccount:jobs:etl", "app"));
    let gh = &c.token_issuers[1];
    assert_eq!(gh.claim, "repository");
    assert_eq!(
        gh.jwks,
        JwksSource::File("/etc/sluice/github-jwks.json".into())
    );
}

#[test]
fn defaults_without_token_settings() {
    let c = Config::from_toml_str(&BASE.replace("token_auth = \"required\"", "")).unwrap();
    assert_eq!(c.tokens, TokensConfig::default());
    assert_eq!(c.tokens.skew, Duration::from_secs(60));
    assert!(c.token_issuers.is_empty());
}

#[test]
fn a_token_user_needs_a_way_to_verify_tokens() {
    assert_eq!(
        problems(BASE),
        [
            r#"users[0].token_auth: is "required" but no token could be verified: set [tokens] signing_key_file or add a [[token_issuers]] table"#
        ]
    );
}

#[test]
fn bad_token_auth_value() {
    let toml = BASE.replace("\"required\"", "\"always\"");
    assert_eq!(
        problems(&toml),
        [
            r#"users[0].token_auth: unknown value "always": expected "disabled" or "optional" or "required""#
        ]
    );
}

#[test]
fn issuer_mistakes_are_named_by_key() {
    let toml = format!(
        r#"{BASE}
[tokens]
signing_key_file = ""
skew = 5

[[token_issuers]]
issuer = "sluice"
jwks_file = "a.json"
jwks_url = "https://idp/jwks"
users = {{ "ci" = ["reporting", "ghost"], "other" = [] }}

[[token_issuers]]
issuer = "https://idp"
audience = "sluice"
jwks_url = "http://idp.example/jwks"
"#
    );
    assert_eq!(
        problems(&toml),
        [
            r#"tokens.signing_key_file: must not be empty"#,
            r#"tokens.skew: expected a duration string with a unit, e.g. "5s", got the bare number 5"#,
            r#"token_issuers[0].issuer: "sluice" is reserved for the tokens Sluice signs itself (set [tokens] signing_key_file for those)"#,
            r#"token_issuers[0].audience: required: the aud its tokens must carry"#,
            r#"token_issuers[0].jwks_url: set either jwks_file or jwks_url, not both"#,
            r#"token_issuers[0].users."ci": user "reporting" has token_auth = "disabled": set it to "optional" or "required""#,
            r#"token_issuers[0].users."ci": unknown user "ghost": add it as a [[users]] table"#,
            r#"token_issuers[0].users."other": must list at least one user"#,
            r#"token_issuers[1].jwks_url: "http://idp.example/jwks" must be an https:// URL (plain http is accepted only to a loopback address)"#,
            r#"token_issuers[1].users: required: map claim values to the users they may log in as, e.g. users = { "system:serviceaccount:jobs:etl" = ["app"] }"#,
        ]
    );
}

#[test]
fn loopback_http_and_refresh_rules() {
    let issuer = |extra: &str| {
        format!(
            "{BASE}\n[[token_issuers]]\nissuer = \"https://idp\"\naudience = \"a\"\n{extra}\n\
             users = {{ \"*\" = [\"*\"] }}\n"
        )
    };
    for ok in [
        "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks",
        "http://[::1]:1/k",
    ] {
        let c = Config::from_toml_str(&issuer(&format!("jwks_url = \"{ok}\""))).unwrap();
        assert!(matches!(c.token_issuers[0].jwks, JwksSource::Url { .. }));
    }
    assert_eq!(
        problems(&issuer("jwks_url = \"http://localhost.evil.example/jwks\"")).len(),
        1
    );
    assert_eq!(
        problems(&issuer("jwks_file = \"k.json\"\njwks_refresh = \"1m\"")),
        [
            r#"token_issuers[0].jwks_refresh: only applies to jwks_url (a jwks_file is read at startup)"#
        ]
    );
    assert_eq!(
        problems(&issuer(
            "jwks_url = \"https://idp/k\"\njwks_refresh = \"0s\""
        )),
        [r#"token_issuers[0].jwks_refresh: must be greater than 0"#]
    );
    assert_eq!(
        problems(&issuer("")),
        [
            r#"token_issuers[0].jwks_file: required: the issuer's public keys, as jwks_file (a JWKS file) or jwks_url (fetched and refreshed)"#
        ]
    );
}
