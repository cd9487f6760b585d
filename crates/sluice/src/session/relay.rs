//! Relaying one borrowed server connection: bytes flow both ways as they arrive, scanned on
//! headers only, until the server is idle again (transaction mode) or the client leaves.

use bytes::{Buf, BytesMut};
use pgwire::scan::{Scanner, Seen};
use pgwire::ProtocolError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::exchange::{ClientStep, Exchange};
use crate::accept::ClientConn;
use crate::upstream::ServerConn;

const READ_CHUNK: usize = 16 * 1024;

/// Why the relay stopped.
#[derive(Debug)]
pub enum RelayEnd {
    /// Every request answered, no transaction open, nothing in flight: give the server back.
    Idle,
    /// The client sent Terminate. Anything it sent before that reached the server.
    ClientTerminated,
    /// The client's socket closed or failed.
    ClientGone,
    /// The client broke the protocol.
    ClientProtocol(ProtocolError),
    /// The server closed or failed; whatever it sent first reached the client.
    ServerLost(String),
    /// The server broke the protocol.
    ServerProtocol(ProtocolError),
}

/// The scanners of both directions: they remember a message forwarded in pieces.
pub struct Scanners {
    pub client: Scanner,
    pub server: Scanner,
}

/// Relays until `Idle` (only when `release_when_idle`) or an end.
pub async fn relay(
    client: &mut ClientConn,
    server: &mut ServerConn,
    ex: &mut Exchange,
    scanners: &mut Scanners,
    release_when_idle: bool,
) -> RelayEnd {
    let mut to_server = BytesMut::new();
    let mut to_client = BytesMut::new();
    let mut terminated = false;
    loop {
        if to_server.is_empty() && !terminated && !client.rbuf.is_empty() {
            match scan_client(client, &mut scanners.client, ex) {
                Ok((ready, step)) => {
                    to_server = client.rbuf.split_to(ready);
                    if step == ClientStep::Terminate {
                        terminated = true;
                        client.rbuf.clear();
                    }
                }
                Err(e) => return RelayEnd::ClientProtocol(e),
            }
        }
        if to_client.is_empty() && !server.rbuf.is_empty() {
            let ready =
                match scanners
                    .server
                    .scan(&server.rbuf, Exchange::server_needs_body, |_, seen| {
                        ex.server_message(seen)
                    }) {
                    Ok(ready) => ready,
                    Err(e) => return RelayEnd::ServerProtocol(e),
                };
            to_client = server.rbuf.split_to(ready);
        }
        if let Err(end) = write_now(server, &mut to_server, client, &mut to_client) {
            return end;
        }
        if to_server.is_empty() && to_client.is_empty() {
            if terminated {
                return RelayEnd::ClientTerminated;
            }
            if release_when_idle && ex.is_idle() && client.rbuf.is_empty() && server.rbuf.is_empty()
            {
                return RelayEnd::Idle;
            }
        }
        if let Err(end) = wait(client, server, &mut to_server, &mut to_client, terminated).await {
            if matches!(end, RelayEnd::ServerLost(_)) {
                flush_before_close(client, &mut to_client).await;
            }
            return end;
        }
    }
}

/// Scans the client's bytes; stops at Terminate, which is not forwarded.
fn scan_client(
    client: &ClientConn,
    scanner: &mut Scanner,
    ex: &mut Exchange,
) -> Result<(usize, ClientStep), ProtocolError> {
    let mut terminate_at = None;
    let ready = scanner.scan(
        &client.rbuf,
        |_| false,
        |offset, seen: Seen<'_>| {
            if terminate_at.is_some() {
                return Ok(());
            }
            if ex.client_message(seen.tag())? == ClientStep::Terminate {
                terminate_at = Some(offset);
            }
            Ok::<(), ProtocolError>(())
        },
    )?;
    Ok(match terminate_at {
        Some(at) => (at, ClientStep::Terminate),
        None => (ready, ClientStep::Forward),
    })
}

/// Writes what the sockets take without waiting: in the common case one request and one reply
/// need no trip through the select below.
fn write_now(
    server: &mut ServerConn,
    to_server: &mut BytesMut,
    client: &mut ClientConn,
    to_client: &mut BytesMut,
) -> Result<(), RelayEnd> {
    try_write(&server.stream, to_server).map_err(|e| RelayEnd::ServerLost(e.to_string()))?;
    try_write(&client.stream, to_client).map_err(|_| RelayEnd::ClientGone)
}

fn try_write(stream: &tokio::net::TcpStream, buf: &mut BytesMut) -> std::io::Result<()> {
    while !buf.is_empty() {
        match stream.try_write(buf) {
            Ok(n) => buf.advance(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits for the next thing to do: a socket ready to take pending bytes, or new bytes to read.
/// A direction reads only once its previous bytes are written (backpressure both ways).
async fn wait(
    client: &mut ClientConn,
    server: &mut ServerConn,
    to_server: &mut BytesMut,
    to_client: &mut BytesMut,
    terminated: bool,
) -> Result<(), RelayEnd> {
    let (mut client_read, mut client_write) = client.stream.split();
    let (mut server_read, mut server_write) = server.stream.split();
    if to_server.is_empty() {
        client.rbuf.reserve(READ_CHUNK);
    }
    if to_client.is_empty() {
        server.rbuf.reserve(READ_CHUNK);
    }
    let server_lost = |e: std::io::Error| RelayEnd::ServerLost(e.to_string());
    tokio::select! {
        biased;
        r = server_write.write_buf(to_server), if !to_server.is_empty() => {
            r.map_err(server_lost)?;
        }
        r = client_write.write_buf(to_client), if !to_client.is_empty() => {
            r.map_err(|_| RelayEnd::ClientGone)?;
        }
        r = server_read.read_buf(&mut server.rbuf), if to_client.is_empty() => {
            if r.map_err(server_lost)? == 0 {
                return Err(RelayEnd::ServerLost("server closed the connection".into()));
            }
        }
        r = client_read.read_buf(&mut client.rbuf), if to_server.is_empty() && !terminated => {
            if r.map_err(|_| RelayEnd::ClientGone)? == 0 {
                return Err(RelayEnd::ClientGone);
            }
        }
    }
    Ok(())
}

/// The server is gone: make sure what it said last (often its FATAL) reaches the client.
async fn flush_before_close(client: &mut ClientConn, to_client: &mut BytesMut) {
    let write = client.stream.write_all(to_client);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), write).await;
    to_client.clear();
}
