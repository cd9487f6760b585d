//! Non-blocking socket helpers for the relay. Readiness is awaited with `readable()` and
//! `writable()`, which borrow the socket immutably, so both directions can wait at once while
//! the buffers stay free to use.

use std::io::ErrorKind;

use bytes::{Buf, BytesMut};
use tokio::net::TcpStream;

/// Room made in a read buffer before each read.
const READ_CHUNK: usize = 8 * 1024;

/// Outcome of a non-blocking read.
pub enum Read {
    Data,
    WouldBlock,
    Eof,
}

/// Reads what is available without waiting.
pub fn try_read_into(stream: &TcpStream, buf: &mut BytesMut) -> std::io::Result<Read> {
    buf.reserve(READ_CHUNK);
    match stream.try_read_buf(buf) {
        Ok(0) => Ok(Read::Eof),
        Ok(_) => Ok(Read::Data),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(Read::WouldBlock),
        Err(e) => Err(e),
    }
}

/// Writes the first `len` bytes of `buf` as far as the socket takes them, without waiting;
/// returns how many were written (and removed from `buf`).
pub fn try_write_from(
    stream: &TcpStream,
    buf: &mut BytesMut,
    len: usize,
) -> std::io::Result<usize> {
    let mut written = 0;
    while written < len {
        match stream.try_write(&buf[..len - written]) {
            Ok(n) => {
                buf.advance(n);
                written += n;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// True if the reactor has seen the socket become readable (data or EOF) since it was last
/// drained. Asks tokio's cached readiness with a no-op waker: no system call in the common case.
pub fn readiness_seen(stream: &TcpStream) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    stream.poll_read_ready(&mut cx).is_ready()
}
