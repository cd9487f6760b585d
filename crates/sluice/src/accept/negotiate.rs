//! The first packet(s): answer SSLRequest and GSSENCRequest with 'N' (no TLS yet), hand back a
//! CancelRequest or the StartupMessage.

use pgwire::startup::{parse_startup, startup_packet_len};
use pgwire::{CancelKey, StartupMessage, StartupRequest};

use super::ClientConn;
use crate::error::SessionError;

pub enum Negotiated {
    Startup(StartupMessage),
    Cancel(CancelKey),
}

/// Reads startup packets until a StartupMessage or CancelRequest arrives.
pub async fn negotiate(client: &mut ClientConn) -> Result<Negotiated, SessionError> {
    loop {
        let Some(len) = startup_packet_len(&client.rbuf)? else {
            client.read_more().await?;
            continue;
        };
        let packet = client.rbuf.split_to(len);
        match parse_startup(&packet)? {
            StartupRequest::SslRequest | StartupRequest::GssEncRequest => {
                client.wbuf.extend_from_slice(b"N");
                client.flush().await?;
            }
            StartupRequest::Cancel(key) => return Ok(Negotiated::Cancel(key)),
            StartupRequest::Startup(startup) => return Ok(Negotiated::Startup(startup)),
        }
    }
}
