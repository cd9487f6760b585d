//! What can be wrong with bytes a peer sent.

/// A protocol violation: the connection that sent it cannot be trusted to stay in sync.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message '{}' is {len} bytes, over the {max}-byte limit", char::from(*tag))]
    TooLarge { tag: u8, len: usize, max: usize },
    #[error("message '{}' declares an invalid length {len}", char::from(*tag))]
    BadLength { tag: u8, len: usize },
    #[error("invalid startup packet length {0}")]
    BadStartupLength(usize),
    #[error("unsupported protocol version {}.{}", .0 >> 16, .0 & 0xffff)]
    UnsupportedProtocol(u32),
    #[error("unknown {direction} message type '{}'", (*tag as char).escape_default())]
    UnknownTag { tag: u8, direction: &'static str },
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("unexpected message '{}' {context}", (*tag as char).escape_default())]
    Unexpected { tag: u8, context: &'static str },
}
