//! Login with a token (or, for `token_auth = "optional"`, the password) sent in a cleartext
//! password message. Only ever asked for over TLS.

use pgwire::{encode, frontend};

use super::client_auth::read_password_message;
use super::UserEntry;
use crate::accept::ClientConn;
use crate::error::SessionError;
use crate::tokens::{looks_like_token, TokenRefusal, TokenVerifier};
use config::TokenAuth;

/// Asks for the password in the clear and checks what comes back: a token against the
/// trusted keys, or (when the user allows it) the configured password.
pub(super) async fn token_login(
    client: &mut ClientConn,
    tokens: &TokenVerifier,
    entry: &UserEntry,
) -> Result<(), SessionError> {
    encode::authentication_cleartext_password(&mut client.wbuf);
    client.flush().await?;
    let body = read_password_message(client).await?;
    let presented = frontend::password(&body)?;
    let user = entry.name.to_string();
    let as_text = std::str::from_utf8(presented).ok();
    if let Some(token) = as_text.filter(|t| looks_like_token(t)) {
        let identity = tokens
            .verify(token, &entry.name)
            .map_err(|refusal| SessionError::TokenRefused { user, refusal })?;
        tracing::info!(
            issuer = %identity.issuer,
            claim = %identity.claim,
            value = %identity.value,
            "token accepted"
        );
        return Ok(());
    }
    match entry.token_auth {
        TokenAuth::Required => Err(SessionError::TokenRefused {
            user,
            refusal: TokenRefusal::NotAToken,
        }),
        _ => match entry.credentials.versions().cleartext_matches(presented) {
            true => Ok(()),
            false => Err(SessionError::AuthFailed {
                user,
                reason: "wrong password",
            }),
        },
    }
}
