//! Named prepared statements in transaction mode.
//!
//! A client's statement names are its own; on the server, Sluice prepares each distinct
//! statement (query text and parameter types) under a name it chooses, `sluice_<n>`, shared by
//! every client that prepares the same text. Each server connection remembers which of those it
//! has (bounded, least recently used evicted), so a client's Bind or Describe on a connection
//! that lacks its statement gets a Parse injected first, and a Parse the connection already has
//! is answered by Sluice without a round trip.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use bytes::{Bytes, BytesMut};
use pgwire::encode;

/// One distinct statement, as prepared on servers.
#[derive(Debug)]
pub struct Statement {
    pub server_name: Arc<str>,
    /// The whole Parse message under `server_name`, ready to send to any server connection.
    pub parse: Bytes,
}

/// Interns statements by definition so that identical statements share one server name.
#[derive(Debug, Default)]
pub struct StatementRegistry {
    // std Mutex: a hash lookup per Parse, never held across an await.
    inner: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    by_definition: HashMap<Bytes, Weak<Statement>>,
    next_id: u64,
    sweep_at: usize,
}

impl StatementRegistry {
    /// The statement for `definition` (query text, NUL, parameter types as sent in Parse).
    pub fn intern(&self, definition: &[u8]) -> Arc<Statement> {
        let mut reg = self
            .inner
            .lock()
            .expect("statement registry lock is never poisoned");
        if let Some(existing) = reg.by_definition.get(definition).and_then(Weak::upgrade) {
            return existing;
        }
        reg.next_id += 1;
        let server_name: Arc<str> = format!("sluice_{}", reg.next_id).into();
        let mut parse = BytesMut::new();
        encode::parse(&mut parse, &server_name, definition);
        let statement = Arc::new(Statement {
            server_name,
            parse: parse.freeze(),
        });
        reg.by_definition.insert(
            Bytes::copy_from_slice(definition),
            Arc::downgrade(&statement),
        );
        reg.sweep();
        statement
    }
}

impl Registry {
    /// Drops entries no client holds any more, whenever the map has doubled since the last sweep.
    fn sweep(&mut self) {
        if self.by_definition.len() >= self.sweep_at.max(1024) {
            self.by_definition.retain(|_, s| s.strong_count() > 0);
            self.sweep_at = self.by_definition.len() * 2;
        }
    }
}

/// The statements one client has prepared, by the client's names.
#[derive(Debug, Default)]
pub struct ClientStatements {
    by_name: HashMap<String, Arc<Statement>>,
}

impl ClientStatements {
    pub fn get(&self, name: &str) -> Option<&Arc<Statement>> {
        self.by_name.get(name)
    }

    pub fn insert(&mut self, name: &str, statement: Arc<Statement>) {
        self.by_name.insert(name.to_owned(), statement);
    }

    pub fn remove(&mut self, name: &str) {
        self.by_name.remove(name);
    }

    pub fn clear(&mut self) {
        self.by_name.clear();
    }
}

/// The statements one server connection has, least recently used evicted past `capacity`.
#[derive(Debug)]
pub struct ServerStatements {
    last_used: HashMap<Arc<str>, u64>,
    tick: u64,
    capacity: usize,
}

impl ServerStatements {
    pub fn new(capacity: usize) -> Self {
        ServerStatements {
            last_used: HashMap::new(),
            tick: 0,
            capacity: capacity.max(1),
        }
    }

    /// True if the server has `name`; marks it used.
    pub fn touch(&mut self, name: &Arc<str>) -> bool {
        self.tick += 1;
        match self.last_used.get_mut(name) {
            Some(used) => {
                *used = self.tick;
                true
            }
            None => false,
        }
    }

    /// Records `name` as prepared; returns the statement to close if that went over capacity.
    pub fn insert(&mut self, name: Arc<str>) -> Option<Arc<str>> {
        self.tick += 1;
        self.last_used.insert(name, self.tick);
        if self.last_used.len() <= self.capacity {
            return None;
        }
        let oldest = self
            .last_used
            .iter()
            .min_by_key(|(_, used)| **used)
            .map(|(name, _)| name.clone())?;
        self.last_used.remove(&oldest);
        Some(oldest)
    }

    pub fn remove(&mut self, name: &str) {
        self.last_used.remove(name);
    }

    /// After DISCARD ALL or DEALLOCATE ALL ran on the server.
    pub fn clear(&mut self) {
        self.last_used.clear();
    }

    pub fn len(&self) -> usize {
        self.last_used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_definitions_share_a_server_name() {
        let reg = StatementRegistry::default();
        let a = reg.intern(b"SELECT 1\0\0\0");
        let b = reg.intern(b"SELECT 1\0\0\0");
        let c = reg.intern(b"SELECT 2\0\0\0");
        assert_eq!(a.server_name, b.server_name);
        assert_ne!(a.server_name, c.server_name);
        // Same text, different parameter types: different statements.
        let d = reg.intern(b"SELECT $1\0\0\x01\0\0\0\x17");
        let e = reg.intern(b"SELECT $1\0\0\x01\0\0\0\x19");
        assert_ne!(d.server_name, e.server_name);
    }

    #[test]
    fn server_statements_evict_the_least_recently_used() {
        let mut s = ServerStatements::new(2);
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        assert_eq!(s.insert(a.clone()), None);
        assert_eq!(s.insert(b.clone()), None);
        assert!(s.touch(&a));
        assert_eq!(s.insert(c.clone()), Some(b.clone()));
        assert!(s.touch(&a) && s.touch(&c) && !s.touch(&b));
        s.clear();
        assert_eq!(s.len(), 0);
    }
}
