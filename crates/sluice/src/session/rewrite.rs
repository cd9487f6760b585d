//! Client messages Sluice rewrites in transaction mode: named prepared statements move to the
//! server under Sluice's names (see `statements.rs`), injected or answered as needed. Everything
//! else is forwarded untouched.

use bytes::{Bytes, BytesMut};
use pgwire::frontend::{self, Bind, Parse, Target};
use pgwire::{encode, FrontendTag, ProtocolError, RawMessage};

use super::exchange::{ClientStep, Exchange, Expect};
use super::outbox::Edits;
use super::params::Touched;
use super::pinning::{may_release, verifiable, PinCounters, PinReason, PinReasonSet};
use crate::clients::ClientEntry;
use crate::statements::{ClientStatements, ServerStatements, Statement, StatementRegistry};
use sql::{DiscardWhat, Effect, TransactionControl};

/// What the client-side scan needs besides the exchange.
pub struct Rewriter<'a> {
    pub statements: &'a mut ClientStatements,
    pub registry: &'a StatementRegistry,
    /// Session settings the client's SQL changed in this transaction.
    pub touched: Touched,
    /// Why the client is pinned now (the first reason), if it is.
    pub pin: Option<PinReason>,
    /// A reason that the server cannot confirm gone (LOAD, unknown state) was seen.
    pub pin_for_good: bool,
    /// While pinned, the client ran something that may have ended the pinned state.
    pub maybe_released: bool,
    /// A COMMIT (or END, COMMIT PREPARED, PREPARE TRANSACTION) was sent: if the server is lost
    /// before answering, its outcome is unknown.
    pub commit_sent: bool,
    /// Pin reasons the operator switched off.
    pub ignored_pins: PinReasonSet,
    pub counters: &'a PinCounters,
    /// This client's entry in the registry (shows the pin to the admin interface).
    pub client: &'a ClientEntry,
    /// `[log] log_pins`.
    pub log_pins: bool,
}

impl Rewriter<'_> {
    /// Notes what a statement does to session state.
    fn classify(&mut self, sql_text: &str, prepared: &mut ServerStatements) -> Vec<Effect> {
        let effects = sql::classify(sql_text);
        for effect in &effects {
            if self.pin.is_some() && may_release(effect) {
                self.maybe_released = true;
            }
            if let Some(reason) = PinReason::of(effect).filter(|r| !self.ignored_pins.contains(*r))
            {
                self.pin_for_good |= !verifiable(reason);
                if self.pin.is_none() {
                    if self.log_pins {
                        tracing::info!(
                            reason = reason.as_str(),
                            "client pinned to its server connection"
                        );
                    }
                    self.counters.record(reason);
                    self.client.set_pin(Some(reason));
                    self.pin = Some(reason);
                }
            }
            if matches!(
                effect,
                Effect::Discard(DiscardWhat::All) | Effect::Deallocate { name: None }
            ) {
                // Both the client's statements and every one on the server are gone.
                self.statements.clear();
                prepared.clear();
            }
            if matches!(
                effect,
                Effect::Transaction(
                    TransactionControl::Commit
                        | TransactionControl::CommitPrepared
                        | TransactionControl::PrepareTransaction
                )
            ) {
                self.commit_sent = true;
            }
            self.touched.record(effect);
        }
        effects
    }
}

/// The rewriter working on one server connection's prepared statements.
pub struct OnServer<'r, 'a> {
    rewriter: &'r mut Rewriter<'a>,
    prepared: &'r mut ServerStatements,
}

/// Client messages whose body the relay reads.
pub fn client_needs_body(tag: u8) -> bool {
    matches!(tag, b'Q' | b'P' | b'B' | b'D' | b'C')
}

impl<'a> Rewriter<'a> {
    pub fn on<'r>(&'r mut self, prepared: &'r mut ServerStatements) -> OnServer<'r, 'a> {
        OnServer {
            rewriter: self,
            prepared,
        }
    }
}

impl OnServer<'_, '_> {
    /// Handles one whole client message at `offset`; records any rewrite in `edits`.
    pub fn message(
        &mut self,
        offset: usize,
        msg: RawMessage<'_>,
        ex: &mut Exchange,
        edits: &mut Edits,
    ) -> Result<ClientStep, ProtocolError> {
        let rewritten = match FrontendTag::from_byte(msg.tag)? {
            FrontendTag::Query => {
                let effects = self
                    .rewriter
                    .classify(frontend::query(msg.body)?, self.prepared);
                self.deallocate(&effects, ex)
            }
            FrontendTag::Parse => self.parse(msg.body, ex)?,
            FrontendTag::Bind => self.bind(msg.body, ex)?,
            FrontendTag::Describe => self.describe(msg.body, ex)?,
            FrontendTag::Close => self.close(msg.body, ex)?,
            _ => None,
        };
        match rewritten {
            None => ex.client_message(msg.tag),
            Some(bytes) => {
                // A simple Query, even with a Parse injected before it, ends like any Query.
                ex.unsynced = msg.tag != FrontendTag::Query.byte();
                edits.replace(offset, msg.wire_len(), bytes);
                Ok(ClientStep::Forward)
            }
        }
    }

    /// A named Parse: remember it for the client; send it under Sluice's name unless this
    /// server connection already has it, in which case Sluice answers ParseComplete itself.
    fn parse(&mut self, body: &[u8], ex: &mut Exchange) -> Result<Option<Bytes>, ProtocolError> {
        let parse = Parse::decode(body)?;
        self.rewriter.classify(parse.query, self.prepared);
        if parse.name.is_empty() {
            return Ok(None);
        }
        let statement = self.rewriter.registry.intern(parse.definition);
        self.rewriter
            .statements
            .insert(parse.name, statement.clone());
        if self.prepared.touch(&statement.server_name) {
            ex.expect(Expect::Synthetic(made_up(encode::parse_complete)));
            return Ok(Some(Bytes::new()));
        }
        let mut out = BytesMut::new();
        self.prepare_on_server(&statement, true, ex, &mut out);
        Ok(Some(out.freeze()))
    }

    fn bind(&mut self, body: &[u8], ex: &mut Exchange) -> Result<Option<Bytes>, ProtocolError> {
        let bind = Bind::parse(body)?;
        let Some(statement) = self.known(bind.statement) else {
            return Ok(None);
        };
        let mut out = self.ensure_prepared(&statement, ex);
        encode::bind(&mut out, bind.portal, &statement.server_name, bind.rest);
        ex.expect(Expect::BindComplete);
        Ok(Some(out.freeze()))
    }

    fn describe(&mut self, body: &[u8], ex: &mut Exchange) -> Result<Option<Bytes>, ProtocolError> {
        let (target, name) = frontend::describe_or_close(body)?;
        let Some(statement) = self.known(name).filter(|_| target == Target::Statement) else {
            return Ok(None);
        };
        let mut out = self.ensure_prepared(&statement, ex);
        encode::describe(&mut out, Target::Statement, &statement.server_name);
        ex.expect(Expect::Describe);
        Ok(Some(out.freeze()))
    }

    /// `DEALLOCATE name` of a statement the client prepared with the protocol: the server knows
    /// it under Sluice's name, so the statement is rewritten to that (after a Parse if this
    /// connection lacks it, so the reply is the same DEALLOCATE a plain server sends).
    fn deallocate(&mut self, effects: &[Effect], ex: &mut Exchange) -> Option<Bytes> {
        let [Effect::Deallocate { name: Some(name) }] = effects else {
            return None;
        };
        let statement = self.known(name)?;
        self.rewriter.statements.remove(name);
        let mut out = self.ensure_prepared(&statement, ex);
        self.prepared.remove(&statement.server_name);
        let sql = format!("DEALLOCATE {}", sql::quote_ident(&statement.server_name));
        encode::query(&mut out, &sql);
        ex.expect(Expect::Ready);
        Some(out.freeze())
    }

    /// Closing a named statement only forgets the client's name: the server copy is shared.
    /// Closing one that does not exist is not an error, as on a plain server.
    fn close(&mut self, body: &[u8], ex: &mut Exchange) -> Result<Option<Bytes>, ProtocolError> {
        let (target, name) = frontend::describe_or_close(body)?;
        if target != Target::Statement || name.is_empty() {
            return Ok(None);
        }
        self.rewriter.statements.remove(name);
        ex.expect(Expect::Synthetic(made_up(encode::close_complete)));
        Ok(Some(Bytes::new()))
    }

    fn known(&self, name: &str) -> Option<std::sync::Arc<Statement>> {
        if name.is_empty() {
            return None;
        }
        self.rewriter.statements.get(name).cloned()
    }

    /// A buffer starting with a Parse for `statement` if this server connection lacks it.
    fn ensure_prepared(&mut self, statement: &Statement, ex: &mut Exchange) -> BytesMut {
        let mut out = BytesMut::new();
        if !self.prepared.touch(&statement.server_name) {
            self.prepare_on_server(statement, false, ex, &mut out);
        }
        out
    }

    /// Appends the Parse (after a Close of the statement it evicts, if any).
    fn prepare_on_server(
        &mut self,
        statement: &Statement,
        client_asked: bool,
        ex: &mut Exchange,
        out: &mut BytesMut,
    ) {
        if let Some(evicted) = self.prepared.insert(statement.server_name.clone()) {
            encode::close(out, Target::Statement, &evicted);
            ex.expect(Expect::CloseComplete { forward: false });
        }
        out.extend_from_slice(&statement.parse);
        ex.expect(Expect::ParseComplete {
            forward: client_asked,
            prepares: Some(statement.server_name.clone()),
        });
    }
}

fn made_up(build: fn(&mut BytesMut)) -> Bytes {
    let mut buf = BytesMut::new();
    build(&mut buf);
    buf.freeze()
}
