//! Message framing: walk `tag + length` headers over a buffer without copying bodies.
//!
//! "Incomplete" (wait for more bytes) is distinct from "invalid" (close the connection): the
//! iterator simply stops at an incomplete message, and [`Frames::consumed`] says how far the
//! complete ones reach, so the caller can forward exactly that prefix.

use crate::ProtocolError;

/// Bytes in a regular message header: one tag byte and a four-byte length.
pub const HEADER_LEN: usize = 5;

/// One complete message inside a buffer: its tag and its body (header stripped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMessage<'a> {
    pub tag: u8,
    pub body: &'a [u8],
}

impl RawMessage<'_> {
    /// Length on the wire, header included.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }
}

/// Iterator over the complete messages at the start of a buffer.
#[derive(Debug)]
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
    max_len: usize,
}

impl<'a> Frames<'a> {
    /// `max_len` caps a single message (header included); a peer declaring more is an error
    /// before anything is allocated for it.
    pub fn new(buf: &'a [u8], max_len: usize) -> Self {
        Frames {
            buf,
            pos: 0,
            max_len,
        }
    }

    /// Bytes taken by the complete messages yielded so far.
    pub fn consumed(&self) -> usize {
        self.pos
    }

    /// Total length of the next message if its header is complete, to size the read buffer.
    pub fn pending_len(&self) -> Option<usize> {
        peek_len(&self.buf[self.pos..])
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<RawMessage<'a>, ProtocolError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.buf[self.pos..];
        let total = match check_header(rest, self.max_len) {
            Ok(Some(total)) => total,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        if rest.len() < total {
            return None;
        }
        self.pos += total;
        Some(Ok(RawMessage {
            tag: rest[0],
            body: &rest[HEADER_LEN..total],
        }))
    }
}

/// Validates the header at the start of `buf`; `Ok(None)` when fewer than five bytes are there.
fn check_header(buf: &[u8], max_len: usize) -> Result<Option<usize>, ProtocolError> {
    let Some(total) = peek_len(buf) else {
        return Ok(None);
    };
    let declared = total - 1;
    if declared < 4 {
        return Err(ProtocolError::BadLength {
            tag: buf[0],
            len: declared,
        });
    }
    if total > max_len {
        return Err(ProtocolError::TooLarge {
            tag: buf[0],
            len: total,
            max: max_len,
        });
    }
    Ok(Some(total))
}

/// Wire length (tag + declared length) of the message starting at `buf`, if the header is there.
fn peek_len(buf: &[u8]) -> Option<usize> {
    let header = buf.get(..HEADER_LEN)?;
    let declared = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    // u32 -> usize is lossless on every target we build for; +1 for the tag byte.
    Some(declared as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn yields_complete_messages_and_stops_at_partial() {
        let mut buf = msg(b'Q', b"select 1\0");
        buf.extend(msg(b'S', b""));
        let whole = buf.len();
        buf.extend(&msg(b'X', b"")[..3]);
        let mut frames = Frames::new(&buf, 1024);
        let first = frames.next().unwrap().unwrap();
        assert_eq!((first.tag, first.body), (b'Q', &b"select 1\0"[..]));
        let second = frames.next().unwrap().unwrap();
        assert_eq!((second.tag, second.body.len()), (b'S', 0));
        assert!(frames.next().is_none());
        assert_eq!(frames.consumed(), whole);
    }

    #[test]
    fn partial_header_is_incomplete_not_invalid() {
        for cut in 0..5 {
            let buf = msg(b'Q', b"x\0");
            let mut frames = Frames::new(&buf[..cut], 1024);
            assert!(frames.next().is_none());
            assert_eq!(frames.consumed(), 0);
        }
    }

    #[test]
    fn length_below_four_is_invalid() {
        let buf = [b'Q', 0, 0, 0, 3];
        let err = Frames::new(&buf, 1024).next().unwrap().unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::BadLength { tag: b'Q', len: 3 }
        ));
    }

    #[test]
    fn oversized_declared_length_fails_before_body_arrives() {
        let buf = [b'Q', 0x7f, 0xff, 0xff, 0xff];
        let err = Frames::new(&buf, 1 << 20).next().unwrap().unwrap_err();
        assert!(matches!(err, ProtocolError::TooLarge { tag: b'Q', .. }));
    }

    #[test]
    fn pending_len_reports_next_message_size() {
        let buf = msg(b'D', &[0u8; 100]);
        let frames = Frames::new(&buf[..10], 1024);
        assert_eq!(frames.pending_len(), Some(105));
    }
}
