//! The fast path: one pass over the bytes, no allocation, deciding whether a SQL text could
//! possibly change session state. A `false` must be certain; a `true` may be wrong (a keyword in a
//! string, `UPDATE ... SET` with a `temp` column) and only costs the full tokenizing path.

use crate::lexer::{is_ident_cont, skip_trivia};

/// Whether `sql` might contain a statement or function call that changes session state.
///
/// Statement-level commands (`SET`, `LISTEN`, `PREPARE`, ...) only count as the first word of a
/// statement, so only the start of the text and the word after each `;` are looked at (skipping
/// whitespace and comments exactly as the lexer does). Everything that can appear mid-statement is
/// found by substring: `set_config`, `advisory` (the lock functions), `temp` (`CREATE TEMP`,
/// `INTO TEMP`, `pg_temp.`), and `U&"` (a Unicode-escaped identifier could spell a function name).
pub(crate) fn may_affect_session(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    if starts_with_command(bytes, 0) {
        return true;
    }
    for (i, &b) in bytes.iter().enumerate() {
        let hit = match b {
            b';' => starts_with_command(bytes, i + 1),
            b's' | b'S' => has_at(bytes, i, b"set_config"),
            b'a' | b'A' => has_at(bytes, i, b"advisory"),
            b't' | b'T' => has_at(bytes, i, b"temp"),
            b'&' => i > 0 && matches!(bytes[i - 1], b'u' | b'U') && bytes.get(i + 1) == Some(&b'"'),
            _ => false,
        };
        if hit {
            return true;
        }
    }
    false
}

/// Whether `word` (lower case) is at `at`, in any letter case.
fn has_at(bytes: &[u8], at: usize, word: &[u8]) -> bool {
    bytes
        .get(at..at + word.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(word))
}

/// Whether the statement starting at `pos` begins with a session-affecting command word.
fn starts_with_command(bytes: &[u8], pos: usize) -> bool {
    let start = skip_trivia(bytes, pos);
    let mut end = start;
    while bytes.get(end).is_some_and(|&b| is_ident_cont(b)) {
        end += 1;
    }
    // The longest command word is `deallocate`; anything longer is not one.
    let Some(word) = bytes.get(start..end).filter(|w| w.len() <= 10) else {
        return false;
    };
    let mut lower = [0u8; 10];
    let lower = &mut lower[..word.len()];
    lower.copy_from_slice(word);
    lower.make_ascii_lowercase();
    matches!(
        &*lower,
        b"set"
            | b"reset"
            | b"prepare"
            | b"execute"
            | b"deallocate"
            | b"discard"
            | b"listen"
            | b"unlisten"
            | b"declare"
            | b"close"
            | b"load"
            | b"begin"
            | b"start"
            | b"commit"
            | b"end"
            | b"rollback"
            | b"abort"
            | b"savepoint"
            | b"release"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_queries_take_the_fast_path() {
        for sql in [
            "SELECT * FROM pgbench_accounts WHERE aid = $1",
            "UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = 3",
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, now())",
            "SELECT abalance FROM pgbench_accounts WHERE aid = 7; SELECT 1",
            "",
            "   ",
            "SELECT 'x' ; -- trailing",
            "SELECT settings FROM t",
        ] {
            assert!(!may_affect_session(sql), "{sql}");
        }
    }

    #[test]
    fn commands_at_a_statement_start_take_the_full_path() {
        for sql in [
            "SET x = 1",
            "  set x = 1",
            "-- comment\nRESET ALL",
            "/* a /* nested */ comment */ LISTEN x",
            "SELECT 1; Begin",
            "SELECT 1;;\n\tDISCARD ALL",
            "prepare p as select 1",
            "End",
            "SAVEPOINT a",
        ] {
            assert!(may_affect_session(sql), "{sql}");
        }
    }

    #[test]
    fn commands_elsewhere_do_not() {
        for sql in [
            "SELECT 1 SET",
            "SELECT reset FROM t",
            "SELECT begin_at, end_at FROM t",
            "SELECT 1; settings",
            "SELECT 1; deallocates",
        ] {
            assert!(!may_affect_session(sql), "{sql}");
        }
    }

    #[test]
    fn function_names_anywhere_take_the_full_path() {
        for sql in [
            "SELECT SET_CONFIG('a', 'b', false)",
            "select pg_try_advisory_lock(1)",
            "CREATE TEMPORARY TABLE t (x int)",
            "SELECT 1 INTO pg_temp.t",
            r#"SELECT U&"x"()"#,
        ] {
            assert!(may_affect_session(sql), "{sql}");
        }
    }

    #[test]
    fn never_panics_at_the_edges() {
        for sql in [";", "u&", "&\"", "set_confi", "é;é", ";/*", ";--", "\u{0}"] {
            let _ = may_affect_session(sql);
        }
    }
}
