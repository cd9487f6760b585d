//! Logging in to PostgreSQL as a configured user, with whatever method the server asks for.

use bytes::BytesMut;
use pgwire::auth::scram::SCRAM_SHA_256;
use pgwire::auth::{md5, ScramClient, ScramKeyCache};
use pgwire::backend::{self, Authentication};
use pgwire::{encode, BackendTag, ErrorFields};
use tokio::io::AsyncWriteExt;

use super::{ServerConn, UpstreamError};

/// Answers authentication requests until AuthenticationOk, then collects ParameterStatus and
/// BackendKeyData up to the first ReadyForQuery.
pub async fn login(
    conn: &mut ServerConn,
    user: &str,
    password: &str,
    key_cache: &ScramKeyCache,
) -> Result<(), UpstreamError> {
    authenticate(conn, user, password, key_cache).await?;
    loop {
        let (tag, body) = conn.read_message().await?;
        match tag {
            BackendTag::ParameterStatus => {
                let (name, value) = backend::parameter_status(&body)?;
                conn.params.push((name.to_owned(), value.to_owned()));
            }
            BackendTag::BackendKeyData => conn.cancel_key = backend::backend_key_data(&body)?,
            BackendTag::ReadyForQuery => return Ok(()),
            BackendTag::ErrorResponse => {
                return Err(UpstreamError::Rejected(ErrorFields::parse(&body)?))
            }
            BackendTag::NoticeResponse => {}
            _ => return Err(UpstreamError::UnexpectedReply("during login")),
        }
    }
}

async fn authenticate(
    conn: &mut ServerConn,
    user: &str,
    password: &str,
    key_cache: &ScramKeyCache,
) -> Result<(), UpstreamError> {
    let mut scram: Option<ScramClient> = None;
    let mut out = BytesMut::new();
    loop {
        let (tag, body) = conn.read_message().await?;
        match tag {
            BackendTag::Authentication => {}
            BackendTag::ErrorResponse => {
                return Err(UpstreamError::Rejected(ErrorFields::parse(&body)?))
            }
            BackendTag::NegotiateProtocolVersion | BackendTag::NoticeResponse => continue,
            _ => return Err(UpstreamError::UnexpectedReply("before authentication")),
        }
        out.clear();
        let request = Authentication::parse(&body)?;
        tracing::trace!(
            user,
            request = kind(&request),
            "server authentication request"
        );
        match request {
            Authentication::Ok => return Ok(()),
            Authentication::CleartextPassword => encode::password_message(&mut out, password),
            Authentication::Md5Password { salt } => {
                encode::password_message(&mut out, &md5::md5_password_message(user, password, salt))
            }
            Authentication::Sasl { mechanisms } => {
                if !mechanisms.contains(&SCRAM_SHA_256) {
                    return Err(UpstreamError::UnexpectedReply(
                        "no SASL mechanism Sluice speaks",
                    ));
                }
                let client = ScramClient::new(password);
                encode::sasl_initial_response(&mut out, SCRAM_SHA_256, &client.client_first());
                scram = Some(client);
            }
            Authentication::SaslContinue(data) => {
                let client = scram
                    .as_mut()
                    .ok_or(UpstreamError::UnexpectedReply("SASLContinue without SASL"))?;
                let reply = client.server_first_with_cache(data, key_cache)?;
                encode::sasl_response(&mut out, &reply);
            }
            Authentication::SaslFinal(data) => {
                let client = scram
                    .as_ref()
                    .ok_or(UpstreamError::UnexpectedReply("SASLFinal without SASL"))?;
                client.server_final(data)?;
                continue;
            }
            Authentication::Unsupported(code) => return Err(UpstreamError::AuthUnsupported(code)),
        }
        conn.stream.write_all(&out).await?;
    }
}

/// The request's name, for trace logs (SASL payloads carry nonces and proofs: never logged).
fn kind(request: &Authentication<'_>) -> &'static str {
    match request {
        Authentication::Ok => "AuthenticationOk",
        Authentication::CleartextPassword => "AuthenticationCleartextPassword",
        Authentication::Md5Password { .. } => "AuthenticationMD5Password",
        Authentication::Sasl { .. } => "AuthenticationSASL",
        Authentication::SaslContinue(_) => "AuthenticationSASLContinue",
        Authentication::SaslFinal(_) => "AuthenticationSASLFinal",
        Authentication::Unsupported(_) => "unsupported",
    }
}
