//! The client's socket with its buffers.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pgwire::{encode, ErrorFields, Frames, FrontendTag};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::error::SessionError;
use crate::session::io::{try_read_into, Read};

/// A FATAL goes out best-effort: a client that does not read it is not waited for.
const FATAL_SEND_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct ClientConn {
    pub stream: TcpStream,
    /// Bytes from the client not yet handled. Given back to the allocator while idle.
    pub rbuf: BytesMut,
    /// Messages Sluice itself sends (login, its own errors).
    pub wbuf: BytesMut,
    pub peer: SocketAddr,
    pub max_message: usize,
    pub transport: Transport,
}

/// Whether the client's connection is encrypted.
#[derive(Debug)]
pub enum Transport {
    Plain,
    /// TLS; `end_point` is the channel-binding data of the certificate this client was shown
    /// (`None` when its signature algorithm allows no binding).
    Tls {
        end_point: Option<Box<[u8]>>,
    },
}

impl ClientConn {
    pub fn new(stream: TcpStream, peer: SocketAddr, max_message: usize) -> Self {
        ClientConn {
            stream,
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            peer,
            max_message,
            transport: Transport::Plain,
        }
    }

    /// Reads whatever the client sent next into `rbuf`.
    pub async fn read_more(&mut self) -> Result<(), SessionError> {
        loop {
            self.stream
                .readable()
                .await
                .map_err(SessionError::ClientIo)?;
            match try_read_into(&self.stream, &mut self.rbuf) {
                Ok(Read::Data) => return Ok(()),
                Ok(Read::WouldBlock) => continue,
                Ok(Read::Eof) => return Err(SessionError::ClientGone),
                Err(e) => return Err(SessionError::ClientIo(e)),
            }
        }
    }

    /// Reads one whole message; for the login phase, where messages are small.
    pub async fn read_message(&mut self) -> Result<(FrontendTag, Bytes), SessionError> {
        loop {
            if let Some(msg) = Frames::new(&self.rbuf, self.max_message).next() {
                let msg = msg?;
                let (tag, len) = (FrontendTag::from_byte(msg.tag)?, msg.wire_len());
                let mut whole = self.rbuf.split_to(len);
                return Ok((tag, whole.split_off(5).freeze()));
            }
            self.read_more().await?;
        }
    }

    /// Sends everything queued in `wbuf`.
    pub async fn flush(&mut self) -> Result<(), SessionError> {
        if !self.wbuf.is_empty() {
            self.stream
                .write_all(&self.wbuf)
                .await
                .map_err(SessionError::ClientIo)?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Sends a FATAL (after anything already queued) and gives up quietly if the client is gone.
    pub async fn send_fatal(&mut self, fields: &ErrorFields) {
        encode::error_response(&mut self.wbuf, fields);
        let _ = tokio::time::timeout(FATAL_SEND_TIMEOUT, self.flush()).await;
    }

    /// Idle clients hold no buffer memory: thousands of them sit between transactions.
    pub fn release_buffers(&mut self) {
        if self.rbuf.is_empty() {
            self.rbuf = BytesMut::new();
        }
        if self.wbuf.is_empty() {
            self.wbuf = BytesMut::new();
        }
    }
}
