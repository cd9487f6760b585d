//! Finds the SQL that changes PostgreSQL session state, for transaction pooling. Pure: no I/O.
//!
//! In transaction pooling a client's server connection changes between transactions, so Sluice
//! must notice statements that change session state: to track them and re-apply them on the next
//! server connection (`SET`, `PREPARE`, `LISTEN`), or to pin the client to its server connection
//! (`SET ROLE`, temporary tables, advisory locks, cursors `WITH HOLD`).
//!
//! [`classify`] runs on every simple Query and every Parse, so it starts with a one-pass,
//! allocation-free check that returns an empty `Vec` for text that cannot contain anything of
//! interest; only the rest is tokenized by a lexer ([`lexer`]) that knows where PostgreSQL's
//! strings, comments and quoted identifiers begin and end, so that SQL inside them never counts.
//!
//! - [`effect`]: what a statement can do, [`Effect`];
//! - [`lexer`]: the tokenizer;
//! - `precheck`: the fast path; `split`: statements at top-level `;`; `classify`, `set`,
//!   `functions`: the classifier; `literal`: decoding names and strings;
//! - [`quote_literal`], [`quote_ident`]: for writing SQL back.
#![forbid(unsafe_code)]

mod classify;
pub mod effect;
mod functions;
pub mod lexer;
mod literal;
mod precheck;
mod quote;
mod set;
mod split;
mod stmt;

#[cfg(test)]
mod fuzz_tests;

pub use effect::{DiscardWhat, Effect, TransactionControl};
pub use quote::{quote_ident, quote_literal};

/// How the server reads SQL text, where that changes what [`classify`] sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The server's `standard_conforming_strings` (reported in ParameterStatus). When off, a
    /// backslash escapes a quote inside `'...'`, which moves where a string ends; classifying
    /// with the wrong setting could miss a statement hidden in what looks like a literal.
    pub standard_conforming_strings: bool,
}

impl Default for Options {
    /// `standard_conforming_strings = on`, the server default since PostgreSQL 9.1.
    fn default() -> Self {
        Options {
            standard_conforming_strings: true,
        }
    }
}

/// What the statements in one SQL text (one simple Query, possibly several statements separated
/// by `;`, or one Parse'd statement) do to session state, in statement order. Assumes
/// `standard_conforming_strings = on`; see [`classify_with`].
///
/// Returns an empty `Vec`, without allocating, for the common case.
pub fn classify(sql: &str) -> Vec<Effect> {
    classify_with(sql, Options::default())
}

/// [`classify`] for a server whose settings are given in `options`.
pub fn classify_with(sql: &str, options: Options) -> Vec<Effect> {
    if !precheck::may_affect_session(sql) {
        return Vec::new();
    }
    classify::classify_all(sql, options.standard_conforming_strings)
}
