//! The exchange with the client: SCRAM-SHA-256 or md5, as the user is configured.

use std::sync::Arc;

use pgwire::auth::{ScramError, ScramSecret, ScramServer};
use pgwire::frontend::{self, SaslInitialResponse};
use pgwire::{encode, FrontendTag, ProtocolError};

use super::{UserDirectory, UserEntry};
use crate::accept::{ClientConn, Transport};
use crate::error::SessionError;
use config::ClientAuth;

/// Authenticates the client as `user`. Unknown users go through a SCRAM exchange with a fake
/// verifier and fail at the same step with the same message as a wrong password.
pub async fn authenticate(
    client: &mut ClientConn,
    users: &UserDirectory,
    process_key: &[u8; 32],
    user: &str,
) -> Result<Arc<UserEntry>, SessionError> {
    let failed = |reason| SessionError::AuthFailed {
        user: user.to_owned(),
        reason,
    };
    let method = users.method_for(user);
    tracing::debug!(method = method.as_str(), "authenticating the client");
    match users.get(user) {
        Some(entry) => {
            let ok = match entry.client_auth {
                ClientAuth::ScramSha256 => {
                    scram(client, entry.credentials.versions().scram_server()).await?
                }
                ClientAuth::Md5 => md5_exchange(client, entry).await?,
            };
            ok.then(|| entry.clone()).ok_or(failed("wrong password"))
        }
        None => {
            scram(
                client,
                ScramServer::new(ScramSecret::mock(user, process_key)),
            )
            .await?;
            Err(failed("unknown user"))
        }
    }
}

/// Runs SCRAM-SHA-256, or over TLS SCRAM-SHA-256-PLUS if the client picks it; Ok(false)
/// when the proof is wrong, or channel binding fails or was stripped (a downgrade).
async fn scram(client: &mut ClientConn, server: ScramServer) -> Result<bool, SessionError> {
    let mut server = match &client.transport {
        Transport::Tls {
            end_point: Some(end_point),
        } => server.bound_to(end_point.to_vec()),
        _ => server,
    };
    encode::authentication_sasl(&mut client.wbuf, server.mechanisms());
    client.flush().await?;
    let body = read_password_message(client).await?;
    let initial = SaslInitialResponse::parse(&body)?;
    let server_first = match server.client_first(initial.mechanism, initial.data) {
        Ok(server_first) => server_first,
        Err(e) => {
            tracing::info!(error = %e, "SCRAM exchange refused");
            return Ok(false);
        }
    };
    encode::authentication_sasl_continue(&mut client.wbuf, &server_first);
    client.flush().await?;
    let body = read_password_message(client).await?;
    match server.client_final(&body) {
        Ok(server_final) => {
            encode::authentication_sasl_final(&mut client.wbuf, &server_final);
            Ok(true)
        }
        Err(e) => {
            if !matches!(e, ScramError::InvalidProof) {
                tracing::info!(error = %e, "SCRAM exchange refused");
            }
            Ok(false)
        }
    }
}

async fn md5_exchange(client: &mut ClientConn, user: &UserEntry) -> Result<bool, SessionError> {
    let salt: [u8; 4] = rand::random();
    encode::authentication_md5_password(&mut client.wbuf, salt);
    client.flush().await?;
    let body = read_password_message(client).await?;
    let response = frontend::password(&body)?;
    let versions = user.credentials.versions();
    Ok(versions.md5_matches(&user.name, salt, response))
}

async fn read_password_message(client: &mut ClientConn) -> Result<bytes::Bytes, SessionError> {
    let (tag, body) = client.read_message().await?;
    // The length only: the body is a password, a hash or a proof.
    tracing::trace!(
        ?tag,
        len = body.len(),
        "authentication message from the client"
    );
    match tag {
        FrontendTag::Password => Ok(body),
        FrontendTag::Terminate => Err(SessionError::ClientGone),
        other => Err(ProtocolError::Unexpected {
            tag: other.byte(),
            context: "during authentication (expected a password message)",
        }
        .into()),
    }
}
