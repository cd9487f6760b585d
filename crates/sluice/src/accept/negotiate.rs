//! The first packet(s): SSLRequest (TLS when configured, else 'N'), direct TLS (PostgreSQL
//! 17: the connection opens with a TLS ClientHello), GSSENCRequest ('N'), then a
//! CancelRequest or the StartupMessage.

use pgwire::startup::{parse_startup, startup_packet_len};
use pgwire::{CancelKey, StartupMessage, StartupRequest};

use super::{ClientConn, Transport};
use crate::error::SessionError;
use crate::tls::{local_pair, ClientTls};

/// The first byte of a TLS handshake record; a startup packet starts with its length, whose
/// first byte is 0 for any length PostgreSQL accepts.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

pub enum Negotiated {
    Startup(StartupMessage),
    Cancel(CancelKey),
}

/// Reads startup packets until a StartupMessage or CancelRequest arrives, setting up TLS on
/// the way when `tls` is configured.
pub async fn negotiate(
    client: &mut ClientConn,
    tls: Option<&ClientTls>,
) -> Result<Negotiated, SessionError> {
    if let Some(tls) = tls {
        if opens_with_tls(client).await? {
            start_tls(client, tls, true).await?;
        }
    }
    loop {
        let Some(len) = startup_packet_len(&client.rbuf)? else {
            client.read_more().await?;
            continue;
        };
        let packet = client.rbuf.split_to(len);
        match parse_startup(&packet)? {
            StartupRequest::SslRequest => match (tls, &client.transport) {
                (_, Transport::Tls { .. }) => return Err(SessionError::SslRequestInsideTls),
                (Some(tls), Transport::Plain) => {
                    // Anything already here was sent in plaintext before the handshake.
                    if !client.rbuf.is_empty() {
                        return Err(SessionError::DataAfterSslRequest);
                    }
                    client.wbuf.extend_from_slice(b"S");
                    client.flush().await?;
                    start_tls(client, tls, false).await?;
                }
                (None, Transport::Plain) => decline(client).await?,
            },
            StartupRequest::GssEncRequest => decline(client).await?,
            StartupRequest::Cancel(key) => return Ok(Negotiated::Cancel(key)),
            StartupRequest::Startup(startup) => {
                let required = tls.is_some_and(|t| t.require_tls);
                if required && matches!(client.transport, Transport::Plain) {
                    return Err(SessionError::TlsRequired);
                }
                return Ok(Negotiated::Startup(startup));
            }
        }
    }
}

async fn decline(client: &mut ClientConn) -> Result<(), SessionError> {
    client.wbuf.extend_from_slice(b"N");
    client.flush().await
}

/// Peeks at the first byte without taking it, so a TLS ClientHello reaches the handshake whole.
async fn opens_with_tls(client: &mut ClientConn) -> Result<bool, SessionError> {
    if !client.rbuf.is_empty() {
        return Ok(client.rbuf[0] == TLS_HANDSHAKE_RECORD);
    }
    let mut first = [0u8; 1];
    let n = client
        .stream
        .peek(&mut first)
        .await
        .map_err(SessionError::ClientIo)?;
    match n {
        0 => Err(SessionError::ClientGone),
        _ => Ok(first[0] == TLS_HANDSHAKE_RECORD),
    }
}

/// Handshakes on the client's socket and puts the plaintext end of the pump in its place.
async fn start_tls(
    client: &mut ClientConn,
    tls: &ClientTls,
    direct: bool,
) -> Result<(), SessionError> {
    let (session_end, pump_end) = local_pair().map_err(SessionError::ClientIo)?;
    let tcp = std::mem::replace(&mut client.stream, session_end);
    let accepted = tls
        .accept(tcp, direct)
        .await
        .map_err(SessionError::TlsHandshake)?;
    pump_end.start(accepted.stream);
    client.transport = Transport::Tls {
        end_point: accepted.end_point.map(Vec::into_boxed_slice),
    };
    Ok(())
}
