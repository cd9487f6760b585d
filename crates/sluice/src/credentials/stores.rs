//! [`SecretStores`]: what fetching needs besides the source itself. A reload makes a new one
//! from the new `[secrets]`, keeping the AWS client while its settings stay, so that client is
//! built once.

#[cfg(feature = "aws")]
use std::sync::Arc;
use std::time::Duration;

use config::{SecretSource, SecretsConfig};

/// The text for an `aws:` secret in a build without the `aws` feature.
pub const WITHOUT_AWS: &str = "this Sluice was built without AWS Secrets Manager support; \
                               rebuild it with `cargo build --release --features aws`";

/// The settings and clients of the secret stores.
pub struct SecretStores {
    exec_timeout: Duration,
    #[cfg(feature = "aws")]
    aws: Arc<super::aws::SecretsManager>,
}

impl SecretStores {
    /// Nothing is contacted here: the AWS client is built on the first `aws:` fetch.
    pub fn new(config: &SecretsConfig) -> SecretStores {
        SecretStores {
            exec_timeout: config.exec_timeout,
            #[cfg(feature = "aws")]
            aws: Arc::new(super::aws::SecretsManager::new(config)),
        }
    }

    /// For a reload: `config`'s settings, with this AWS client if its settings are the same.
    pub fn reconfigured(&self, config: &SecretsConfig) -> SecretStores {
        SecretStores {
            exec_timeout: config.exec_timeout,
            #[cfg(feature = "aws")]
            aws: match self.aws.configured_as(config) {
                true => self.aws.clone(),
                false => Arc::new(super::aws::SecretsManager::new(config)),
            },
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
    fn a_reload_keeps_the_aws_client_while_its_settings_stay() {
        let first = config::SecretsConfig::default();
        let stores = SecretStores::new(&first);
        let faster = config::SecretsConfig {
            exec_timeout: Duration::from_secs(1),
            ..first.clone()
        };
        let kept = stores.reconfigured(&faster);
        assert_eq!(kept.exec_timeout(), Duration::from_secs(1));
        #[cfg(feature = "aws")]
        {
            assert!(Arc::ptr_eq(&stores.aws, &kept.aws));
            let elsewhere = config::SecretsConfig {
                aws_region: Some("eu-west-1".into()),
                ..first
            };
            assert!(!Arc::ptr_eq(
                &stores.aws,
                &stores.reconfigured(&elsewhere).aws
            ));
        }
    }

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
