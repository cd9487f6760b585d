//! [`SecretSource`]: where a user's credentials come from when they are not inline.

use std::fmt;
use std::path::PathBuf;

/// A secret store location from `users[].secret`. The value itself is fetched by the proxy
/// (at startup and on every refresh), never by config loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `file:PATH`: a JSON file in the AWS Secrets Manager shape, `{"username", "password"}`,
    /// optionally with `previous_password` and `pending_password`.
    File(PathBuf),
    /// `env:VAR`: an environment variable holding the same JSON, or the password alone.
    Env(String),
    /// `exec:COMMAND ARGS`: a command (run without a shell) that prints the JSON. Split like a
    /// POSIX shell would split words, quotes included, but nothing is expanded.
    Exec(Vec<String>),
    /// `aws:SECRET_ID`: a secret in AWS Secrets Manager, by name or ARN, whose AWSCURRENT,
    /// AWSPENDING and AWSPREVIOUS versions hold the same JSON. Always parsed, so a file stays
    /// valid everywhere; fetching it needs a Sluice built with the `aws` feature.
    Aws(String),
}

impl SecretSource {
    /// The kind, for logs and metrics: `file`, `env`, `exec` or `aws`.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretSource::File(_) => "file",
            SecretSource::Env(_) => "env",
            SecretSource::Exec(_) => "exec",
            SecretSource::Aws(_) => "aws",
        }
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::File(path) => write!(f, "file:{}", path.display()),
            SecretSource::Env(var) => write!(f, "env:{var}"),
            SecretSource::Exec(argv) => write!(
                f,
                "exec:{}",
                shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
            ),
            SecretSource::Aws(id) => write!(f, "aws:{id}"),
        }
    }
}

/// Parses `file:PATH`, `env:VAR`, `exec:COMMAND ARGS` or `aws:SECRET_ID`. The error never quotes the value: a
/// password pasted into `secret` by mistake must not end up in `sluice check` output.
pub(crate) fn parse(s: &str) -> Result<SecretSource, String> {
    let Some((kind, rest)) = s.split_once(':') else {
        return Err(EXPECTED.to_string());
    };
    match kind {
        "file" if rest.trim().is_empty() => {
            Err("file: needs a path, e.g. \"file:/etc/sluice/app.json\"".into())
        }
        "file" => Ok(SecretSource::File(PathBuf::from(rest))),
        "env" if is_env_name(rest) => Ok(SecretSource::Env(rest.to_string())),
        "env" => Err(
            "env: needs a variable name of letters, digits and '_', e.g. \"env:APP_DB_SECRET\""
                .into(),
        ),
        "exec" => match shlex::split(rest) {
            Some(argv) if !argv.is_empty() => Ok(SecretSource::Exec(argv)),
            Some(_) => {
                Err("exec: needs a command, e.g. \"exec:/usr/local/bin/fetch-secret app\"".into())
            }
            None => Err("exec: the command has an unbalanced quote or a trailing backslash".into()),
        },
        "aws" => aws_secret_id(rest).map(SecretSource::Aws),
        _ => Err(EXPECTED.to_string()),
    }
}

const EXPECTED: &str = r#"unknown secret source: expected "file:PATH", "env:VAR", "exec:COMMAND ARGS" or "aws:SECRET_ID""#;

/// AWS takes a SecretId of 1 to 2048 characters; names use letters, digits and `/_+=.@-`, and
/// ARNs add `:`. Checked here so a typo fails `sluice check`, not the first fetch.
fn aws_secret_id(id: &str) -> Result<String, String> {
    const MAX: usize = 2048;
    if id.is_empty() {
        return Err(r#"aws: needs a secret name or ARN, e.g. "aws:prod/app/db""#.into());
    }
    if id.len() > MAX {
        return Err(format!(
            "aws: a secret name or ARN has at most {MAX} characters"
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-:".contains(c);
    if !id.chars().all(allowed) {
        return Err(
            "aws: a secret name or ARN has only letters, digits and the characters /_+=.@-:".into(),
        );
    }
    Ok(id.to_string())
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind() {
        assert_eq!(
            parse("file:/etc/sluice/app.json"),
            Ok(SecretSource::File("/etc/sluice/app.json".into()))
        );
        assert_eq!(
            parse("env:APP_SECRET"),
            Ok(SecretSource::Env("APP_SECRET".into()))
        );
        assert_eq!(
            parse("exec:/bin/fetch --name 'app db'"),
            Ok(SecretSource::Exec(vec![
                "/bin/fetch".into(),
                "--name".into(),
                "app db".into()
            ]))
        );
        assert_eq!(
            parse("aws:prod/app/db"),
            Ok(SecretSource::Aws("prod/app/db".into()))
        );
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/app-AbCdEf";
        assert_eq!(
            parse(&format!("aws:{arn}")),
            Ok(SecretSource::Aws(arn.into()))
        );
        assert_eq!(parse("aws:x").unwrap().kind(), "aws");
    }

    #[test]
    fn displays_as_written() {
        for s in [
            "file:/a/b.json",
            "env:X_1",
            "exec:/bin/fetch --name 'app db'",
            "aws:prod/app+db@x=y.z_1",
        ] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn errors_never_echo_the_value() {
        for bad in [
            "hunter2",
            "vault:hunter2",
            "env:hunter 2",
            "env:",
            "file:",
            "exec:",
            "exec:'hunter2",
            "aws:hunter 2",
            "aws:hunter2!",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(!err.contains("hunter"), "{bad:?} -> {err}");
        }
    }

    #[test]
    fn aws_ids_are_checked() {
        assert_eq!(
            parse("aws:").unwrap_err(),
            r#"aws: needs a secret name or ARN, e.g. "aws:prod/app/db""#
        );
        assert_eq!(
            parse(&format!("aws:{}", "a".repeat(2049))).unwrap_err(),
            "aws: a secret name or ARN has at most 2048 characters"
        );
        assert!(parse(&format!("aws:{}", "a".repeat(2048))).is_ok());
        assert!(parse("aws:app db").is_err());
    }
}
