//! One logged-in connection to PostgreSQL, as the pool holds it.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use pgwire::{encode, BackendTag, CancelKey, ErrorFields, Frames, TransactionStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::UpstreamError;
use crate::statements::ServerStatements;

/// Server messages Sluice reads whole (login, its own queries) are capped at this size; the relay
/// streams everything else.
const MAX_CONTROL_MESSAGE: usize = 1 << 20;
const READ_CHUNK: usize = 8 * 1024;

#[derive(Debug)]
pub struct ServerConn {
    pub stream: TcpStream,
    /// Bytes read from the server and not yet forwarded. Empty whenever the connection is idle.
    pub rbuf: BytesMut,
    pub addr: SocketAddr,
    /// The server's own BackendKeyData, used to forward a client's CancelRequest.
    pub cancel_key: CancelKey,
    /// ParameterStatus values the server reported at login.
    pub params: Vec<(String, String)>,
    /// Sluice-named prepared statements this connection has.
    pub prepared: ServerStatements,
    /// Session settings Sluice set on this connection (absent: the server's default).
    pub applied: crate::session::params::Settings,
    /// SQL prepared statements (PREPARE name AS ...) this connection has, by name.
    pub sql_statements: crate::session::params::SqlStatements,
    /// Keeps this connection reachable for cutting when the writer changes.
    pub live: Option<super::LiveGuard>,
}

impl ServerConn {
    pub(super) fn new(stream: TcpStream, addr: SocketAddr, max_prepared: usize) -> Self {
        ServerConn {
            stream,
            rbuf: BytesMut::new(),
            addr,
            cancel_key: CancelKey {
                process_id: 0,
                secret: 0,
            },
            params: Vec::new(),
            prepared: ServerStatements::new(max_prepared),
            applied: Default::default(),
            sql_statements: Default::default(),
            live: None,
        }
    }

    /// After DISCARD ALL: no settings, no prepared statements of any kind.
    pub fn forget_session_state(&mut self) {
        self.prepared.clear();
        self.applied.clear();
        self.sql_statements.clear();
    }

    /// Reads one whole message (tag, body); for login and Sluice's own queries only.
    pub async fn read_message(&mut self) -> Result<(BackendTag, Bytes), UpstreamError> {
        loop {
            if let Some(msg) = Frames::new(&self.rbuf, MAX_CONTROL_MESSAGE).next() {
                let msg = msg?;
                let (tag, len) = (BackendTag::from_byte(msg.tag)?, msg.wire_len());
                let mut whole = self.rbuf.split_to(len);
                return Ok((tag, whole.split_off(5).freeze()));
            }
            self.rbuf.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(UpstreamError::ClosedDuringLogin);
            }
        }
    }

    /// Runs `sql` with the simple protocol and returns the first column of every row. A server
    /// error is returned as `Rejected`; the connection is then still in sync (idle).
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<Option<String>>, UpstreamError> {
        let rows = self.simple_query_rows(sql).await?;
        Ok(rows
            .into_iter()
            .map(|row| row.into_iter().next().flatten())
            .collect())
    }

    /// Runs `sql` with the simple protocol and returns every row, all columns as text.
    pub async fn simple_query_rows(
        &mut self,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, UpstreamError> {
        let mut out = BytesMut::new();
        encode::query(&mut out, sql);
        self.stream.write_all(&out).await?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let (tag, body) = self.read_message().await?;
            match tag {
                BackendTag::DataRow => rows.push(columns(&body)),
                BackendTag::ErrorResponse => error = Some(ErrorFields::parse(&body)?),
                BackendTag::ParameterStatus => {
                    let (name, value) = pgwire::backend::parameter_status(&body)?;
                    self.record_parameter(name, value);
                }
                BackendTag::ReadyForQuery => {
                    let status = TransactionStatus::parse(&body)?;
                    return match error {
                        Some(e) => Err(UpstreamError::Rejected(e)),
                        None if status == TransactionStatus::Idle => Ok(rows),
                        None => Err(UpstreamError::UnexpectedReply("transaction left open")),
                    };
                }
                BackendTag::CopyInResponse | BackendTag::CopyOutResponse => {
                    return Err(UpstreamError::UnexpectedReply("COPY in an internal query"))
                }
                _ => {}
            }
        }
    }

    /// Keeps `params` as the server reports them now (Sluice's own SETs change them).
    pub fn record_parameter(&mut self, name: &str, value: &str) {
        match self.params.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value.to_owned(),
            None => self.params.push((name.to_owned(), value.to_owned())),
        }
    }

    /// True if an idle connection still looks usable: no EOF and no unexpected bytes (a server
    /// that is shutting down or terminated us sends a FATAL and closes).
    pub fn is_healthy_when_idle(&self) -> bool {
        // Nothing arrived while idle (the common case): healthy, without a system call.
        if !crate::session::io::readiness_seen(&self.stream) {
            return true;
        }
        let mut probe = [0u8; 1];
        matches!(
            self.stream.try_read(&mut probe),
            Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock
        )
    }

    /// Polite close: Terminate, then drop the socket.
    pub async fn terminate(mut self) {
        let mut out = BytesMut::new();
        encode::terminate(&mut out);
        let _ = self.stream.write_all(&out).await;
    }
}

/// The columns of a DataRow as text; NULL (or a truncated row) as None.
fn columns(body: &[u8]) -> Vec<Option<String>> {
    let count = body
        .get(..2)
        .map_or(0, |n| u16::from_be_bytes([n[0], n[1]]));
    let mut rest = body.get(2..).unwrap_or_default();
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let Some(len) = rest.get(..4) else { break };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        rest = &rest[4..];
        let Ok(len) = usize::try_from(len) else {
            out.push(None);
            continue;
        };
        let Some(value) = rest.get(..len) else { break };
        out.push(Some(String::from_utf8_lossy(value).into_owned()));
        rest = &rest[len..];
    }
    out
}
