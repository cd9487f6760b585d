//! What one direction of the relay still has to write, in order: bytes forwarded straight from
//! the other side's read buffer, bytes skipped there (a message Sluice replaces or drops), and
//! bytes Sluice made (a rewritten or injected message, a made-up reply).

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use tokio::net::TcpStream;

use super::io::try_write_from;

#[derive(Debug)]
enum Segment {
    /// The next n bytes of the source buffer, as they are.
    Raw(usize),
    /// The next n bytes of the source buffer are not sent.
    Skip(usize),
    Owned(Bytes),
}

#[derive(Debug, Default)]
pub struct Outbox {
    segments: VecDeque<Segment>,
}

/// Edits to a scanned stretch of the source: at offset `at`, insert `insert`, then skip `skip`
/// source bytes. Offsets are increasing.
#[derive(Debug, Default)]
pub struct Edits {
    list: Vec<(usize, Option<Bytes>, usize)>,
}

impl Edits {
    pub fn insert(&mut self, at: usize, bytes: Bytes) {
        self.list.push((at, Some(bytes), 0));
    }

    pub fn skip(&mut self, at: usize, len: usize) {
        self.list.push((at, None, len));
    }

    pub fn replace(&mut self, at: usize, len: usize, bytes: Bytes) {
        self.list.push((at, Some(bytes), len));
    }
}

impl Outbox {
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn push_owned(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.segments.push_back(Segment::Owned(bytes));
        }
    }

    fn push_source(&mut self, n: usize, segment: fn(usize) -> Segment) {
        if n > 0 {
            self.segments.push_back(segment(n));
        }
    }

    /// Queues `len` scanned source bytes with `edits` applied.
    pub fn push_scanned(&mut self, len: usize, edits: Edits) {
        let mut pos = 0;
        for (at, insert, skip) in edits.list {
            self.push_source(at - pos, Segment::Raw);
            if let Some(bytes) = insert {
                self.push_owned(bytes);
            }
            self.push_source(skip, Segment::Skip);
            pos = at + skip;
        }
        self.push_source(len - pos, Segment::Raw);
    }

    /// Writes as much as the socket takes now. Returns true when everything is written.
    pub fn try_write(
        &mut self,
        stream: &TcpStream,
        source: &mut BytesMut,
    ) -> std::io::Result<bool> {
        while let Some(segment) = self.segments.front_mut() {
            match segment {
                Segment::Raw(n) => {
                    *n -= try_write_from(stream, source, *n)?;
                    if *n > 0 {
                        return Ok(false);
                    }
                }
                Segment::Skip(n) => source.advance(*n),
                Segment::Owned(bytes) => {
                    match stream.try_write(bytes) {
                        Ok(written) => bytes.advance(written),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                        Err(e) => return Err(e),
                    }
                    if !bytes.is_empty() {
                        return Ok(false);
                    }
                }
            }
            self.segments.pop_front();
        }
        Ok(true)
    }

    /// Everything still queued, as one buffer, for a last write before closing.
    pub fn drain_to_vec(&mut self, source: &BytesMut) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pos = 0;
        for segment in self.segments.drain(..) {
            match segment {
                Segment::Raw(n) => {
                    out.extend_from_slice(&source[pos..pos + n]);
                    pos += n;
                }
                Segment::Skip(n) => pos += n,
                Segment::Owned(bytes) => out.extend_from_slice(&bytes),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_become_ordered_segments() {
        let source = BytesMut::from(&b"AAAABBBBCCCC"[..]);
        let mut edits = Edits::default();
        edits.insert(0, Bytes::from_static(b"x"));
        edits.replace(4, 4, Bytes::from_static(b"yy"));
        edits.skip(8, 2);
        let mut out = Outbox::default();
        out.push_scanned(12, edits);
        assert_eq!(out.drain_to_vec(&source), b"xAAAAyyCC");
    }
}
