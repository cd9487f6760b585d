//! What one server connection owes its client: a queue of the replies still expected, and the
//! transaction state. Transaction boundaries come from ReadyForQuery, never from SQL keywords.
//!
//! The queue also places the replies Sluice makes up itself (a ParseComplete for a statement the
//! server already has, a CloseComplete for a Close Sluice handles) at exactly the point a server
//! would have sent them, and drops the replies to messages Sluice injected.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use pgwire::backend::TransactionStatus;
use pgwire::scan::Seen;
use pgwire::{BackendTag, ErrorFields, FrontendTag, ProtocolError, Severity};

/// One reply (or group of replies) the server or Sluice owes the client, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// `forward: false` for a Parse Sluice injected. `prepares` names the statement the Parse
    /// creates, so a failed Parse can be forgotten.
    ParseComplete {
        forward: bool,
        prepares: Option<Arc<str>>,
    },
    BindComplete,
    /// Ends with RowDescription or NoData (after ParameterDescription for a statement).
    Describe,
    /// Ends with CommandComplete, EmptyQueryResponse or PortalSuspended.
    Execute,
    CloseComplete {
        forward: bool,
    },
    /// Query, FunctionCall or Sync: ends with ReadyForQuery.
    Ready,
    /// A reply Sluice sends itself when it reaches the head of the queue.
    Synthetic(Bytes),
    /// No reply: marks where the client ended a COPY (CopyDone or CopyFail). A server in
    /// COPY FROM STDIN ignores the Syncs a client pipelined before that point.
    CopyEnd,
}

/// The state of the conversation on one borrowed server connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    expected: VecDeque<Expect>,
    /// Extended-protocol messages sent since the last Sync: the server is mid-batch.
    pub unsynced: bool,
    /// The status in the last ReadyForQuery.
    pub status: TransactionStatus,
    /// The server is in COPY FROM STDIN and waits for the client's data.
    pub copy_in: bool,
    /// The server sent a FATAL (it is about to close); the client already has it.
    pub fatal_seen: bool,
    /// Statements whose Parse failed or was skipped: the server does not have them.
    pub not_prepared: Vec<Arc<str>>,
    /// The server is in COPY FROM STDIN and the client has not ended it yet: its Syncs are
    /// ignored by the server, so they are owed no reply.
    syncs_ignored: bool,
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
            expected: VecDeque::new(),
            unsynced: false,
            status: TransactionStatus::Idle,
            copy_in: false,
            fatal_seen: false,
            not_prepared: Vec::new(),
            syncs_ignored: false,
        }
    }
}

impl Exchange {
    /// Every request answered and no transaction block open: the connection can be lent again.
    pub fn is_idle(&self) -> bool {
        self.expected.is_empty()
            && !self.unsynced
            && !self.copy_in
            && self.status == TransactionStatus::Idle
    }

    /// Replies still owed that end with a ReadyForQuery.
    pub fn pending_ready(&self) -> usize {
        self.expected
            .iter()
            .filter(|e| **e == Expect::Ready)
            .count()
    }

    /// Queues the reply to a message Sluice sends on the client's behalf.
    pub fn expect(&mut self, reply: Expect) {
        if !matches!(reply, Expect::Ready | Expect::Synthetic(_)) {
            self.unsynced = true;
        }
        self.expected.push_back(reply);
    }

    /// Accounts for one message from the client forwarded as is.
    pub fn client_message(&mut self, tag: u8) -> Result<ClientStep, ProtocolError> {
        let reply = match FrontendTag::from_byte(tag)? {
            FrontendTag::Query | FrontendTag::FunctionCall => Expect::Ready,
            FrontendTag::Sync if self.syncs_ignored => return Ok(ClientStep::Forward),
            FrontendTag::Sync => {
                self.unsynced = false;
                Expect::Ready
            }
            FrontendTag::Parse => Expect::ParseComplete {
                forward: true,
                prepares: None,
            },
            FrontendTag::Bind => Expect::BindComplete,
            FrontendTag::Describe => Expect::Describe,
            FrontendTag::Execute => Expect::Execute,
            FrontendTag::Close => Expect::CloseComplete { forward: true },
            FrontendTag::Flush => {
                self.unsynced = true;
                return Ok(ClientStep::Forward);
            }
            FrontendTag::CopyDone | FrontendTag::CopyFail => {
                self.copy_in = false;
                if self.syncs_ignored {
                    self.syncs_ignored = false;
                    return Ok(ClientStep::Forward);
                }
                Expect::CopyEnd
            }
            FrontendTag::CopyData => return Ok(ClientStep::Forward),
            FrontendTag::Terminate => return Ok(ClientStep::Terminate),
            FrontendTag::Password => {
                return Err(ProtocolError::Unexpected {
                    tag,
                    context: "after authentication",
                })
            }
        };
        self.expect(reply);
        Ok(ClientStep::Forward)
    }

    /// Server messages whose body the relay must read.
    pub fn server_needs_body(tag: u8) -> bool {
        tag == BackendTag::ReadyForQuery.byte() || tag == BackendTag::ErrorResponse.byte()
    }

    /// Accounts for one message from the server; returns whether the client gets it.
    pub fn server_message(&mut self, seen: Seen<'_>) -> Result<bool, ProtocolError> {
        let tag = BackendTag::from_byte(seen.tag())?;
        match (tag, seen) {
            (BackendTag::ParseComplete, _) => match self.pop(tag)? {
                Expect::ParseComplete { forward, .. } => return Ok(forward),
                _ => return Err(mismatch(tag)),
            },
            (BackendTag::CloseComplete, _) => match self.pop(tag)? {
                Expect::CloseComplete { forward } => return Ok(forward),
                _ => return Err(mismatch(tag)),
            },
            (BackendTag::BindComplete, _) => self.pop_expected(tag, Expect::BindComplete)?,
            (BackendTag::RowDescription | BackendTag::NoData, _) => {
                self.pop_if(Expect::Describe);
            }
            (
                BackendTag::CommandComplete
                | BackendTag::EmptyQueryResponse
                | BackendTag::PortalSuspended,
                _,
            ) => {
                self.pop_if(Expect::Execute);
            }
            (BackendTag::ErrorResponse, Seen::Whole(msg)) => self.error(msg.body)?,
            (BackendTag::ReadyForQuery, Seen::Whole(msg)) => {
                self.status = TransactionStatus::parse(msg.body)?;
                self.ready()?;
            }
            (BackendTag::CopyInResponse, _) => self.copy_started(),
            _ => {}
        }
        self.drop_passed_markers();
        Ok(true)
    }

    /// COPY FROM STDIN began: Syncs the client sent after the message that started it, up to
    /// its CopyDone or CopyFail, will be ignored by the server.
    fn copy_started(&mut self) {
        let end = self.expected.iter().position(|e| *e == Expect::CopyEnd);
        // Still waiting for data only if the client has not ended the COPY already.
        self.copy_in = end.is_none();
        let mut index = 1;
        while index < end.unwrap_or(self.expected.len()) {
            if self.expected[index] == Expect::Ready {
                self.expected.remove(index);
                continue;
            }
            index += 1;
        }
        match self.expected.iter().position(|e| *e == Expect::CopyEnd) {
            Some(at) => {
                self.expected.remove(at);
            }
            None => self.syncs_ignored = true,
        }
    }

    /// A CopyEnd marker at the head stands for nothing the server still owes.
    fn drop_passed_markers(&mut self) {
        while self.expected.front() == Some(&Expect::CopyEnd) {
            self.expected.pop_front();
        }
    }

    /// Replies Sluice owes now: the made-up ones that reached the head of the queue.
    pub fn take_synthetic(&mut self) -> Option<Bytes> {
        self.drop_passed_markers();
        let mut out: Option<BytesMut> = None;
        while let Some(Expect::Synthetic(bytes)) = self.expected.front() {
            out.get_or_insert_with(BytesMut::new)
                .extend_from_slice(bytes);
            self.expected.pop_front();
            self.drop_passed_markers();
        }
        out.map(BytesMut::freeze)
    }

    fn pop(&mut self, tag: BackendTag) -> Result<Expect, ProtocolError> {
        self.expected.pop_front().ok_or_else(|| mismatch(tag))
    }

    fn pop_expected(&mut self, tag: BackendTag, want: Expect) -> Result<(), ProtocolError> {
        if self.pop(tag)? == want {
            Ok(())
        } else {
            Err(mismatch(tag))
        }
    }

    fn pop_if(&mut self, want: Expect) {
        if self.expected.front() == Some(&want) {
            self.expected.pop_front();
        }
    }

    /// An error ends the current message; in an extended batch the server then skips to Sync,
    /// so the replies owed for the skipped messages (made-up ones included) never come.
    fn error(&mut self, body: &[u8]) -> Result<(), ProtocolError> {
        let fields = ErrorFields::parse(body)?;
        if matches!(fields.severity, Severity::Fatal | Severity::Panic) {
            self.fatal_seen = true;
        }
        self.copy_in = false;
        if matches!(
            fields.severity,
            Severity::Error | Severity::Fatal | Severity::Panic
        ) {
            while let Some(head) = self.expected.front() {
                if *head == Expect::Ready {
                    break;
                }
                if let Some(Expect::ParseComplete {
                    prepares: Some(name),
                    ..
                }) = self.expected.pop_front()
                {
                    self.not_prepared.push(name);
                }
            }
        }
        Ok(())
    }

    fn ready(&mut self) -> Result<(), ProtocolError> {
        while let Some(head) = self.expected.pop_front() {
            match head {
                Expect::Ready => return Ok(()),
                Expect::ParseComplete {
                    prepares: Some(name),
                    ..
                } => self.not_prepared.push(name),
                _ => {}
            }
        }
        Err(mismatch(BackendTag::ReadyForQuery))
    }
}

fn mismatch(tag: BackendTag) -> ProtocolError {
    ProtocolError::Unexpected {
        tag: tag.byte(),
        context: "from the server: a reply nobody asked for",
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
        for tag in [b'1', b'2', b'C'] {
            ex.server_message(whole(tag, b"")).unwrap();
        }
        ex.server_message(whole(b'Z', b"I")).unwrap();
        assert!(!ex.is_idle());
        ex.server_message(whole(b'2', b"")).unwrap();
        ex.server_message(whole(b'C', b"")).unwrap();
        ex.server_message(whole(b'Z', b"I")).unwrap();
        assert!(ex.is_idle());
    }

    #[test]
    fn flush_without_sync_keeps_the_connection() {
        let mut ex = Exchange::default();
        for tag in [b'P', b'D', b'H'] {
            ex.client_message(tag).unwrap();
        }
        ex.server_message(whole(b'1', b"")).unwrap();
        ex.server_message(whole(b'n', b"")).unwrap();
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
    fn syncs_sent_during_copy_in_are_owed_nothing() {
        // tokio-postgres: Bind, Execute, Sync, then the data, CopyDone, Sync.
        let mut ex = Exchange::default();
        for tag in [b'B', b'E', b'S'] {
            ex.client_message(tag).unwrap();
        }
        ex.server_message(whole(b'2', b"")).unwrap();
        ex.server_message(whole(b'G', b"\0\0\0")).unwrap();
        for tag in [b'd', b'c', b'S'] {
            ex.client_message(tag).unwrap();
        }
        ex.server_message(whole(b'C', b"COPY 1\0")).unwrap();
        ex.server_message(whole(b'Z', b"I")).unwrap();
        assert!(ex.is_idle(), "{ex:?}");
        // Data sent before the server's CopyInResponse arrives.
        let mut ex = Exchange::default();
        for tag in [b'B', b'E', b'S', b'd', b'c', b'S'] {
            ex.client_message(tag).unwrap();
        }
        ex.server_message(whole(b'2', b"")).unwrap();
        ex.server_message(whole(b'G', b"\0\0\0")).unwrap();
        ex.server_message(whole(b'C', b"COPY 1\0")).unwrap();
        ex.server_message(whole(b'Z', b"I")).unwrap();
        assert!(ex.is_idle(), "{ex:?}");
    }

    #[test]
    fn made_up_replies_come_out_in_order() {
        let mut ex = Exchange::default();
        ex.expect(Expect::Synthetic(Bytes::from_static(b"1\0\0\0\x04")));
        assert!(ex.take_synthetic().is_some());
        ex.expect(Expect::ParseComplete {
            forward: false,
            prepares: Some("s".into()),
        });
        ex.client_message(b'B').unwrap();
        ex.expect(Expect::Synthetic(Bytes::from_static(b"3\0\0\0\x04")));
        ex.client_message(b'S').unwrap();
        assert!(ex.take_synthetic().is_none());
        assert!(
            !ex.server_message(whole(b'1', b"")).unwrap(),
            "injected Parse's reply is dropped"
        );
        assert!(ex.server_message(whole(b'2', b"")).unwrap());
        assert!(ex.take_synthetic().is_some());
        ex.server_message(whole(b'Z', b"I")).unwrap();
        assert!(ex.is_idle());
    }

    #[test]
    fn an_error_skips_owed_replies_up_to_sync() {
        let mut ex = Exchange::default();
        ex.expect(Expect::ParseComplete {
            forward: true,
            prepares: Some("s".into()),
        });
        ex.client_message(b'B').unwrap();
        ex.expect(Expect::Synthetic(Bytes::from_static(b"3\0\0\0\x04")));
        ex.client_message(b'S').unwrap();
        let err = b"SERROR\0VERROR\0C42601\0Msyntax\0\0";
        ex.server_message(whole(b'E', err)).unwrap();
        assert_eq!(ex.not_prepared, vec![Arc::<str>::from("s")]);
        assert!(ex.take_synthetic().is_none());
        ex.server_message(whole(b'Z', b"I")).unwrap();
        assert!(ex.is_idle());
    }

    #[test]
    fn protocol_violations() {
        let mut ex = Exchange::default();
        assert!(ex.server_message(whole(b'Z', b"I")).is_err());
        assert!(ex.server_message(whole(b'2', b"")).is_err());
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
