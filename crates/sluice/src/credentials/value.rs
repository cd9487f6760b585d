//! [`SecretValue`]: the parsed content of a secret, in the AWS Secrets Manager shape.

use config::{password_value, Secret};
use serde::Deserialize;
use zeroize::Zeroizing;

/// One fetch of a secret. Other keys of an AWS database secret (`engine`, `host`, `port`,
/// `dbname`, ...) are ignored: the database comes from `[database]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SecretValue {
    /// The role Sluice logs in to PostgreSQL as; the configured user name when absent.
    pub username: Option<String>,
    /// AWSCURRENT: the password in use.
    pub password: Secret<String>,
    /// AWSPREVIOUS: the password before the last rotation, still tried for server logins.
    pub previous_password: Option<Secret<String>>,
    /// AWSPENDING: the password being rotated in; tried for server logins, and accepted from
    /// clients, until the rotation finishes.
    pub pending_password: Option<Secret<String>>,
}

/// A password version's stage, named as AWS Secrets Manager names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Current,
    Pending,
    Previous,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Current => "AWSCURRENT",
            Stage::Pending => "AWSPENDING",
            Stage::Previous => "AWSPREVIOUS",
        }
    }

    /// Clients may present the current password, and the pending one during a rotation; the
    /// previous one only still works for Sluice's own server logins.
    pub fn accepted_from_clients(self) -> bool {
        self != Stage::Previous
    }
}

impl SecretValue {
    /// The passwords present, in server login order: current, pending, previous.
    pub fn stages(&self) -> Vec<(Stage, &Secret<String>)> {
        let mut stages = vec![(Stage::Current, &self.password)];
        stages.extend(self.pending_password.as_ref().map(|p| (Stage::Pending, p)));
        stages.extend(
            self.previous_password
                .as_ref()
                .map(|p| (Stage::Previous, p)),
        );
        stages
    }

    /// Parses the JSON object. The error says what is wrong and where, but never quotes the
    /// text (it is a secret).
    pub fn from_json(text: &str) -> Result<SecretValue, String> {
        let value: SecretValue = serde_json::from_str(text).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => {
                    r#"is not a JSON object with a string "password" (and optionally "username", "previous_password", "pending_password")"#
                }
                _ => "is not valid JSON",
            };
            format!("{what} (line {}, column {})", e.line(), e.column())
        })?;
        value.check()?;
        Ok(value)
    }

    /// JSON when the text starts with `{` (after blanks), the password alone otherwise: what
    /// `env:` and `aws:` hold.
    pub fn from_json_or_password(text: Zeroizing<String>) -> Result<SecretValue, String> {
        if text.trim_start().starts_with('{') {
            SecretValue::from_json(&text)
        } else {
            SecretValue::password_only(text)
        }
    }

    /// The whole text is the password (`env:` holding a plain password).
    pub fn password_only(text: Zeroizing<String>) -> Result<SecretValue, String> {
        let value = SecretValue {
            username: None,
            password: Secret::new(text.to_string()),
            previous_password: None,
            pending_password: None,
        };
        value.check()?;
        Ok(value)
    }

    fn check(&self) -> Result<(), String> {
        let fields = [
            ("password", Some(&self.password)),
            ("previous_password", self.previous_password.as_ref()),
            ("pending_password", self.pending_password.as_ref()),
        ];
        for (field, value) in fields {
            if let Some(Err(problem)) = value.map(|v| password_value(v.expose())) {
                return Err(format!("\"{field}\" {problem}"));
            }
        }
        match self.username.as_deref() {
            Some("") => Err("\"username\" must not be empty".into()),
            Some(u) if u.contains('\0') => {
                Err("\"username\" must not contain NUL characters".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_shape_with_versions() {
        let v = SecretValue::from_json(
            r#"{"engine":"postgres","username":"app","password":"cur","previous_password":"old","pending_password":"new","port":5432}"#,
        )
        .unwrap();
        assert_eq!(v.username.as_deref(), Some("app"));
        assert_eq!(v.password.expose(), "cur");
        assert_eq!(v.previous_password.unwrap().expose(), "old");
        assert_eq!(v.pending_password.unwrap().expose(), "new");
        let v = SecretValue::from_json(r#"{"password":"only"}"#).unwrap();
        assert_eq!(v.username, None);
    }

    #[test]
    fn errors_never_quote_the_secret() {
        for (text, want) in [
            (
                r#"{"password": hunter2}"#,
                "is not valid JSON (line 1, column 14)",
            ),
            (
                r#"{"username":"app","password":12345}"#,
                "is not a JSON object",
            ),
            (r#"{"username":"hunter2"}"#, "is not a JSON object"),
            (r#""hunter2""#, "is not a JSON object"),
            (r#"{"password":""}"#, "\"password\" must not be empty"),
            (
                r#"{"password":"hunter2","pending_password":""}"#,
                "\"pending_password\" must not be empty",
            ),
        ] {
            let err = SecretValue::from_json(text).unwrap_err();
            assert!(err.starts_with(want), "{text}: {err}");
            assert!(!err.contains("hunter2") && !err.contains("12345"), "{err}");
        }
    }

    #[test]
    fn debug_shows_no_password() {
        let v = SecretValue::from_json(r#"{"password":"hunter2","pending_password":"hunter3"}"#)
            .unwrap();
        let shown = format!("{v:?}");
        assert!(!shown.contains("hunter"), "{shown}");
    }
}
