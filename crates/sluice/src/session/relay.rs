//! Relaying one borrowed server connection: bytes flow both ways as they arrive, scanned on
//! headers only, until the server is idle again (transaction mode) or the client leaves.
//!
//! Forwarding is zero-copy: scanned bytes are written straight from the read buffer of one side
//! to the other socket. A side is read again only once its previous bytes are written, which is
//! the backpressure in both directions.

use pgwire::scan::{Scanner, Seen};
use pgwire::{BackendTag, ProtocolError};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::exchange::{ClientStep, Exchange};
use super::io::{try_read_into, Read};
use super::outbox::{Edits, Outbox};
use super::rewrite::{client_needs_body, OnServer, Rewriter};
use crate::accept::ClientConn;
use crate::clients::{ClientEntry, KillReason};
use crate::metrics::ProxyStats;
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
    /// KILL_CLIENT, or still running at shutdown_timeout. The server connection is discarded;
    /// `at_boundary` says the client got every message it was sent whole, so it can be told
    /// why with a FATAL.
    Killed {
        reason: KillReason,
        at_boundary: bool,
    },
    /// The client broke the protocol.
    ClientProtocol(ProtocolError),
    /// The server closed or failed; whatever it sent first reached the client.
    ServerLost(String),
    /// The server broke the protocol.
    ServerProtocol(ProtocolError),
    /// Idle, pinned, and the client ran something that may have ended the pinned state: the
    /// session should ask the server.
    CheckPin,
}

/// The scanners of both directions: they remember a message forwarded in pieces.
pub struct Scanners {
    pub client: Scanner,
    pub server: Scanner,
}

/// What each direction still has to write.
#[derive(Default)]
struct Pending {
    to_server: Outbox,
    to_client: Outbox,
    terminated: bool,
    /// When the request now waiting for its ReadyForQuery was forwarded (query latency).
    request_since: Option<Instant>,
}

/// Relays until `Idle` (only when `release_when_idle`) or an end.
pub async fn relay(
    client: &mut ClientConn,
    server: &mut ServerConn,
    ex: &mut Exchange,
    scanners: &mut Scanners,
    rewriter: &mut Rewriter<'_>,
    release_when_idle: bool,
    stats: &ProxyStats,
) -> RelayEnd {
    let mut pending = Pending::default();
    loop {
        if let Err(end) = scan(client, server, ex, scanners, rewriter, &mut pending, stats) {
            return end;
        }
        if let Err(end) = write_now(client, server, &mut pending) {
            return end;
        }
        if pending.to_server.is_empty() && pending.to_client.is_empty() {
            if pending.terminated {
                return RelayEnd::ClientTerminated;
            }
            let quiet = client.rbuf.is_empty() && server.rbuf.is_empty();
            if release_when_idle && quiet && ex.is_idle() {
                if rewriter.pin.is_none() {
                    return RelayEnd::Idle;
                }
                if rewriter.maybe_released && !rewriter.pin_for_good {
                    return RelayEnd::CheckPin;
                }
            }
        }
        match wait(client, server, &mut pending, rewriter.client).await {
            Ok(()) => {}
            Err(RelayEnd::ServerLost(cause)) => {
                flush_before_close(client, server, &mut pending).await;
                return RelayEnd::ServerLost(cause);
            }
            Err(RelayEnd::Killed { reason, .. }) => {
                let at_boundary =
                    finish_message(client, server, &mut scanners.server, &mut pending).await;
                return RelayEnd::Killed {
                    reason,
                    at_boundary,
                };
            }
            Err(end) => return end,
        }
    }
}

/// Scans newly read bytes of each side whose previous bytes are all written.
fn scan(
    client: &mut ClientConn,
    server: &mut ServerConn,
    ex: &mut Exchange,
    scanners: &mut Scanners,
    rewriter: &mut Rewriter<'_>,
    pending: &mut Pending,
    stats: &ProxyStats,
) -> Result<(), RelayEnd> {
    if pending.to_server.is_empty() && !pending.terminated && !client.rbuf.is_empty() {
        let mut rewriter = rewriter.on(&mut server.prepared);
        let (len, step) = scan_client(
            client,
            &mut scanners.client,
            ex,
            &mut rewriter,
            &mut pending.to_server,
        )
        .map_err(RelayEnd::ClientProtocol)?;
        if len > 0 && pending.request_since.is_none() {
            pending.request_since = Some(Instant::now());
        }
        if step == ClientStep::Terminate {
            pending.terminated = true;
            // The Terminate and anything after it are not the server's business.
            client.rbuf.truncate(len);
        }
        if let Some(replies) = ex.take_synthetic() {
            pending.to_client.push_owned(replies);
        }
    }
    if pending.to_client.is_empty() && !server.rbuf.is_empty() {
        let (reported, answered) =
            scan_server(server, &mut scanners.server, ex, &mut pending.to_client)
                .map_err(RelayEnd::ServerProtocol)?;
        if answered > 0 {
            count_answers(stats, pending, answered, ex.pending_ready() > 0);
        }
        for (name, value) in reported {
            server.record_parameter(&name, &value);
        }
        for name in ex.not_prepared.drain(..) {
            server.prepared.remove(&name);
        }
    }
    Ok(())
}

/// Records requests answered by ReadyForQuery, and how long each took since it (or, when
/// pipelined, the previous answer) went out.
fn count_answers(stats: &ProxyStats, pending: &mut Pending, answered: u64, more_owed: bool) {
    let now = Instant::now();
    stats
        .query_requests
        .fetch_add(answered, std::sync::atomic::Ordering::Relaxed);
    if let Some(since) = pending.request_since {
        for _ in 0..answered {
            stats.query_latency.observe(now - since);
        }
    }
    pending.request_since = more_owed.then_some(now);
}

/// Scans the client's bytes into `out`; stops at Terminate. Returns the bytes taken.
fn scan_client(
    client: &ClientConn,
    scanner: &mut Scanner,
    ex: &mut Exchange,
    rewriter: &mut OnServer<'_, '_>,
    out: &mut Outbox,
) -> Result<(usize, ClientStep), ProtocolError> {
    let mut terminate_at = None;
    let mut edits = Edits::default();
    let ready = scanner.scan(&client.rbuf, client_needs_body, |offset, seen: Seen<'_>| {
        if terminate_at.is_some() {
            return Ok(());
        }
        let step = match seen {
            Seen::Whole(msg) => rewriter.message(offset, msg, ex, &mut edits)?,
            Seen::Partial { tag, .. } => ex.client_message(tag)?,
        };
        if step == ClientStep::Terminate {
            terminate_at = Some(offset);
        }
        Ok::<(), ProtocolError>(())
    })?;
    let (len, step) = match terminate_at {
        Some(at) => (at, ClientStep::Terminate),
        None => (ready, ClientStep::Forward),
    };
    out.push_scanned(len, edits);
    Ok((len, step))
}

/// Scans the server's bytes into `out`, dropping replies to injected messages and placing
/// Sluice's own replies where the server's would have been. Returns the ParameterStatus values
/// seen, so the connection's reported parameters stay current, and the number of
/// ReadyForQuery forwarded (requests answered).
fn scan_server(
    server: &ServerConn,
    scanner: &mut Scanner,
    ex: &mut Exchange,
    out: &mut Outbox,
) -> Result<(Vec<(String, String)>, u64), ProtocolError> {
    let mut edits = Edits::default();
    let mut reported = Vec::new();
    let mut answered = 0;
    let ready = scanner.scan(&server.rbuf, server_needs_body, |offset, seen| {
        let wire_len = match seen {
            Seen::Whole(msg) => msg.wire_len(),
            Seen::Partial { wire_len, .. } => wire_len,
        };
        if let Seen::Whole(msg) = seen {
            if msg.tag == BackendTag::ParameterStatus.byte() {
                let (name, value) = pgwire::backend::parameter_status(msg.body)?;
                reported.push((name.to_owned(), value.to_owned()));
            }
        }
        let is_ready = matches!(seen, Seen::Whole(m) if m.tag == BackendTag::ReadyForQuery.byte());
        if !ex.server_message(seen)? {
            edits.skip(offset, wire_len);
        } else if is_ready {
            answered += 1;
        }
        if let Some(replies) = ex.take_synthetic() {
            edits.insert(offset + wire_len, replies);
        }
        Ok::<(), ProtocolError>(())
    })?;
    out.push_scanned(ready, edits);
    Ok((reported, answered))
}

/// Only rows and COPY data may be large; they are streamed. Every other server message is read
/// whole, so replies can be matched, dropped or followed by Sluice's own exactly.
fn server_needs_body(tag: u8) -> bool {
    !matches!(tag, b'D' | b'd')
}

/// Writes what the sockets take without waiting: in the common case a request and its reply
/// each go out in one system call, with no trip through the select below.
fn write_now(
    client: &mut ClientConn,
    server: &mut ServerConn,
    pending: &mut Pending,
) -> Result<(), RelayEnd> {
    pending
        .to_server
        .try_write(&server.stream, &mut client.rbuf)
        .map_err(|e| RelayEnd::ServerLost(e.to_string()))?;
    pending
        .to_client
        .try_write(&client.stream, &mut server.rbuf)
        .map_err(|_| RelayEnd::ClientGone)?;
    Ok(())
}

/// Waits for one socket to become ready for what is pending, then does that one thing.
async fn wait(
    client: &mut ClientConn,
    server: &mut ServerConn,
    pending: &mut Pending,
    entry: &ClientEntry,
) -> Result<(), RelayEnd> {
    let lost = |e: std::io::Error| RelayEnd::ServerLost(e.to_string());
    let (to_server_empty, to_client_empty) =
        (pending.to_server.is_empty(), pending.to_client.is_empty());
    tokio::select! {
        biased;
        r = server.stream.writable(), if !to_server_empty => {
            r.map_err(lost)?;
            pending.to_server.try_write(&server.stream, &mut client.rbuf).map_err(lost)?;
        }
        r = client.stream.writable(), if !to_client_empty => {
            r.map_err(|_| RelayEnd::ClientGone)?;
            pending.to_client.try_write(&client.stream, &mut server.rbuf).map_err(|_| RelayEnd::ClientGone)?;
        }
        r = server.stream.readable(), if to_client_empty => {
            r.map_err(lost)?;
            if let Read::Eof = try_read_into(&server.stream, &mut server.rbuf).map_err(lost)? {
                return Err(RelayEnd::ServerLost("server closed the connection".into()));
            }
        }
        r = client.stream.readable(), if to_server_empty && !pending.terminated => {
            r.map_err(|_| RelayEnd::ClientGone)?;
            match try_read_into(&client.stream, &mut client.rbuf) {
                Ok(Read::Eof) | Err(_) => return Err(RelayEnd::ClientGone),
                Ok(_) => {}
            }
        }
        reason = entry.killed() => return Err(RelayEnd::Killed { reason, at_boundary: false }),
    }
    Ok(())
}

/// Before a killed session closes: writes what is queued for the client and the rest of the
/// message being forwarded in pieces (a big DataRow, say), and nothing after it, so that a
/// FATAL can follow on a message boundary. Gives up after [`LAST_WORDS_TIMEOUT`] (a client
/// that stopped reading, a server that stalled) and returns whether it got there.
async fn finish_message(
    client: &mut ClientConn,
    server: &mut ServerConn,
    scanner: &mut Scanner,
    pending: &mut Pending,
) -> bool {
    let finish = async {
        let queued = pending.to_client.drain_to_vec(&server.rbuf);
        // Everything queued was scanned: a partial message's bytes so far were all taken.
        server.rbuf.clear();
        client.stream.write_all(&queued).await.ok()?;
        while !scanner.at_boundary() {
            if server.rbuf.is_empty() {
                server.stream.readable().await.ok()?;
                match try_read_into(&server.stream, &mut server.rbuf) {
                    Ok(Read::Eof) | Err(_) => return None,
                    Ok(_) => continue,
                }
            }
            let n = scanner.finish_partial(server.rbuf.len());
            client.stream.write_all(&server.rbuf[..n]).await.ok()?;
            let _ = server.rbuf.split_to(n);
        }
        Some(())
    };
    matches!(
        tokio::time::timeout(LAST_WORDS_TIMEOUT, finish).await,
        Ok(Some(()))
    )
}

/// How long a closing session may spend on its last writes to the client.
pub(crate) const LAST_WORDS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The server is gone: make sure what it said last (often its FATAL) reaches the client.
async fn flush_before_close(
    client: &mut ClientConn,
    server: &mut ServerConn,
    pending: &mut Pending,
) {
    let last_words = pending.to_client.drain_to_vec(&server.rbuf);
    let write = client.stream.write_all(&last_words);
    let _ = tokio::time::timeout(LAST_WORDS_TIMEOUT, write).await;
}
