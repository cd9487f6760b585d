//! `aws:` secrets: AWS Secrets Manager through the official SDK. One client, built on the first
//! fetch (a configuration without `aws:` users never touches AWS), shared by every user and
//! kept by reloads that leave the AWS settings alone. A fetch reads the AWSCURRENT, AWSPENDING
//! and AWSPREVIOUS stages at once and maps them onto the current, pending and previous
//! passwords that rotation already handles.

mod client;
mod error;
mod stages;

use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use config::SecretsConfig;
use futures_util::future::BoxFuture;

use super::value::Stage;
use super::SecretValue;
use error::Failure;
use stages::StageVersion;

/// `[secrets]` as far as AWS is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    region: Option<String>,
    endpoint_url: Option<String>,
    timeout: Duration,
}

impl Settings {
    fn of(config: &SecretsConfig) -> Settings {
        Settings {
            region: config.aws_region.clone(),
            endpoint_url: config.aws_endpoint_url.clone(),
            timeout: config.aws_timeout,
        }
    }
}

/// The Secrets Manager client for one set of AWS settings.
pub struct SecretsManager {
    settings: Settings,
    // A tokio OnceCell: building awaits (the region may come from instance metadata), and a
    // build that failed is tried again by the next fetch.
    client: tokio::sync::OnceCell<Client>,
}

impl SecretsManager {
    pub fn new(config: &SecretsConfig) -> SecretsManager {
        SecretsManager {
            settings: Settings::of(config),
            client: tokio::sync::OnceCell::new(),
        }
    }

    /// Whether this client is the one `config` asks for (a reload keeps it then).
    pub fn configured_as(&self, config: &SecretsConfig) -> bool {
        self.settings == Settings::of(config)
    }

    /// Every stage of secret `id`, within `aws_timeout` (building the client included). The
    /// error says what failed; it never holds the secret. Boxed: the SDK's future types are so
    /// deep that proving every session future `Send` through them overflows the compiler.
    pub fn fetch<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<SecretValue, String>> {
        Box::pin(async move {
            let timeout = self.settings.timeout;
            tokio::time::timeout(timeout, self.fetch_stages(id))
                .await
                .map_err(|_| {
                    format!(
                        "no answer from {} within aws_timeout ({timeout:?})",
                        self.endpoint()
                    )
                })?
        })
    }

    async fn fetch_stages(&self, id: &str) -> Result<SecretValue, String> {
        let client = self
            .client
            .get_or_try_init(|| client::build(&self.settings, None))
            .await?;
        let (current, pending, previous) = tokio::join!(
            get(client, id, Stage::Current),
            get(client, id, Stage::Pending),
            get(client, id, Stage::Previous),
        );
        let endpoint = self.endpoint();
        let current = current.map_err(|f| f.describe(Stage::Current, &endpoint))?;
        let optional = |got: Result<StageVersion, Failure>, stage: Stage| match got {
            Ok(version) => Ok(Some(version)),
            // No version carries this label: no rotation under way, or none before.
            Err(Failure::NotFound) => Ok(None),
            Err(failure) => Err(failure.describe(stage, &endpoint)),
        };
        Ok(stages::assemble(
            current,
            optional(pending, Stage::Pending)?,
            optional(previous, Stage::Previous)?,
        ))
    }

    /// Where requests go, for error texts.
    fn endpoint(&self) -> String {
        let region = self.client.get().and_then(|c| c.config().region().cloned());
        match (&self.settings.endpoint_url, region) {
            (Some(url), _) => format!("AWS Secrets Manager at {url}"),
            (None, Some(region)) => format!("AWS Secrets Manager in {region}"),
            (None, None) => "AWS Secrets Manager".to_string(),
        }
    }
}

/// One stage's version.
async fn get(client: &Client, id: &str, stage: Stage) -> Result<StageVersion, Failure> {
    let output = client
        .get_secret_value()
        .secret_id(id)
        .version_stage(stage.as_str())
        .send()
        .await
        .map_err(|e| Failure::from_sdk(&e))?;
    StageVersion::from_output(output).map_err(Failure::Unusable)
}

#[cfg(test)]
mod tests;
