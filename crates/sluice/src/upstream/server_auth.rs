//! Logging in to PostgreSQL as a configured user, with whatever method the server asks for
//! that `server_auth` allows: SCRAM-SHA-256-PLUS over TLS when offered, else SCRAM-SHA-256,
//! md5, or a cleartext password (only over TLS).

use bytes::BytesMut;
use config::ServerAuth;
use pgwire::auth::scram::{SCRAM_SHA_256, SCRAM_SHA_256_PLUS};
use pgwire::auth::{md5, ClientBinding, ScramClient, ScramKeyCache};
use pgwire::backend::{self, Authentication};
use pgwire::{encode, BackendTag, ErrorFields};
use tokio::io::AsyncWriteExt;

use super::secure::Link;
use super::{ServerConn, UpstreamError};

/// Who logs in, over what, and which methods are allowed.
pub struct Login<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub key_cache: &'a ScramKeyCache,
    pub link: &'a Link,
    pub allowed: ServerAuth,
}

/// Answers authentication requests until AuthenticationOk, then collects ParameterStatus and
/// BackendKeyData up to the first ReadyForQuery.
pub async fn login(conn: &mut ServerConn, login: &Login<'_>) -> Result<(), UpstreamError> {
    authenticate(conn, login).await?;
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

async fn authenticate(conn: &mut ServerConn, login: &Login<'_>) -> Result<(), UpstreamError> {
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
            user = login.user,
            request = kind(&request),
            "server authentication request"
        );
        match request {
            Authentication::Ok => return Ok(()),
            Authentication::CleartextPassword => {
                allow_password_method(login, "a cleartext password")?;
                if matches!(login.link, Link::Plain) {
                    return Err(UpstreamError::CleartextWithoutTls);
                }
                encode::password_message(&mut out, login.password)
            }
            Authentication::Md5Password { salt } => {
                allow_password_method(login, "md5")?;
                let hashed = md5::md5_password_message(login.user, login.password, salt);
                encode::password_message(&mut out, &hashed)
            }
            Authentication::Sasl { mechanisms } => {
                let client = start_scram(login, &mechanisms)?;
                encode::sasl_initial_response(&mut out, client.mechanism(), &client.client_first());
                scram = Some(client);
            }
            Authentication::SaslContinue(data) => {
                let client = scram
                    .as_mut()
                    .ok_or(UpstreamError::UnexpectedReply("SASLContinue without SASL"))?;
                let reply = client.server_first_with_cache(data, login.key_cache)?;
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

fn allow_password_method(login: &Login<'_>, method: &'static str) -> Result<(), UpstreamError> {
    match login.allowed {
        ServerAuth::Any => Ok(()),
        ServerAuth::ScramSha256 => Err(UpstreamError::AuthNotAllowed {
            method,
            allowed: login.allowed,
        }),
    }
}

/// SCRAM-SHA-256-PLUS when the server offers it over TLS and the certificate allows binding;
/// otherwise SCRAM-SHA-256, telling the server whether we could have bound ('y') so that a
/// server which did offer PLUS can detect the offer was stripped on the way.
fn start_scram(login: &Login<'_>, mechanisms: &[&str]) -> Result<ScramClient, UpstreamError> {
    let end_point = match login.link {
        Link::Tls {
            end_point: Some(end_point),
        } => Some(end_point),
        _ => None,
    };
    let binding = match end_point {
        Some(data) if mechanisms.contains(&SCRAM_SHA_256_PLUS) => {
            ClientBinding::TlsServerEndPoint(data.clone())
        }
        _ if !mechanisms.contains(&SCRAM_SHA_256) => {
            return Err(UpstreamError::UnexpectedReply(
                "no SASL mechanism Sluice speaks",
            ))
        }
        Some(_) => ClientBinding::ServerDidNotOffer,
        None => ClientBinding::NotSupported,
    };
    Ok(ScramClient::with_binding(login.password, binding))
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
