//! Whole-file tests for the security keys: secrets, `[secrets]`, `[[access]]`, failed-login
//! limits.

use std::time::Duration;

use crate::tests::{one_problem, problems, with};
use crate::*;

const NO_PASSWORD: &str = "[database]\nhosts = [\"db\"]\n[[users]]\nname = \"app\"\n";

#[test]
fn security_defaults() {
    let c = Config::from_toml_str(&with("proxy", "")).unwrap();
    assert_eq!(c.proxy.max_failed_logins, Some(20));
    assert_eq!(c.proxy.failed_login_window, Duration::from_secs(60));
    assert_eq!(c.secrets.refresh_interval, Some(Duration::from_secs(300)));
    assert_eq!(c.secrets.exec_timeout, Duration::from_secs(10));
    assert_eq!(c.secrets.aws_region, None);
    assert_eq!(c.secrets.aws_endpoint_url, None);
    assert_eq!(c.secrets.aws_timeout, Duration::from_secs(10));
    assert!(c.access.is_empty());
}

#[test]
fn a_user_takes_a_secret_instead_of_a_password() {
    for (line, want) in [
        (
            "secret = \"file:/etc/s.json\"",
            SecretSource::File("/etc/s.json".into()),
        ),
        (
            "secret = \"env:APP_SECRET\"",
            SecretSource::Env("APP_SECRET".into()),
        ),
        (
            "secret = \"exec:/bin/get 'a b'\"",
            SecretSource::Exec(vec!["/bin/get".into(), "a b".into()]),
        ),
        (
            "secret = \"aws:prod/app/db\"",
            SecretSource::Aws("prod/app/db".into()),
        ),
    ] {
        let c = Config::from_toml_str(&format!("{NO_PASSWORD}{line}\n")).unwrap();
        match &c.users[0].credentials {
            CredentialSource::Store(s) => assert_eq!(s, &want),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn secret_rules() {
    assert_eq!(
        one_problem("users", "secret = \"file:/x\""),
        "users[0].secret: set either password or secret, not both: secret replaces the inline password"
    );
    let p = problems(&format!("{NO_PASSWORD}secret = \"s3cr3t-typed-here\"\n"));
    assert_eq!(
        p,
        [
            r#"users[0].secret: unknown secret source: expected "file:PATH", "env:VAR", "exec:COMMAND ARGS" or "aws:SECRET_ID""#
        ]
    );
    assert!(!p[0].contains("s3cr3t"));
    let p = problems(&format!("{NO_PASSWORD}secret = \"exec:\"\n"));
    assert_eq!(
        p,
        [r#"users[0].secret: exec: needs a command, e.g. "exec:/usr/local/bin/fetch-secret app""#]
    );
}

#[test]
fn secrets_section_rules() {
    let c = Config::from_toml_str(&with(
        "secrets",
        "refresh_interval = \"0s\"\nexec_timeout = \"2s\"",
    ))
    .unwrap();
    assert_eq!(c.secrets.refresh_interval, None);
    assert_eq!(c.secrets.exec_timeout, Duration::from_secs(2));
    assert_eq!(
        one_problem("secrets", "exec_timeout = \"0s\""),
        "secrets.exec_timeout: must be greater than 0"
    );
    assert_eq!(
        one_problem("secrets", "refresh_interval = 60"),
        r#"secrets.refresh_interval: expected a duration string with a unit, e.g. "60s", got the bare number 60"#
    );
}

#[test]
fn aws_keys() {
    let c = Config::from_toml_str(&with(
        "secrets",
        "aws_region = \"eu-west-1\"\naws_endpoint_url = \"http://127.0.0.1:5000\"\naws_timeout = \"3s\"",
    ))
    .unwrap();
    assert_eq!(c.secrets.aws_region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        c.secrets.aws_endpoint_url.as_deref(),
        Some("http://127.0.0.1:5000")
    );
    assert_eq!(c.secrets.aws_timeout, Duration::from_secs(3));
    assert_eq!(
        one_problem("secrets", "aws_region = \"EU West 1\""),
        r#"secrets.aws_region: invalid region "EU West 1": expected a region code such as "eu-west-1""#
    );
    for bad in [
        "secretsmanager.eu-west-1.amazonaws.com",
        "https://",
        "ftp://x",
    ] {
        assert_eq!(
            one_problem("secrets", &format!("aws_endpoint_url = \"{bad}\"")),
            format!(
                r#"secrets.aws_endpoint_url: invalid URL "{bad}": expected "https://HOST[:PORT]", e.g. "https://secretsmanager.eu-west-1.amazonaws.com""#
            )
        );
    }
    assert_eq!(
        one_problem("secrets", "aws_timeout = \"0s\""),
        "secrets.aws_timeout: must be greater than 0"
    );
}

#[test]
fn failed_login_limit_rules() {
    let c = Config::from_toml_str(&with("proxy", "max_failed_logins = 0")).unwrap();
    assert_eq!(c.proxy.max_failed_logins, None);
    let c = Config::from_toml_str(&with(
        "proxy",
        "max_failed_logins = 3\nfailed_login_window = \"10s\"",
    ))
    .unwrap();
    assert_eq!(c.proxy.max_failed_logins, Some(3));
    assert_eq!(c.proxy.failed_login_window, Duration::from_secs(10));
    assert_eq!(
        one_problem("proxy", "max_failed_logins = -1"),
        "proxy.max_failed_logins: must be at least 0, got -1"
    );
    assert_eq!(
        one_problem("proxy", "failed_login_window = \"0s\""),
        "proxy.failed_login_window: must be greater than 0"
    );
}

fn with_access(rules: &str) -> String {
    format!("{}\n{rules}\n", with("proxy", ""))
}

#[test]
fn access_rules_parse() {
    let c = Config::from_toml_str(&with_access(
        r#"
[[access]]
action = "reject"
address = "10.0.0.0/8"
users = ["app"]
databases = ["appdb"]
methods = ["md5"]

[[access]]
action = "allow"
"#,
    ))
    .unwrap();
    assert_eq!(c.access.len(), 2);
    let r = &c.access[0];
    assert_eq!(r.action, AccessAction::Reject);
    assert!(r.address.contains("10.1.2.3".parse().unwrap()));
    assert_eq!(r.users, ["app"]);
    assert_eq!(r.databases, ["appdb"]);
    assert_eq!(r.methods, [ClientAuth::Md5]);
    assert_eq!(c.access[1].address, AddressMatch::All);
    assert_eq!(c.access[1].action, AccessAction::Allow);
}

#[test]
fn access_rule_problems_name_the_key() {
    let p = problems(&with_access(
        r#"
[[access]]
address = "10.1.0.0/8"
users = [""]
methods = ["trust"]
[[access]]
action = "deny"
"#,
    ));
    assert_eq!(
        p,
        [
            r#"access[0].action: required: "allow" or "reject""#,
            r#"access[0].address: "10.1.0.0/8" has host bits set: did you mean "10.0.0.0/8"?"#,
            "access[0].users[0]: must not be empty",
            r#"access[0].methods[0]: unknown value "trust": expected "scram-sha-256" or "md5""#,
            r#"access[1].action: unknown value "deny": expected "allow" or "reject""#,
        ]
    );
}

#[test]
fn a_debug_print_of_the_config_shows_no_password() {
    let c = Config::from_toml_str(&format!(
        "{}\n[[users]]\nname = \"b\"\nsecret = \"file:/s.json\"\n",
        with("users", "")
    ))
    .unwrap();
    let shown = format!("{c:?} {c:#?}");
    assert!(!shown.contains("\"pw\""), "{shown}");
    assert!(shown.contains("<redacted>"));
    assert!(
        shown.contains("/s.json"),
        "the source location is not a secret"
    );
}
