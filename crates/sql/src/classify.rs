//! The full path: tokenize, split into statements, and classify each by its first words, then
//! look for tracked function calls inside it.

use crate::effect::{DiscardWhat, Effect, TransactionControl};
use crate::functions;
use crate::lexer::{Lexer, TokenKind};
use crate::literal::ident_is;
use crate::quote::is_keyword;
use crate::set;
use crate::split::Statements;
use crate::stmt::Stmt;

/// Classifies every statement of `sql`, without the pre-check.
pub(crate) fn classify_all(sql: &str, standard_conforming_strings: bool) -> Vec<Effect> {
    let mut effects = Vec::new();
    let mut tokens = Vec::new();
    let lexer = Lexer::with_standard_conforming_strings(sql, standard_conforming_strings);
    let mut statements = Statements::new(lexer);
    while statements.next_into(&mut tokens) {
        if tokens.is_empty() {
            continue;
        }
        let st = Stmt {
            sql,
            tokens: &tokens,
            standard_conforming_strings,
        };
        statement(&st, &mut effects);
    }
    effects
}

/// Appends the effects of one non-empty statement.
fn statement(st: &Stmt<'_, '_>, out: &mut Vec<Effect>) {
    let Some(first) = st.get(0) else { return };
    // Statement-level commands are keywords: a quoted `"set"` is just a name.
    let command = if first.kind == TokenKind::Ident {
        first.text.to_ascii_lowercase()
    } else {
        String::new()
    };
    // Whether function calls in the statement run now (and so must be looked for).
    let runs_functions = match command.as_str() {
        "set" => {
            set::set(st, out);
            false
        }
        "reset" => {
            set::reset(st, out);
            false
        }
        "prepare" => {
            prepare(st, out);
            false
        }
        "execute" => {
            out.extend(named(st, 1, |name| Effect::Execute { name }));
            true
        }
        "deallocate" => {
            deallocate(st, out);
            false
        }
        "discard" => {
            out.extend(discard(st));
            false
        }
        "listen" => {
            out.extend(named(st, 1, |channel| Effect::Listen { channel }));
            false
        }
        "unlisten" => {
            if st.get(1).is_some_and(|t| t.is_operator("*")) {
                out.push(Effect::Unlisten { channel: None });
            } else {
                out.extend(named(st, 1, |channel| Effect::Unlisten {
                    channel: Some(channel),
                }));
            }
            false
        }
        "create" => create(st, out),
        "select" | "with" => {
            select_into_temp(st, out);
            true
        }
        "declare" => {
            declare(st, out);
            true
        }
        "close" => {
            if st.only_kw(1, "all") {
                out.push(Effect::CloseCursor { name: None });
            } else {
                out.extend(named(st, 1, |name| Effect::CloseCursor {
                    name: Some(name),
                }));
            }
            false
        }
        "load" => {
            out.push(Effect::Load);
            false
        }
        "begin" | "start" | "commit" | "end" | "rollback" | "abort" | "savepoint" | "release" => {
            out.extend(transaction(st, &command).map(Effect::Transaction));
            false
        }
        _ => {
            // `(SELECT ... INTO TEMP t)` and the like.
            if first.is_punct(b'(') {
                select_into_temp(st, out);
            }
            true
        }
    };
    if runs_functions {
        functions::scan(st, 1, out);
    }
}

/// The effect `make` builds from the name at token `i`, if there is one.
fn named(st: &Stmt<'_, '_>, i: usize, make: impl FnOnce(String) -> Effect) -> Option<Effect> {
    match st.name(i) {
        Some(name) => Some(make(name)),
        None => st.undecodable_name(i),
    }
}

/// `PREPARE name [(types)] AS statement`, or `PREPARE TRANSACTION 'id'`.
fn prepare(st: &Stmt<'_, '_>, out: &mut Vec<Effect>) {
    // `transaction` is also a valid statement name: `PREPARE transaction AS SELECT 1`.
    if st.kw(1, "transaction") && st.get(2).is_some_and(|t| t.is_string()) {
        out.push(Effect::Transaction(TransactionControl::PrepareTransaction));
        return;
    }
    if !(2..st.len()).any(|k| st.kw(k, "as")) {
        // Not a PREPARE the server would accept.
        return;
    }
    let Some(prepared) = named(st, 1, |name| Effect::Prepare {
        name,
        text: st.text_from(0).to_owned(),
    }) else {
        return;
    };
    out.push(prepared);
    // The prepared statement's function calls run at each EXECUTE, which only names it.
    let mut inner = Vec::new();
    functions::scan(st, 2, &mut inner);
    if !inner.is_empty() {
        out.push(Effect::Unknown {
            reason: "prepared statement changes session state when executed",
        });
    }
}

/// `DEALLOCATE [PREPARE] {name | ALL}`.
fn deallocate(st: &Stmt<'_, '_>, out: &mut Vec<Effect>) {
    // `prepare` is also a valid statement name: `DEALLOCATE prepare`.
    let i = if st.kw(1, "prepare") && st.len() > 2 {
        2
    } else {
        1
    };
    if st.only_kw(i, "all") {
        out.push(Effect::Deallocate { name: None });
    } else {
        out.extend(named(st, i, |name| Effect::Deallocate { name: Some(name) }));
    }
}

/// `DISCARD {ALL | PLANS | SEQUENCES | TEMP | TEMPORARY}`.
fn discard(st: &Stmt<'_, '_>) -> Option<Effect> {
    let what = if st.only_kw(1, "all") {
        DiscardWhat::All
    } else if st.only_kw(1, "plans") {
        DiscardWhat::Plans
    } else if st.only_kw(1, "sequences") {
        DiscardWhat::Sequences
    } else if st.only_kw(1, "temp") || st.only_kw(1, "temporary") {
        DiscardWhat::Temp
    } else {
        return None;
    };
    Some(Effect::Discard(what))
}

/// `CREATE ...`: reports temporary objects; returns whether the statement runs the function
/// calls it contains (not for definitions of functions, views, rules and triggers).
fn create(st: &Stmt<'_, '_>, out: &mut Vec<Effect>) -> bool {
    let mut i = 1;
    if st.kw(i, "or") && st.kw(i + 1, "replace") {
        i += 2;
    }
    if st.kw(i, "global") || st.kw(i, "local") {
        i += 1;
    }
    let temp = st.kw(i, "temp") || st.kw(i, "temporary");
    if temp || names_pg_temp(st, 1) {
        out.push(Effect::CreateTemp);
    }
    // Skip the remaining modifiers to find the kind of object.
    while [
        "temp",
        "temporary",
        "unlogged",
        "recursive",
        "trusted",
        "procedural",
        "constraint",
    ]
    .iter()
    .any(|w| st.kw(i, w))
    {
        i += 1;
    }
    !["function", "procedure", "view", "rule", "trigger"]
        .iter()
        .any(|w| st.kw(i, w))
}

/// Whether any token from `from` on is `pg_temp` followed by `.`: an object in (or over) the
/// session's temporary schema.
fn names_pg_temp(st: &Stmt<'_, '_>, from: usize) -> bool {
    (from..st.len())
        .any(|k| st.get(k).is_some_and(|t| ident_is(t, "pg_temp")) && st.punct(k + 1, b'.'))
}

/// `SELECT ... INTO [GLOBAL | LOCAL] {TEMP | TEMPORARY} [TABLE] name` or `INTO pg_temp.name`.
fn select_into_temp(st: &Stmt<'_, '_>, out: &mut Vec<Effect>) {
    for k in 1..st.len() {
        // `INSERT INTO temp ...` and `MERGE INTO temp ...` name a table called `temp`.
        if !st.kw(k, "into") || st.kw(k - 1, "insert") || st.kw(k - 1, "merge") {
            continue;
        }
        let mut j = k + 1;
        if st.kw(j, "global") || st.kw(j, "local") {
            j += 1;
        }
        let temp = if st.kw(j, "temp") || st.kw(j, "temporary") {
            j += 1;
            if st.kw(j, "table") {
                j += 1;
            }
            // Only a modifier if a table name follows; otherwise `temp` is the table's name.
            st.get(j).is_some_and(|t| match t.kind {
                TokenKind::Ident => !is_keyword(&t.text.to_ascii_lowercase()),
                TokenKind::QuotedIdent | TokenKind::UnicodeIdent => true,
                _ => false,
            })
        } else {
            st.get(j).is_some_and(|t| ident_is(t, "pg_temp")) && st.punct(j + 1, b'.')
        };
        if temp {
            out.push(Effect::CreateTemp);
            return;
        }
    }
}

/// `DECLARE name [options] CURSOR [{WITH | WITHOUT} HOLD] FOR query`.
fn declare(st: &Stmt<'_, '_>, out: &mut Vec<Effect>) {
    let Some(cursor) = (1..st.len()).find(|&k| st.kw(k, "cursor")) else {
        return;
    };
    let mut k = cursor + 1;
    while k < st.len() && !st.kw(k, "for") {
        if st.kw(k, "with") && st.kw(k + 1, "hold") {
            out.push(Effect::DeclareWithHold);
            return;
        }
        k += 1;
    }
}

/// The transaction-control statement starting with `command` (lower case).
fn transaction(st: &Stmt<'_, '_>, command: &str) -> Option<TransactionControl> {
    use TransactionControl::*;
    let optional_work = |i: usize| {
        if st.kw(i, "work") || st.kw(i, "transaction") {
            i + 1
        } else {
            i
        }
    };
    Some(match command {
        "begin" => Begin,
        "start" if st.kw(1, "transaction") => Begin,
        "commit" if st.kw(1, "prepared") => CommitPrepared,
        "commit" | "end" => Commit,
        "rollback" if st.kw(1, "prepared") => RollbackPrepared,
        "rollback" if st.kw(optional_work(1), "to") => RollbackToSavepoint,
        "rollback" | "abort" => Rollback,
        "savepoint" => Savepoint,
        "release" => Release,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
