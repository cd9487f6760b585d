//! The exchange with the client: SCRAM-SHA-256 or md5, as the user is configured; for users
//! who may log in with a token, a cleartext password message over TLS (see `token_login`).

use std::sync::Arc;

use pgwire::auth::{ScramError, ScramSecret, ScramServer};
use pgwire::frontend::{self, SaslInitialResponse};
use pgwire::{encode, FrontendTag, ProtocolError};

use super::token_login::token_login;
use super::UserEntry;
use crate::accept::{ClientConn, Transport};
use crate::error::SessionError;
use crate::proxy::Shared;
use config::{ClientAuth, TokenAuth};

/// Authenticates the client as `user`. Unknown users go through a SCRAM exchange with a fake
/// verifier and fail at the same step with the same message as a wrong password.
pub async fn authenticate(
    client: &mut ClientConn,
    shared: &Shared,
    user: &str,
) -> Result<Arc<UserEntry>, SessionError> {
    let failed = |reason| SessionError::AuthFailed {
        user: user.to_owned(),
        reason,
    };
    let users = shared.users();
    tracing::debug!(
        method = users.method_for(user).as_str(),
        "authenticating the client"
    );
    let Some(entry) = users.get(user) else {
        let mock = ScramServer::new(ScramSecret::mock(user, &shared.process_key));
        scram(client, mock).await?;
        return Err(failed("unknown user"));
    };
    let on_tls = matches!(client.transport, Transport::Tls { .. });
    match (entry.token_auth, on_tls) {
        // Boxed: the token exchange would otherwise grow every session's task.
        (TokenAuth::Optional | TokenAuth::Required, true) => {
            Box::pin(token_login(client, &shared.tokens.load(), entry)).await?;
            return Ok(entry.clone());
        }
        (TokenAuth::Required, false) => {
            return Err(SessionError::TokenNeedsTls {
                user: user.to_owned(),
            })
        }
        (TokenAuth::Optional | TokenAuth::Disabled, _) => {}
    }
    if password_exchange(client, entry).await? {
        return Ok(entry.clone());
    }
    Err(match entry.token_auth {
        TokenAuth::Optional => SessionError::PasswordFailedTokenNeedsTls {
            user: user.to_owned(),
        },
        _ => failed("wrong password"),
    })
}

/// The user's configured exchange; Ok(false) for a wrong password.
async fn password_exchange(
    client: &mut ClientConn,
    entry: &UserEntry,
) -> Result<bool, SessionError> {
    match entry.client_auth {
        ClientAuth::ScramSha256 => scram(client, entry.credentials.versions().scram_server()).await,
        ClientAuth::Md5 => md5_exchange(client, entry).await,
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

pub(super) async fn read_password_message(
    client: &mut ClientConn,
) -> Result<bytes::Bytes, SessionError> {
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
