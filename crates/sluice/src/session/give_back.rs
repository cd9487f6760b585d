//! Returning a server connection. It is never lent dirty: a connection whose client left in the
//! middle of something is brought back to idle (cancel, drain, ROLLBACK) or discarded.

use std::time::Duration;

use bytes::BytesMut;
use pgwire::scan::Scanner;
use pgwire::{encode, TransactionStatus};
use pool::Pooled;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::exchange::{Exchange, Expect};
use crate::upstream::{send_cancel, PoolKey, ServerConn};

/// How long a connection left mid-work may take to come back to idle before it is discarded.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

pub type Borrowed = Pooled<PoolKey, ServerConn>;

/// How the client left the server connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// The client is still there, or said Terminate: let running work finish.
    Politely,
    /// The client vanished: cancel what it was running.
    Abruptly,
}

/// Gives the connection back to the pool if it is idle; otherwise cleans it in the background.
pub fn give_back(server: Borrowed, ex: Exchange, scanner: Scanner, leaving: Leaving) {
    if ex.is_idle() && server.rbuf.is_empty() {
        server.give_back();
        return;
    }
    if ex.copy_in || ex.fatal_seen {
        server.discard("client left during COPY or after a FATAL");
        return;
    }
    tokio::spawn(async move {
        let mut server = server;
        match tokio::time::timeout(
            CLEANUP_TIMEOUT,
            bring_to_idle(&mut server, ex, scanner, leaving),
        )
        .await
        {
            Ok(Ok(())) => {
                tracing::debug!("server connection rolled back after its client left");
                server.give_back();
            }
            Ok(Err(e)) => server.discard(&format!("cleanup failed: {e}")),
            Err(_) => server.discard("cleanup timed out"),
        }
    });
}

/// Session mode: DISCARD ALL before the connection serves anyone else.
pub fn reset_and_give_back(server: Borrowed, ex: Exchange, scanner: Scanner, leaving: Leaving) {
    tokio::spawn(async move {
        let mut server = server;
        let cleaned = tokio::time::timeout(CLEANUP_TIMEOUT, async {
            bring_to_idle(&mut server, ex, scanner, leaving).await?;
            server
                .simple_query("DISCARD ALL")
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            server.forget_session_state();
            Ok::<(), std::io::Error>(())
        })
        .await;
        match cleaned {
            Ok(Ok(())) => server.give_back(),
            _ => server.discard("DISCARD ALL failed"),
        }
    });
}

/// Finishes what is in flight (after a cancel if the client vanished), then rolls back.
async fn bring_to_idle(
    server: &mut ServerConn,
    mut ex: Exchange,
    mut scanner: Scanner,
    leaving: Leaving,
) -> std::io::Result<()> {
    if ex.pending_ready() > 0 && leaving == Leaving::Abruptly {
        send_cancel(server.addr, server.cancel_key).await?;
    }
    let mut out = BytesMut::new();
    if ex.unsynced {
        encode::sync(&mut out);
        ex.unsynced = false;
        ex.expect(Expect::Ready);
    }
    server.stream.write_all(&out).await?;
    drain(server, &mut ex, &mut scanner).await?;
    if ex.status != TransactionStatus::Idle {
        out.clear();
        encode::query(&mut out, "ROLLBACK");
        server.stream.write_all(&out).await?;
        ex.expect(Expect::Ready);
        drain(server, &mut ex, &mut scanner).await?;
    }
    if ex.is_idle() {
        Ok(())
    } else {
        Err(std::io::Error::other("server still busy after cleanup"))
    }
}

/// Reads and drops server output until every expected ReadyForQuery has arrived.
async fn drain(
    server: &mut ServerConn,
    ex: &mut Exchange,
    scanner: &mut Scanner,
) -> std::io::Result<()> {
    while ex.pending_ready() > 0 {
        let used = scanner
            .scan(&server.rbuf, Exchange::server_needs_body, |_, seen| {
                ex.server_message(seen).map(|_| ())
            })
            .map_err(std::io::Error::other)?;
        bytes::Buf::advance(&mut server.rbuf, used);
        if ex.fatal_seen || ex.copy_in {
            return Err(std::io::Error::other(
                "server cannot be brought back to idle",
            ));
        }
        if ex.pending_ready() > 0 && (used == 0 || server.rbuf.is_empty()) {
            server.rbuf.reserve(8 * 1024);
            if server.stream.read_buf(&mut server.rbuf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
    Ok(())
}
