//! Building the Secrets Manager client. Region, endpoint and credentials come from the SDK's
//! standard chains (environment, profile, web identity, container and instance roles) unless
//! `[secrets]` names the region or the endpoint; HTTPS runs on rustls with ring, like the rest
//! of Sluice, and trusts the system's CA certificates.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::config::SharedCredentialsProvider;
use aws_sdk_secretsmanager::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use super::Settings;

/// The client for `settings`; `credentials` replaces the chain (tests). Fails only when no
/// region can be found: everything else is resolved by the first request.
pub(super) async fn build(
    settings: &Settings,
    credentials: Option<SharedCredentialsProvider>,
) -> Result<Client, String> {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    // The SDK stops retrying at this; the caller's own timeout also covers building.
    let timeouts = TimeoutConfig::builder()
        .operation_timeout(settings.timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .timeout_config(timeouts);
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(credentials) = credentials {
        loader = loader.credentials_provider(credentials);
    }
    let sdk_config = loader.load().await;
    if sdk_config.region().is_none() {
        return Err(
            "no AWS region: set secrets.aws_region, or AWS_REGION, or a region in the \
                    AWS profile"
                .into(),
        );
    }
    Ok(Client::new(&sdk_config))
}
