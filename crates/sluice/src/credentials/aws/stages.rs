//! Secrets Manager versions → [`SecretValue`]: AWSCURRENT is the password in use, AWSPENDING
//! the one a rotation is bringing in, AWSPREVIOUS the one before. Keys `pending_password` and
//! `previous_password` inside an AWS secret are ignored: the stages say it.

use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use zeroize::Zeroizing;

use super::SecretValue;

/// One version, as read for one stage.
#[derive(Debug)]
pub(super) struct StageVersion {
    /// One version may carry several stages: AWS leaves AWSPENDING on the version that a
    /// finished rotation made AWSCURRENT.
    version_id: Option<String>,
    value: SecretValue,
}

impl StageVersion {
    /// The version's SecretString: the JSON of an RDS secret (`username`, `password`, ...),
    /// or the password alone.
    pub(super) fn from_output(output: GetSecretValueOutput) -> Result<StageVersion, String> {
        let Some(text) = output.secret_string() else {
            return Err(
                "the version has no SecretString (a binary secret?): Sluice reads a \
                        SecretString holding the JSON or the password"
                    .into(),
            );
        };
        Ok(StageVersion {
            version_id: output.version_id().map(str::to_owned),
            value: SecretValue::from_json_or_password(Zeroizing::new(text.to_owned()))?,
        })
    }

    #[cfg(test)]
    pub(super) fn new(version_id: &str, value: SecretValue) -> StageVersion {
        StageVersion {
            version_id: Some(version_id.to_owned()),
            value,
        }
    }

    /// Whether this is a version of its own, for the same role as `current`. A version for
    /// another role (alternating-users rotation) is left out: its password would be tried
    /// with the wrong role.
    fn adds_to(&self, current: &StageVersion) -> bool {
        let distinct = self.version_id.is_none() || self.version_id != current.version_id;
        let same_role =
            self.value.username.is_none() || self.value.username == current.value.username;
        distinct && same_role
    }
}

/// The passwords to use: AWSCURRENT's, and AWSPENDING's and AWSPREVIOUS's where those are
/// versions of their own for the same role.
pub(super) fn assemble(
    current: StageVersion,
    pending: Option<StageVersion>,
    previous: Option<StageVersion>,
) -> SecretValue {
    let password_of = |version: Option<StageVersion>| {
        version
            .filter(|v| v.adds_to(&current))
            .map(|v| v.value.password)
    };
    let pending_password = password_of(pending);
    let previous_password = password_of(previous);
    SecretValue {
        username: current.value.username,
        password: current.value.password,
        pending_password,
        previous_password,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str, json: &str) -> StageVersion {
        StageVersion::new(id, SecretValue::from_json(json).unwrap())
    }

    fn passwords(v: &SecretValue) -> (Option<&str>, &str, Option<&str>, Option<&str>) {
        (
            v.username.as_deref(),
            v.password.expose(),
            v.pending_password.as_ref().map(|p| p.expose().as_str()),
            v.previous_password.as_ref().map(|p| p.expose().as_str()),
        )
    }

    #[test]
    fn each_stage_maps_to_its_password() {
        let v = assemble(
            version("v2", r#"{"username":"app","password":"cur"}"#),
            Some(version("v3", r#"{"username":"app","password":"new"}"#)),
            Some(version("v1", r#"{"username":"app","password":"old"}"#)),
        );
        assert_eq!(
            passwords(&v),
            (Some("app"), "cur", Some("new"), Some("old"))
        );
        let only_current = assemble(version("v1", r#"{"password":"cur"}"#), None, None);
        assert_eq!(passwords(&only_current), (None, "cur", None, None));
    }

    #[test]
    fn a_finished_rotation_leaves_pending_on_the_current_version() {
        let v = assemble(
            version("v2", r#"{"username":"app","password":"new"}"#),
            Some(version("v2", r#"{"username":"app","password":"new"}"#)),
            Some(version("v1", r#"{"username":"app","password":"old"}"#)),
        );
        assert_eq!(passwords(&v), (Some("app"), "new", None, Some("old")));
    }

    #[test]
    fn versions_for_another_role_are_left_out() {
        // Alternating users: the clone role's password must not be tried as `app`.
        let v = assemble(
            version("v2", r#"{"username":"app","password":"cur"}"#),
            Some(version(
                "v3",
                r#"{"username":"app_clone","password":"new"}"#,
            )),
            Some(version("v1", r#"{"password":"old"}"#)),
        );
        assert_eq!(passwords(&v), (Some("app"), "cur", None, Some("old")));
    }

    #[test]
    fn fields_inside_the_secret_do_not_add_versions() {
        let v = assemble(
            version("v1", r#"{"password":"cur","pending_password":"x"}"#),
            None,
            None,
        );
        assert_eq!(passwords(&v), (None, "cur", None, None));
    }

    #[test]
    fn plain_and_binary_secret_strings() {
        let output = |text: Option<&str>| {
            GetSecretValueOutput::builder()
                .version_id("v1")
                .set_secret_string(text.map(str::to_owned))
                .build()
        };
        let plain = StageVersion::from_output(output(Some("hunter2"))).unwrap();
        assert_eq!(plain.value.password.expose(), "hunter2");
        let err = StageVersion::from_output(output(None)).unwrap_err();
        assert!(err.starts_with("the version has no SecretString"), "{err}");
        let err = StageVersion::from_output(output(Some(r#"{"password": hunter2}"#))).unwrap_err();
        assert_eq!(err, "is not valid JSON (line 1, column 14)");
    }
}
