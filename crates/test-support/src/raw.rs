//! A tiny raw PostgreSQL protocol client for tests that need exact control
//! over the bytes on the wire (malformed messages, SSLRequest, ...).
//! Deliberately independent of `sluice-pgwire`, so it can test that crate.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::{Buf, BytesMut};
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long `recv*` waits before failing the test instead of hanging it.
const RECV_TIMEOUT: Duration = Duration::from_secs(10);

/// One backend message: type byte and body (without the length word).
pub type Message = (u8, Vec<u8>);

/// A raw TCP connection speaking bytes, with a receive buffer.
pub struct RawConn {
    stream: TcpStream,
    buf: BytesMut,
}

impl RawConn {
    /// Plain TCP connect (e.g. to `PgCluster::addr()` or a proxy address).
    pub async fn connect(addr: &str) -> anyhow::Result<RawConn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(RawConn {
            stream,
            buf: BytesMut::with_capacity(8192),
        })
    }

    /// The socket, e.g. to shut down the write half.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Write `bytes` as they are and flush.
    pub async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Next backend message; `Ok(None)` on EOF (a connection reset counts
    /// as EOF, since servers that reject garbage often close abruptly).
    /// Fails after 10 s without a complete message.
    pub async fn recv(&mut self) -> anyhow::Result<Option<Message>> {
        tokio::time::timeout(RECV_TIMEOUT, self.recv_inner())
            .await
            .map_err(|_| anyhow!("no backend message within {RECV_TIMEOUT:?}"))?
    }

    async fn recv_inner(&mut self) -> anyhow::Result<Option<Message>> {
        loop {
            if let Some(msg) = self.parse_buffered()? {
                return Ok(Some(msg));
            }
            if self.read_more().await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                bail!("EOF inside a message ({} bytes buffered)", self.buf.len());
            }
        }
    }

    /// Read into the buffer; 0 means EOF (or reset).
    async fn read_more(&mut self) -> anyhow::Result<usize> {
        match self.stream.read_buf(&mut self.buf).await {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    fn parse_buffered(&mut self) -> anyhow::Result<Option<Message>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        let len = usize::try_from(len)?;
        if len < 4 {
            bail!(
                "invalid message length {len} for tag {:?}",
                self.buf[0] as char
            );
        }
        if self.buf.len() < 1 + len {
            return Ok(None);
        }
        let tag = self.buf.get_u8();
        self.buf.advance(4);
        let body = self.buf.split_to(len - 4).to_vec();
        Ok(Some((tag, body)))
    }

    /// Read messages until ReadyForQuery (`Z`, included) or EOF.
    pub async fn recv_until_ready(&mut self) -> anyhow::Result<Vec<Message>> {
        let mut msgs = Vec::new();
        while let Some(msg) = self.recv().await? {
            let done = msg.0 == b'Z';
            msgs.push(msg);
            if done {
                break;
            }
        }
        Ok(msgs)
    }

    /// One byte, e.g. the `S`/`N` answer to an SSLRequest. EOF is an error.
    pub async fn recv_single_byte(&mut self) -> anyhow::Result<u8> {
        let deadline = tokio::time::Instant::now() + RECV_TIMEOUT;
        while self.buf.is_empty() {
            let n = tokio::time::timeout_at(deadline, self.read_more())
                .await
                .map_err(|_| anyhow!("no byte within {RECV_TIMEOUT:?}"))??;
            if n == 0 {
                bail!("EOF while waiting for a single byte");
            }
        }
        Ok(self.buf.get_u8())
    }

    /// Log in with md5: startup, expect AuthenticationMD5Password, answer,
    /// read to ReadyForQuery. Returns the messages after the password
    /// (AuthenticationOk .. ReadyForQuery); an ErrorResponse is an error.
    pub async fn login_md5(
        &mut self,
        user: &str,
        password: &str,
        database: &str,
    ) -> anyhow::Result<Vec<Message>> {
        self.send(&startup_message(&[("user", user), ("database", database)]))
            .await?;
        let (tag, body) = self
            .recv()
            .await?
            .ok_or_else(|| anyhow!("EOF instead of an authentication request"))?;
        if tag == b'E' {
            bail!("startup rejected: {}", describe_error(&body));
        }
        if tag != b'R' || body.len() != 8 || body[..4] != 5u32.to_be_bytes() {
            bail!(
                "expected AuthenticationMD5Password, got {:?} {body:?}",
                tag as char
            );
        }
        let salt = [body[4], body[5], body[6], body[7]];
        self.send(&password_message(&md5_password(user, password, salt)))
            .await?;
        let msgs = self.recv_until_ready().await?;
        if let Some((_, body)) = msgs.iter().find(|(tag, _)| *tag == b'E') {
            bail!("login failed: {}", describe_error(body));
        }
        if msgs.last().map(|m| m.0) != Some(b'Z') {
            bail!("connection closed before ReadyForQuery: {msgs:?}");
        }
        Ok(msgs)
    }
}

/// StartupMessage for protocol 3.0 with the given parameters.
pub fn startup_message(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = 196_608u32.to_be_bytes().to_vec(); // 3 << 16 | 0
    for (k, v) in params {
        push_cstr(&mut body, k);
        push_cstr(&mut body, v);
    }
    body.push(0);
    let mut msg = len_prefix(body.len());
    msg.extend_from_slice(&body);
    msg
}

/// Simple Query (`Q`).
pub fn query_message(sql: &str) -> Vec<u8> {
    tagged_cstr(b'Q', sql)
}

/// PasswordMessage (`p`) carrying `pw` (cleartext or an md5 hash string).
pub fn password_message(pw: &str) -> Vec<u8> {
    tagged_cstr(b'p', pw)
}

/// Parse an ErrorResponse/NoticeResponse body into (field code, value).
pub fn error_fields(body: &[u8]) -> Vec<(u8, String)> {
    let mut fields = Vec::new();
    let mut rest = body;
    while let Some((&code, tail)) = rest.split_first() {
        if code == 0 {
            break;
        }
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        fields.push((code, String::from_utf8_lossy(&tail[..end]).into_owned()));
        rest = tail.get(end + 1..).unwrap_or_default();
    }
    fields
}

/// `md5` + hex(md5(hex(md5(password + user)) + salt)), as the server expects.
pub fn md5_password(user: &str, password: &str, salt: [u8; 4]) -> String {
    let inner = hex(&Md5::digest(format!("{password}{user}")));
    let mut outer = Md5::new();
    outer.update(inner.as_bytes());
    outer.update(salt);
    format!("md5{}", hex(&outer.finalize()))
}

/// "SEVERITY CODE: message" for error messages in test failures.
fn describe_error(body: &[u8]) -> String {
    let fields = error_fields(body);
    let get = |c: u8| {
        fields
            .iter()
            .find(|(code, _)| *code == c)
            .map_or("", |(_, v)| v.as_str())
    };
    format!("{} {}: {}", get(b'S'), get(b'C'), get(b'M'))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn push_cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// Length word covering itself plus `body_len` bytes.
fn len_prefix(body_len: usize) -> Vec<u8> {
    let len = u32::try_from(body_len + 4).expect("message larger than 4 GiB");
    len.to_be_bytes().to_vec()
}

fn tagged_cstr(tag: u8, s: &str) -> Vec<u8> {
    let mut msg = vec![tag];
    msg.extend_from_slice(&len_prefix(s.len() + 1));
    push_cstr(&mut msg, s);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_known_value() {
        // From PostgreSQL: md5(md5("postgres" + "postgres") hex + salt).
        let inner = hex(&Md5::digest(b"postgrespostgres"));
        assert_eq!(inner, "3175bce1d3201d16594cebf9d7eb3f9d");
        assert!(md5_password("postgres", "postgres", [1, 2, 3, 4]).starts_with("md5"));
        assert_eq!(md5_password("u", "p", [0; 4]).len(), 35);
    }

    #[test]
    fn message_framing() {
        assert_eq!(query_message("x"), vec![b'Q', 0, 0, 0, 6, b'x', 0]);
        let s = startup_message(&[("user", "a")]);
        assert_eq!(&s[..8], &[0, 0, 0, 16, 0, 3, 0, 0]);
        assert_eq!(&s[8..], b"user\0a\0\0");
    }

    #[test]
    fn parses_error_fields() {
        let body = b"SERROR\0C28P01\0Mbad\0\0";
        assert_eq!(
            error_fields(body),
            vec![
                (b'S', "ERROR".into()),
                (b'C', "28P01".into()),
                (b'M', "bad".into())
            ]
        );
    }
}
