//! [`SecretStores`]: what fetching needs besides the source itself. One per proxy, kept across
//! reloads (`[secrets]` is bound at startup), so the AWS client is built once.

use std::time::Duration;

use config::{SecretSource, SecretsConfig};

/// The text for an `aws:` secret in a build without the `aws` feature.
pub const WITHOUT_AWS: &str = "this Sluice was built without AWS Secrets Manager support; \
                               rebuild it with `cargo build --release --features aws`";

/// The settings and clients of the secret stores.
pub struct SecretStores {
    exec_timeout: Duration,
    #[cfg(feature = "aws")]
    aws: super::aws::SecretsManager,
}

impl SecretStores {
    /// Nothing is contacted here: the AWS client is built on the first `aws:` fetch.
    pub fn new(config: &SecretsConfig) -> SecretStores {
        SecretStores {
            exec_timeout: config.exec_timeout,
            #[cfg(feature = "aws")]
            aws: super::aws::SecretsManager::new(config),
        }
    }

    pub fn exec_timeout(&self) -> Duration {
        self.exec_timeout
    }

    #[cfg(feature = "aws")]
    pub(super) fn aws(&self) -> &super::aws::SecretsManager {
        &self.aws
    }
}

/// Whether this build can fetch from `source` at all; for `sluice check`, which fetches
/// nothing.
pub fn supported(source: &SecretSource) -> Result<(), &'static str> {
    match source {
        SecretSource::Aws(_) if !cfg!(feature = "aws") => Err(WITHOUT_AWS),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_aws_depends_on_the_build() {
        for source in ["file:/s.json", "env:S", "exec:/bin/true"] {
            let parsed = config_source(source);
            assert_eq!(supported(&parsed), Ok(()), "{source}");
        }
        let aws = supported(&config_source("aws:prod/app"));
        if cfg!(feature = "aws") {
            assert_eq!(aws, Ok(()));
        } else {
            assert_eq!(aws, Err(WITHOUT_AWS));
        }
    }

    fn config_source(secret: &str) -> SecretSource {
        let config = config::Config::from_toml_str(&format!(
            "[database]\nhosts = [\"db\"]\n[[users]]\nname = \"app\"\nsecret = \"{secret}\"\n"
        ))
        .unwrap();
        match &config.users[0].credentials {
            config::CredentialSource::Store(source) => source.clone(),
            other => panic!("{other:?}"),
        }
    }
}
