//! Non-blocking socket helpers for the relay. Readiness is awaited with `readable()` and
//! `writable()`, which borrow the socket immutably, so both directions can wait at once while
//! the buffers stay free to use.

use std::io::ErrorKind;

use bytes::{Buf, BytesMut};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// A buffer with this much free room is read into directly.
const DIRECT_MIN: usize = 2 * 1024;
/// Otherwise a small read goes through the stack first and only what arrived is kept: most
/// requests are a few hundred bytes, and thousands of clients must not each pin a large buffer
/// (nor fragment the heap with them). A read that fills the scratch means bulk data (COPY, big
/// statements): then the buffer grows to this and later reads go straight into it.
const SCRATCH: usize = 2 * 1024;
const BULK: usize = 32 * 1024;

/// Outcome of a non-blocking read.
pub enum Read {
    Data,
    WouldBlock,
    Eof,
}

/// Reads what is available without waiting.
///
/// A short read means the socket is drained, so its cached readiness is cleared here rather than
/// discovered by one more `recv` returning EAGAIN: that saves two system calls per transaction.
/// Clearing goes through `try_io`, which clears only the readiness seen before this read, so data
/// arriving meanwhile still wakes the next wait.
pub fn try_read_into(stream: &TcpStream, buf: &mut BytesMut) -> std::io::Result<Read> {
    let mut outcome = Read::WouldBlock;
    let result = stream.try_io(Interest::READABLE, || {
        let (read, offered) = read_once(stream, buf);
        let short = matches!(read, Ok(n) if n > 0 && n < offered);
        outcome = classify(read)?;
        match outcome {
            Read::Data if short => Err(ErrorKind::WouldBlock.into()),
            Read::WouldBlock => Err(ErrorKind::WouldBlock.into()),
            _ => Ok(()),
        }
    });
    match result {
        Ok(()) => Ok(outcome),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(outcome),
        Err(e) => Err(e),
    }
}

/// One `recv`, straight into `buf` if it has room, else through the stack. Returns the result
/// and how many bytes were offered.
fn read_once(stream: &TcpStream, buf: &mut BytesMut) -> (std::io::Result<usize>, usize) {
    let room = buf.capacity() - buf.len();
    if room >= DIRECT_MIN {
        return (stream.try_read_buf(buf), room);
    }
    let mut scratch = [0u8; SCRATCH];
    let read = stream.try_read(&mut scratch);
    if let Ok(n) = read {
        if n == SCRATCH {
            buf.reserve(BULK);
        }
        buf.extend_from_slice(&scratch[..n]);
    }
    (read, SCRATCH)
}

fn classify(read: std::io::Result<usize>) -> std::io::Result<Read> {
    match read {
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
