//! Streaming scan for the relay: forward on headers, without waiting for whole bodies.
//!
//! The relay only needs the bodies of a few small messages (ReadyForQuery, ErrorResponse, ...).
//! Everything else (DataRow, CopyData, big Query texts) may be forwarded while it is still
//! arriving, so a 1 GiB row never has to sit in Sluice's memory.

use crate::frame::{RawMessage, HEADER_LEN};
use crate::ProtocolError;

/// What the scanner saw at the start of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen<'a> {
    /// A message whose whole body is in the buffer.
    Whole(RawMessage<'a>),
    /// The start of a message whose body is still arriving; it is forwarded in pieces.
    Partial { tag: u8, wire_len: usize },
}

impl Seen<'_> {
    pub fn tag(&self) -> u8 {
        match self {
            Seen::Whole(m) => m.tag,
            Seen::Partial { tag, .. } => *tag,
        }
    }
}

/// Per-direction scan state: how much of a partially forwarded message is still to come.
#[derive(Debug, Clone)]
pub struct Scanner {
    remaining: usize,
    max_len: usize,
}

impl Scanner {
    /// `max_len` bounds any single message, header included.
    pub fn new(max_len: usize) -> Self {
        Scanner {
            remaining: 0,
            max_len,
        }
    }

    /// True when the last byte forwarded ended a message.
    pub fn at_boundary(&self) -> bool {
        self.remaining == 0
    }

    /// Takes up to `available` bytes of the rest of a message being forwarded in pieces, without
    /// looking at what follows it: for stopping a relay at the next message boundary. Returns
    /// how many bytes belong to that message.
    pub fn finish_partial(&mut self, available: usize) -> usize {
        let n = self.remaining.min(available);
        self.remaining -= n;
        n
    }

    /// Walks `buf`, calling `visit` once per message start with the message's offset in `buf`.
    /// Messages for which `needs_body` is true are only visited whole. Returns how many bytes at
    /// the front of `buf` may be forwarded now; the rest must wait for more input.
    pub fn scan<E: From<ProtocolError>>(
        &mut self,
        buf: &[u8],
        needs_body: impl Fn(u8) -> bool,
        mut visit: impl FnMut(usize, Seen<'_>) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut pos = self.remaining.min(buf.len());
        self.remaining -= pos;
        while let Some(wire_len) = self.header(&buf[pos..])? {
            let tag = buf[pos];
            let available = buf.len() - pos;
            if available >= wire_len {
                let body = &buf[pos + HEADER_LEN..pos + wire_len];
                visit(pos, Seen::Whole(RawMessage { tag, body }))?;
                pos += wire_len;
            } else {
                if !needs_body(tag) {
                    visit(pos, Seen::Partial { tag, wire_len })?;
                    self.remaining = wire_len - available;
                    pos = buf.len();
                }
                break;
            }
        }
        Ok(pos)
    }

    fn header(&self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some(header) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let declared = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if declared < 4 {
            return Err(ProtocolError::BadLength {
                tag: header[0],
                len: declared,
            });
        }
        if declared + 1 > self.max_len {
            return Err(ProtocolError::TooLarge {
                tag: header[0],
                len: declared + 1,
                max: self.max_len,
            });
        }
        Ok(Some(declared + 1))
    }
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

    fn tags(scanner: &mut Scanner, buf: &[u8], needs: u8) -> (Vec<Seen<'static>>, usize) {
        let mut seen = Vec::new();
        let n = scanner
            .scan::<ProtocolError>(
                buf,
                |t| t == needs,
                |_, s| {
                    seen.push(match s {
                        Seen::Whole(m) => Seen::Partial {
                            tag: m.tag,
                            wire_len: m.wire_len(),
                        },
                        Seen::Partial { tag, wire_len } => Seen::Partial { tag, wire_len },
                    });
                    Ok(())
                },
            )
            .unwrap();
        (seen, n)
    }

    #[test]
    fn large_messages_stream_small_ones_wait() {
        let mut buf = msg(b'D', &[7u8; 100]);
        buf.extend(msg(b'Z', b"I"));
        let mut s = Scanner::new(1 << 20);
        // Half of the DataRow: forwarded at once.
        let (seen, n) = tags(&mut s, &buf[..50], b'Z');
        assert_eq!(
            seen,
            vec![Seen::Partial {
                tag: b'D',
                wire_len: 105
            }]
        );
        assert_eq!(n, 50);
        assert!(!s.at_boundary());
        // The rest of the row and half of ReadyForQuery: the row's tail goes, Z waits.
        let (seen, n) = tags(&mut s, &buf[50..108], b'Z');
        assert!(seen.is_empty());
        assert_eq!(n, 55);
        assert!(s.at_boundary());
        let (seen, n) = tags(&mut s, &buf[105..], b'Z');
        assert_eq!(
            seen,
            vec![Seen::Partial {
                tag: b'Z',
                wire_len: 6
            }]
        );
        assert_eq!(n, 6);
    }

    #[test]
    fn finishing_a_partial_message_stops_at_its_end() {
        let buf = msg(b'D', &[7u8; 100]);
        let mut s = Scanner::new(1 << 20);
        let (_, n) = tags(&mut s, &buf[..30], b'Z');
        assert_eq!(n, 30);
        // 75 bytes of the row are still to come; offered 60, then 40, it takes 60 and 15.
        assert_eq!(s.finish_partial(60), 60);
        assert!(!s.at_boundary());
        assert_eq!(s.finish_partial(40), 15);
        assert!(s.at_boundary());
        assert_eq!(s.finish_partial(40), 0);
    }

    #[test]
    fn lengths_are_checked_from_the_header() {
        let mut s = Scanner::new(100);
        let err = s
            .scan::<ProtocolError>(&[b'Q', 0, 0, 1, 0], |_| false, |_, _| Ok(()))
            .unwrap_err();
        assert!(matches!(err, ProtocolError::TooLarge { .. }));
        let err = Scanner::new(100)
            .scan::<ProtocolError>(&[b'Q', 0, 0, 0, 0], |_| false, |_, _| Ok(()))
            .unwrap_err();
        assert!(matches!(err, ProtocolError::BadLength { .. }));
    }

    #[test]
    fn byte_at_a_time_equals_all_at_once() {
        let mut wire = Vec::new();
        for i in 0..20u8 {
            wire.extend(msg(
                if i % 3 == 0 { b'Z' } else { b'D' },
                &vec![i; i as usize * 7],
            ));
        }
        let mut whole = Scanner::new(1 << 20);
        let (all, n) = tags(&mut whole, &wire, b'Z');
        assert_eq!(n, wire.len());
        let mut s = Scanner::new(1 << 20);
        let mut pending: Vec<u8> = Vec::new();
        let mut seen_tags = Vec::new();
        for &b in &wire {
            pending.push(b);
            let (seen, n) = tags(&mut s, &pending, b'Z');
            seen_tags.extend(seen.iter().map(|s| s.tag()));
            pending.drain(..n);
        }
        assert!(pending.is_empty());
        assert_eq!(seen_tags, all.iter().map(|s| s.tag()).collect::<Vec<_>>());
    }
}
