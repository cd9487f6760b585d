//! The error texts, and the client against loopback sockets that refuse or never answer. The
//! AWS side proper is tested against a moto server (tests/aws_secrets.rs).

use std::time::Duration;

use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_secretsmanager::error::{ErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;

use super::*;

const ENDPOINT: &str = "AWS Secrets Manager in eu-west-1";

fn service_error(error: GetSecretValueError, status: u16) -> Failure {
    let raw = axum::http::Response::builder()
        .status(status)
        .body(aws_smithy_types::body::SdkBody::empty())
        .unwrap();
    let err = SdkError::service_error(error, HttpResponse::try_from(raw).unwrap());
    Failure::from_sdk(&err)
}

fn coded(code: &str, message: &str) -> GetSecretValueError {
    GetSecretValueError::generic(ErrorMetadata::builder().code(code).message(message).build())
}

#[test]
fn service_errors_say_what_to_fix() {
    let not_found = ResourceNotFoundException::builder()
        .message("Secrets Manager can't find the specified secret.")
        .build();
    let not_found = service_error(
        GetSecretValueError::ResourceNotFoundException(not_found),
        400,
    );
    assert_eq!(not_found, Failure::NotFound);
    assert_eq!(
        not_found.describe(Stage::Current, ENDPOINT),
        "AWS Secrets Manager in eu-west-1 has no secret by that name or ARN \
         (ResourceNotFoundException): check the name and the region"
    );
    let denied = service_error(
        coded(
            "AccessDeniedException",
            "User: arn:aws:iam::1:user/x is not authorized to perform: secretsmanager:GetSecretValue",
        ),
        400,
    );
    assert_eq!(
        denied.describe(Stage::Current, ENDPOINT),
        "access denied (AccessDeniedException: User: arn:aws:iam::1:user/x is not authorized to \
         perform: secretsmanager:GetSecretValue); the AWS identity needs \
         secretsmanager:GetSecretValue on this secret, and kms:Decrypt if a customer managed key \
         encrypts it"
    );
    let kms = service_error(coded("DecryptionFailure", "KMS says no"), 400);
    assert_eq!(
        kms.describe(Stage::Pending, ENDPOINT),
        "AWSPENDING version: AWS could not decrypt the secret (DecryptionFailure: KMS says no); \
         the AWS identity needs kms:Decrypt on its KMS key"
    );
    let token = service_error(
        coded(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        400,
    );
    assert!(token
        .describe(Stage::Current, ENDPOINT)
        .starts_with("the AWS credentials were rejected (UnrecognizedClientException: "));
    let bare_403 = Failure::Refused {
        code: None,
        status: 403,
        message: None,
    };
    assert!(bare_403
        .describe(Stage::Previous, ENDPOINT)
        .starts_with("AWSPREVIOUS version: access denied (HTTP 403, no error code): "));
    let other = service_error(
        coded(
            "InvalidRequestException",
            "You can't perform this operation on the secret because it was marked for deletion.",
        ),
        400,
    );
    assert_eq!(
        other.describe(Stage::Current, ENDPOINT),
        "the request was refused (InvalidRequestException: You can't perform this operation on \
         the secret because it was marked for deletion.)"
    );
}

#[test]
fn long_messages_are_clipped() {
    let long = service_error(coded("Throttling", &"x".repeat(1000)), 400);
    let text = long.describe(Stage::Current, ENDPOINT);
    assert!(text.len() < 400, "{text}");
    assert!(text.ends_with("...)"), "{text}");
}

/// A Secrets Manager with fixed credentials and region, sending to `endpoint_url`.
async fn manager(endpoint_url: String, timeout: Duration) -> SecretsManager {
    let manager = SecretsManager::new(&config::SecretsConfig {
        aws_region: Some("eu-west-1".into()),
        aws_endpoint_url: Some(endpoint_url),
        aws_timeout: timeout,
        ..Default::default()
    });
    let credentials = SharedCredentialsProvider::new(Credentials::new(
        "AKIDTEST",
        "not-a-real-key",
        None,
        None,
        "tests",
    ));
    let client = client::build(&manager.settings, Some(credentials))
        .await
        .unwrap();
    manager.client.set(client).unwrap();
    manager
}

#[tokio::test]
async fn an_endpoint_that_refuses_connections_is_named() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let manager = manager(url.clone(), Duration::from_secs(20)).await;
    let err = manager.fetch("prod/app").await.unwrap_err();
    assert!(
        err.starts_with(&format!(
            "cannot reach AWS Secrets Manager at {url}: io error: "
        )),
        "{err}"
    );
    assert!(err.ends_with("Connection refused (os error 111)"), "{err}");
}

#[tokio::test]
async fn an_endpoint_that_never_answers_times_out() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    // Accepts and holds every connection, answering nothing.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });
    let manager = manager(url.clone(), Duration::from_millis(500)).await;
    let started = tokio::time::Instant::now();
    let err = manager.fetch("prod/app").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        err == format!("no answer from AWS Secrets Manager at {url} in time")
            || err
                == format!(
                    "no answer from AWS Secrets Manager at {url} within aws_timeout (500ms)"
                ),
        "{err}"
    );
    holder.abort();
}
