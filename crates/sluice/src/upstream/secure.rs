//! SSLRequest to PostgreSQL and what each tls_mode does with the answer.

use bytes::BytesMut;
use config::{HostPort, ServerTlsMode};
use pgwire::encode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::UpstreamError;
use crate::tls::{hand_over, ServerTls};

/// What the connection to the server turned out to be.
pub enum Link {
    Plain,
    /// TLS; `end_point` is the server certificate's channel-binding data, if it has one.
    Tls {
        end_point: Option<Vec<u8>>,
    },
}

/// Asks for TLS as `tls.mode` says; returns the socket to speak the protocol on (the pump's
/// plaintext end when encrypted).
pub async fn secure(
    mut tcp: TcpStream,
    host: &HostPort,
    tls: &ServerTls,
) -> Result<(TcpStream, Link), UpstreamError> {
    if tls.mode == ServerTlsMode::Disable {
        return Ok((tcp, Link::Plain));
    }
    let mut out = BytesMut::new();
    encode::ssl_request(&mut out);
    tcp.write_all(&out).await?;
    // Exactly one byte: anything the server sent after 'S' must go to the TLS handshake, never
    // be taken for protocol data (CVE-2021-23222).
    match tcp.read_u8().await? {
        b'S' => {
            let secured =
                tls.handshake(tcp, &host.host)
                    .await
                    .map_err(|source| UpstreamError::Tls {
                        host: host.to_string(),
                        source,
                    })?;
            let stream = hand_over(secured.stream)?;
            let end_point = secured.end_point;
            Ok((stream, Link::Tls { end_point }))
        }
        b'N' if tls.mode == ServerTlsMode::Prefer => Ok((tcp, Link::Plain)),
        b'N' => Err(UpstreamError::TlsRefused {
            host: host.to_string(),
            mode: tls.mode,
        }),
        _ => Err(UpstreamError::UnexpectedReply("to SSLRequest")),
    }
}
