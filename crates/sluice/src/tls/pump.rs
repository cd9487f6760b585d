//! Hands a TLS session to the session code as a plain socket.
//!
//! The relay is built on readiness (`readable()`, `try_read`, `try_write`) so that both
//! directions wait at once without copies; a TLS stream offers no such interface. So a small
//! task per TLS connection moves bytes between the TLS stream and one end of a local socket
//! pair, and the session gets the other end. `recv`, `send` and `shutdown` behave the same on
//! a Unix socket as on TCP, which is all the session does with its socket, so the local end is
//! handed over as a `TcpStream` and everything downstream stays as it is.
//!
//! Closing either side closes the other: the session dropping its end ends the pump, which
//! sends close_notify; the peer closing makes the session read EOF.

use std::os::fd::OwnedFd;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixStream};

/// Each direction's copy buffer, held for the connection's life: small, since thousands of
/// idle clients each have two (8 KiB buffers measured 29 KiB per idle TLS client, 4 KiB 21 KiB;
/// see docs/security.md).
const PUMP_BUFFER: usize = 4 * 1024;
/// How long closing the TLS session (sending close_notify) may take.
const CLOSE_NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts the pump for `tls` and returns the session's end.
pub fn hand_over<S>(tls: S) -> std::io::Result<TcpStream>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (session_end, pump_end) = local_pair()?;
    pump_end.start(tls);
    Ok(session_end)
}

/// A connected pair: the session's end, and the pump's end to start once the handshake on
/// the real socket is done.
pub fn local_pair() -> std::io::Result<(TcpStream, PumpEnd)> {
    let (session_end, pump_end) = std::os::unix::net::UnixStream::pair()?;
    session_end.set_nonblocking(true)?;
    pump_end.set_nonblocking(true)?;
    let pump_end = UnixStream::from_std(pump_end)?;
    let session_end = TcpStream::from_std(std::net::TcpStream::from(OwnedFd::from(session_end)))?;
    Ok((session_end, PumpEnd(pump_end)))
}

/// The pump's end of a [`local_pair`].
pub struct PumpEnd(UnixStream);

impl PumpEnd {
    pub fn start<S>(self, tls: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        tokio::spawn(pump(tls, self.0));
    }
}

/// Runs until the session closes its end (then close_notify goes to the peer) or either side
/// fails. The peer closing first only closes the session's read side: the session still
/// gets to send its last words, and then closes.
async fn pump<S>(tls: S, local: UnixStream)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (tls_read, mut tls_write) = tokio::io::split(tls);
    let (local_read, mut local_write) = local.into_split();
    let outbound = async {
        let mut from_session = BufReader::with_capacity(PUMP_BUFFER, local_read);
        tokio::io::copy_buf(&mut from_session, &mut tls_write).await?;
        // close_notify; a peer that stopped reading must not keep the task and socket alive.
        tokio::time::timeout(CLOSE_NOTIFY_TIMEOUT, tls_write.shutdown())
            .await
            .unwrap_or(Ok(()))
    };
    let inbound = async {
        let mut from_peer = BufReader::with_capacity(PUMP_BUFFER, tls_read);
        tokio::io::copy_buf(&mut from_peer, &mut local_write).await?;
        local_write.shutdown().await?;
        std::future::pending::<std::io::Result<()>>().await
    };
    let ended = tokio::select! {
        ended = outbound => ended,
        ended = inbound => ended,
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, "TLS connection ended");
    }
}
