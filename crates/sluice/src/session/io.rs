//! Non-blocking socket helpers for the relay. Readiness is awaited with `readable()` and
//! `writable()`, which borrow the socket immutably, so both directions can wait at once while
//! the buffers stay free to use.

use std::io::ErrorKind;

use bytes::{Buf, BytesMut};
use tokio::net::TcpStream;

/// Reads into a stack buffer and appends only what arrived: an idle client's buffer can then be
/// given back to the allocator without a large reservation on every request.
const SCRATCH: usize = 8 * 1024;

/// Outcome of a non-blocking read.
pub enum Read {
    Data,
    WouldBlock,
    Eof,
}

/// Reads what is available without waiting.
pub fn try_read_into(stream: &TcpStream, buf: &mut BytesMut) -> std::io::Result<Read> {
    let mut scratch = [0u8; SCRATCH];
    match stream.try_read(&mut scratch) {
        Ok(0) => Ok(Read::Eof),
        Ok(n) => {
            buf.extend_from_slice(&scratch[..n]);
            Ok(Read::Data)
        }
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
