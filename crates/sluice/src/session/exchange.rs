//! What one server connection owes its client: the replies still expected, and the transaction
//! state. Transaction boundaries come from ReadyForQuery, never from SQL keywords.

use pgwire::backend::TransactionStatus;
use pgwire::scan::Seen;
use pgwire::{BackendTag, ErrorFields, FrontendTag, ProtocolError, Severity};

/// The state of the conversation on one borrowed server connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Query, FunctionCall and Sync messages sent whose ReadyForQuery has not come back.
    pub pending_ready: u32,
    /// Extended-protocol messages sent since the last Sync: the server is mid-batch.
    pub unsynced: bool,
    /// The status in the last ReadyForQuery.
    pub status: TransactionStatus,
    /// The server is in COPY FROM STDIN and waits for the client's data.
    pub copy_in: bool,
    /// The server sent a FATAL (it is about to close); the client already has it.
    pub fatal_seen: bool,
}

/// What the client asked for, as far as the relay cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientStep {
    Forward,
    /// Terminate: the client is leaving; nothing from here on is forwarded.
    Terminate,
}

impl Default for Exchange {
    fn default() -> Self {
        Exchange {
            pending_ready: 0,
            unsynced: false,
            status: TransactionStatus::Idle,
            copy_in: false,
            fatal_seen: false,
        }
    }
}

impl Exchange {
    /// Every request answered and no transaction block open: the connection can be lent again.
    pub fn is_idle(&self) -> bool {
        self.pending_ready == 0
            && !self.unsynced
            && !self.copy_in
            && self.status == TransactionStatus::Idle
    }

    /// Accounts for one message from the client.
    pub fn client_message(&mut self, tag: u8) -> Result<ClientStep, ProtocolError> {
        match FrontendTag::from_byte(tag)? {
            FrontendTag::Query | FrontendTag::FunctionCall => self.pending_ready += 1,
            FrontendTag::Sync => {
                self.pending_ready += 1;
                self.unsynced = false;
            }
            FrontendTag::Parse
            | FrontendTag::Bind
            | FrontendTag::Describe
            | FrontendTag::Execute
            | FrontendTag::Close
            | FrontendTag::Flush => self.unsynced = true,
            FrontendTag::CopyDone | FrontendTag::CopyFail => self.copy_in = false,
            FrontendTag::CopyData => {}
            FrontendTag::Terminate => return Ok(ClientStep::Terminate),
            FrontendTag::Password => {
                return Err(ProtocolError::Unexpected {
                    tag,
                    context: "after authentication",
                })
            }
        }
        Ok(ClientStep::Forward)
    }

    /// Server messages whose body the relay must read.
    pub fn server_needs_body(tag: u8) -> bool {
        tag == BackendTag::ReadyForQuery.byte() || tag == BackendTag::ErrorResponse.byte()
    }

    /// Accounts for one message from the server.
    pub fn server_message(&mut self, seen: Seen<'_>) -> Result<(), ProtocolError> {
        let tag = BackendTag::from_byte(seen.tag())?;
        match (tag, seen) {
            (BackendTag::ReadyForQuery, Seen::Whole(msg)) => {
                self.status = TransactionStatus::parse(msg.body)?;
                self.pending_ready =
                    self.pending_ready
                        .checked_sub(1)
                        .ok_or(ProtocolError::Unexpected {
                            tag: msg.tag,
                            context: "from the server: ReadyForQuery nobody asked for",
                        })?;
            }
            (BackendTag::ErrorResponse, Seen::Whole(msg)) => {
                let fields = ErrorFields::parse(msg.body)?;
                if matches!(fields.severity, Severity::Fatal | Severity::Panic) {
                    self.fatal_seen = true;
                }
                // An error ends COPY FROM STDIN on the server side.
                self.copy_in = false;
            }
            (BackendTag::CopyInResponse, _) => self.copy_in = true,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgwire::RawMessage;

    fn whole(tag: u8, body: &[u8]) -> Seen<'_> {
        Seen::Whole(RawMessage { tag, body })
    }

    #[test]
    fn simple_query_round_trip() {
        let mut ex = Exchange::default();
        ex.client_message(b'Q').unwrap();
        assert!(!ex.is_idle());
        ex.server_message(whole(b'C', b"SELECT 1\0")).unwrap();
        ex.server_message(whole(b'Z', b"I")).unwrap();
        assert!(ex.is_idle());
    }

    #[test]
    fn pipelined_extended_batches_wait_for_every_sync() {
        let mut ex = Exchange::default();
        for tag in [b'P', b'B', b'E', b'S', b'B', b'E', b'S'] {
            ex.client_message(tag).unwrap();
        }
        ex.server_message(whole(b'Z', b"I")).unwrap();
        assert!(!ex.is_idle());
        ex.server_message(whole(b'Z', b"I")).unwrap();
        assert!(ex.is_idle());
    }

    #[test]
    fn flush_without_sync_keeps_the_connection() {
        let mut ex = Exchange::default();
        for tag in [b'P', b'D', b'H'] {
            ex.client_message(tag).unwrap();
        }
        assert!(!ex.is_idle());
    }

    #[test]
    fn open_transaction_is_not_idle() {
        let mut ex = Exchange::default();
        ex.client_message(b'Q').unwrap();
        ex.server_message(whole(b'Z', b"T")).unwrap();
        assert!(!ex.is_idle());
        ex.client_message(b'Q').unwrap();
        ex.server_message(whole(b'Z', b"E")).unwrap();
        assert!(!ex.is_idle());
    }

    #[test]
    fn copy_in_holds_until_copy_done() {
        let mut ex = Exchange::default();
        ex.client_message(b'Q').unwrap();
        ex.server_message(whole(b'G', b"\0\0\0")).unwrap();
        assert!(ex.copy_in);
        ex.client_message(b'd').unwrap();
        ex.client_message(b'c').unwrap();
        ex.server_message(whole(b'Z', b"I")).unwrap();
        assert!(ex.is_idle());
    }

    #[test]
    fn protocol_violations() {
        let mut ex = Exchange::default();
        assert!(ex.server_message(whole(b'Z', b"I")).is_err());
        assert!(ex.client_message(b'p').is_err());
        assert!(ex.client_message(b'!').is_err());
        assert_eq!(ex.client_message(b'X').unwrap(), ClientStep::Terminate);
    }

    #[test]
    fn fatal_is_noticed() {
        let mut ex = Exchange::default();
        let body = b"SFATAL\0VFATAL\0C57P01\0Mterminating\0\0";
        ex.server_message(whole(b'E', body)).unwrap();
        assert!(ex.fatal_seen);
    }
}
