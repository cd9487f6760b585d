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
}

impl SecretSource {
    /// The kind, for logs and metrics: `file`, `env` or `exec`.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretSource::File(_) => "file",
            SecretSource::Env(_) => "env",
            SecretSource::Exec(_) => "exec",
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
        }
    }
}

/// Parses `file:PATH`, `env:VAR` or `exec:COMMAND ARGS`. The error never quotes the value: a
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
        _ => Err(EXPECTED.to_string()),
    }
}

const EXPECTED: &str =
    r#"unknown secret source: expected "file:PATH", "env:VAR" or "exec:COMMAND ARGS""#;

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
    }

    #[test]
    fn displays_as_written() {
        for s in [
            "file:/a/b.json",
            "env:X_1",
            "exec:/bin/fetch --name 'app db'",
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
        ] {
            let err = parse(bad).unwrap_err();
            assert!(!err.contains("hunter"), "{bad:?} -> {err}");
        }
    }
}
