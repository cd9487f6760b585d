//! Relaying one borrowed server connection: bytes flow both ways as they arrive, scanned on
//! headers only, until the server is idle again (transaction mode) or the client leaves.
//!
//! Forwarding is zero-copy: scanned bytes are written straight from the read buffer of one side
//! to the other socket. A side is read again only once its previous bytes are written, which is
//! the backpressure in both directions.

use pgwire::scan::{Scanner, Seen};
use pgwire::ProtocolError;
use tokio::io::AsyncWriteExt;

use super::exchange::{ClientStep, Exchange};
use super::io::{try_read_into, try_write_from, Read};
use crate::accept::ClientConn;
use crate::upstream::ServerConn;

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

/// Bytes at the front of each read buffer that are scanned and due to the other side.
#[derive(Default)]
struct Due {
    to_server: usize,
    to_client: usize,
    terminated: bool,
}

/// Relays until `Idle` (only when `release_when_idle`) or an end.
pub async fn relay(
    client: &mut ClientConn,
    server: &mut ServerConn,
    ex: &mut Exchange,
    scanners: &mut Scanners,
    release_when_idle: bool,
) -> RelayEnd {
    let mut due = Due::default();
    loop {
        if let Err(end) = scan(client, server, ex, scanners, &mut due) {
            return end;
        }
        if let Err(end) = write_now(client, server, &mut due) {
            return end;
        }
        if due.to_server == 0 && due.to_client == 0 {
            if due.terminated {
                return RelayEnd::ClientTerminated;
            }
            let quiet = client.rbuf.is_empty() && server.rbuf.is_empty();
            if release_when_idle && quiet && ex.is_idle() {
                return RelayEnd::Idle;
            }
        }
        if let Err(end) = wait(client, server, &mut due).await {
            if matches!(end, RelayEnd::ServerLost(_)) {
                flush_before_close(client, server, &mut due).await;
            }
            return end;
        }
    }
}

/// Scans newly read bytes of each side whose previous bytes are all written.
fn scan(
    client: &mut ClientConn,
    server: &mut ServerConn,
    ex: &mut Exchange,
    scanners: &mut Scanners,
    due: &mut Due,
) -> Result<(), RelayEnd> {
    if due.to_server == 0 && !due.terminated && !client.rbuf.is_empty() {
        let (ready, step) =
            scan_client(client, &mut scanners.client, ex).map_err(RelayEnd::ClientProtocol)?;
        due.to_server = ready;
        if step == ClientStep::Terminate {
            due.terminated = true;
            // The Terminate and anything after it are not the server's business.
            client.rbuf.truncate(ready);
        }
    }
    if due.to_client == 0 && !server.rbuf.is_empty() {
        due.to_client = scanners
            .server
            .scan(&server.rbuf, Exchange::server_needs_body, |_, seen| {
                ex.server_message(seen)
            })
            .map_err(RelayEnd::ServerProtocol)?;
    }
    Ok(())
}

/// Scans the client's bytes; stops at Terminate.
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

/// Writes what the sockets take without waiting: in the common case a request and its reply
/// each go out in one system call, with no trip through the select below.
fn write_now(
    client: &mut ClientConn,
    server: &mut ServerConn,
    due: &mut Due,
) -> Result<(), RelayEnd> {
    if due.to_server > 0 {
        due.to_server -= try_write_from(&server.stream, &mut client.rbuf, due.to_server)
            .map_err(|e| RelayEnd::ServerLost(e.to_string()))?;
    }
    if due.to_client > 0 {
        due.to_client -= try_write_from(&client.stream, &mut server.rbuf, due.to_client)
            .map_err(|_| RelayEnd::ClientGone)?;
    }
    Ok(())
}

/// Waits for one socket to become ready for what is pending, then does that one thing.
async fn wait(
    client: &mut ClientConn,
    server: &mut ServerConn,
    due: &mut Due,
) -> Result<(), RelayEnd> {
    let lost = |e: std::io::Error| RelayEnd::ServerLost(e.to_string());
    tokio::select! {
        biased;
        r = server.stream.writable(), if due.to_server > 0 => {
            r.map_err(lost)?;
            due.to_server -= try_write_from(&server.stream, &mut client.rbuf, due.to_server).map_err(lost)?;
        }
        r = client.stream.writable(), if due.to_client > 0 => {
            r.map_err(|_| RelayEnd::ClientGone)?;
            due.to_client -= try_write_from(&client.stream, &mut server.rbuf, due.to_client)
                .map_err(|_| RelayEnd::ClientGone)?;
        }
        r = server.stream.readable(), if due.to_client == 0 => {
            r.map_err(lost)?;
            if let Read::Eof = try_read_into(&server.stream, &mut server.rbuf).map_err(lost)? {
                return Err(RelayEnd::ServerLost("server closed the connection".into()));
            }
        }
        r = client.stream.readable(), if due.to_server == 0 && !due.terminated => {
            r.map_err(|_| RelayEnd::ClientGone)?;
            match try_read_into(&client.stream, &mut client.rbuf) {
                Ok(Read::Eof) | Err(_) => return Err(RelayEnd::ClientGone),
                Ok(_) => {}
            }
        }
    }
    Ok(())
}

/// The server is gone: make sure what it said last (often its FATAL) reaches the client.
async fn flush_before_close(client: &mut ClientConn, server: &mut ServerConn, due: &mut Due) {
    let last_words = &server.rbuf[..due.to_client];
    let write = client.stream.write_all(last_words);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), write).await;
    due.to_client = 0;
}
