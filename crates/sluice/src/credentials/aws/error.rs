//! [`Failure`]: why one GetSecretValue call failed, reduced to what an operator can act on.
//! AWS's own message is kept (it names the principal and the action, never a secret value);
//! nothing from a successful answer ever is.

use std::error::Error;

use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use super::Stage;

/// AWS messages are a sentence; anything longer is not worth a log line.
const MAX_MESSAGE_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// ResourceNotFoundException: no such secret, or no version with that stage.
    NotFound,
    /// Secrets Manager answered with an error: its code (when it sent one), HTTP status and
    /// message.
    Refused {
        code: Option<String>,
        status: u16,
        message: Option<String>,
    },
    /// The SDK gave up waiting (its operation timeout, or connecting).
    TimedOut,
    /// No connection could be made.
    Unreachable(String),
    /// The answer could not be read (HTTP status).
    BadAnswer(u16),
    /// Before sending: no credentials, a bad endpoint URL, ...
    NotSent(String),
    /// A version that Sluice cannot use (no SecretString).
    Unusable(String),
}

impl Failure {
    pub(super) fn from_sdk(err: &SdkError<GetSecretValueError, HttpResponse>) -> Failure {
        match err {
            SdkError::ServiceError(e) if e.err().is_resource_not_found_exception() => {
                Failure::NotFound
            }
            SdkError::ServiceError(e) => Failure::Refused {
                code: e.err().code().map(str::to_owned),
                status: e.raw().status().as_u16(),
                message: e.err().message().map(clip),
            },
            SdkError::TimeoutError(_) => Failure::TimedOut,
            SdkError::DispatchFailure(d) if d.is_timeout() => Failure::TimedOut,
            SdkError::DispatchFailure(d) if d.is_io() => match d.as_connector_error() {
                Some(connector) => Failure::Unreachable(causes(connector)),
                None => Failure::Unreachable(causes(err)),
            },
            // Its source may quote the body, which is the secret when the status is 200.
            SdkError::ResponseError(r) => Failure::BadAnswer(r.raw().status().as_u16()),
            _ => Failure::NotSent(causes(err)),
        }
    }

    /// The text for the operator: `stage` is the version asked for, `endpoint` where.
    pub(super) fn describe(&self, stage: Stage, endpoint: &str) -> String {
        let what = match self {
            Failure::NotFound => format!(
                "{endpoint} has no secret by that name or ARN (ResourceNotFoundException): check \
                 the name and the region"
            ),
            Failure::Refused {
                code,
                status,
                message,
            } => refused(code.as_deref(), *status, message.as_deref()),
            Failure::TimedOut => format!("no answer from {endpoint} in time"),
            Failure::Unreachable(cause) => format!("cannot reach {endpoint}: {cause}"),
            Failure::BadAnswer(status) => {
                format!("cannot read the answer of {endpoint} (HTTP {status})")
            }
            Failure::NotSent(cause) => format!("the request was not sent: {cause}"),
            Failure::Unusable(problem) => problem.clone(),
        };
        match stage {
            Stage::Current => what,
            other => format!("{} version: {what}", other.as_str()),
        }
    }
}

/// An error answer, by its code; 403 without a code (a proxy or look-alike in front) reads as
/// access denied.
fn refused(code: Option<&str>, status: u16, message: Option<&str>) -> String {
    let said = |label: &str| match message {
        Some(m) => format!("{label}: {m}"),
        None => label.to_string(),
    };
    const CREDENTIALS: &[&str] = &[
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "ExpiredToken",
        "ExpiredTokenException",
    ];
    match code {
        Some(c @ ("AccessDeniedException" | "AccessDenied")) => format!(
            "access denied ({}); the AWS identity needs secretsmanager:GetSecretValue on this \
             secret, and kms:Decrypt if a customer managed key encrypts it",
            said(c)
        ),
        None if status == 403 => format!(
            "access denied ({}, no error code): the AWS credentials were rejected, or the \
             identity lacks secretsmanager:GetSecretValue on this secret (or kms:Decrypt on a \
             customer managed key that encrypts it)",
            said("HTTP 403")
        ),
        Some(c @ "DecryptionFailure") => format!(
            "AWS could not decrypt the secret ({}); the AWS identity needs kms:Decrypt on its \
             KMS key",
            said(c)
        ),
        Some(c) if CREDENTIALS.contains(&c) => format!(
            "the AWS credentials were rejected ({}); check the ones Sluice finds (environment, \
             profile, instance or pod role)",
            said(c)
        ),
        Some(c) => format!("the request was refused ({})", said(c)),
        None => format!(
            "the request was refused ({})",
            said(&format!("HTTP {status}"))
        ),
    }
}

/// `err` and its sources, as "a: b: c", each said once (the SDK's errors often repeat their
/// source in their own text), on one line (the credential chain lists its providers a line
/// each).
fn causes(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        next = cause.source();
    }
    let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    lines.fold(String::new(), |joined, line| match joined.as_str() {
        "" => line.to_string(),
        j if j.ends_with(':') => format!("{joined} {line}"),
        _ => format!("{joined}; {line}"),
    })
}

fn clip(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}...", &message[..end]),
        None => message.to_string(),
    }
}
