//! Deterministic random inputs: nothing panics, the lexer covers the text exactly, and the fast
//! path never hides an effect the full path would report.

use crate::classify::classify_all;
use crate::lexer::{skip_trivia, Lexer};
use crate::precheck::may_affect_session;
use crate::{classify, classify_with, Options};

/// xorshift64: tiny, deterministic, good enough to shuffle fragments.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const FRAGMENTS: &[&str] = &[
    "'",
    "''",
    "\"",
    "\"\"",
    "$$",
    "$a$",
    "$1",
    "$",
    "/*",
    "*/",
    "--",
    "\n",
    "\r",
    " ",
    "\t",
    ";",
    "(",
    ")",
    ",",
    ".",
    "=",
    "-",
    "+",
    "*",
    "/",
    "\\",
    "E'",
    "e'",
    "U&'",
    "U&\"",
    "u&",
    "B'",
    "0x",
    "1",
    "1.5e",
    ".",
    "é",
    "日本",
    "😀",
    "SET",
    "set",
    "LOCAL",
    "SESSION",
    "ROLE",
    "TIME",
    "ZONE",
    "RESET",
    "ALL",
    "TO",
    "DEFAULT",
    "PREPARE",
    "TRANSACTION",
    "AS",
    "EXECUTE",
    "DEALLOCATE",
    "DISCARD",
    "TEMP",
    "LISTEN",
    "UNLISTEN",
    "CREATE",
    "TABLE",
    "SELECT",
    "INTO",
    "DECLARE",
    "CURSOR",
    "WITH",
    "HOLD",
    "FOR",
    "CLOSE",
    "LOAD",
    "BEGIN",
    "ATOMIC",
    "CASE",
    "END",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "FUNCTION",
    "set_config(",
    "pg_catalog.",
    "pg_advisory_lock(",
    "pg_advisory_unlock_all()",
    "pg_temp.",
    "'x'",
    "'t'",
    "true",
    "false",
    "search_path",
    "x",
    "UESCAPE",
    "AUTHORIZATION",
];

fn random_sql(rng: &mut XorShift) -> String {
    let mut sql = String::new();
    for _ in 0..1 + rng.below(24) {
        sql.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
        if rng.below(3) == 0 {
            sql.push(' ');
        }
    }
    sql
}

/// Tokens are in order, non-empty, inside the text, and what lies between them is only
/// whitespace and comments.
fn check_lexer_covers(sql: &str, standard_conforming_strings: bool) {
    let bytes = sql.as_bytes();
    let mut pos = 0;
    for token in Lexer::with_standard_conforming_strings(sql, standard_conforming_strings) {
        assert!(token.offset >= pos, "{sql:?}");
        assert!(!token.text.is_empty(), "{sql:?}");
        assert_eq!(
            sql.get(token.offset..token.end()),
            Some(token.text),
            "{sql:?}"
        );
        assert_eq!(
            skip_trivia(&bytes[..token.offset], pos),
            token.offset,
            "{sql:?}"
        );
        pos = token.end();
    }
    assert_eq!(skip_trivia(bytes, pos), bytes.len(), "{sql:?}");
}

#[test]
fn random_inputs_never_panic_and_the_fast_path_is_sound() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let off = Options {
        standard_conforming_strings: false,
    };
    let (mut fast, mut with_effects) = (0, 0);
    for _ in 0..50_000 {
        let sql = random_sql(&mut rng);
        let on = classify(&sql);
        let _ = classify_with(&sql, off);
        check_lexer_covers(&sql, true);
        check_lexer_covers(&sql, false);
        if !may_affect_session(&sql) {
            fast += 1;
            assert!(on.is_empty(), "{sql:?}");
            assert!(classify_all(&sql, true).is_empty(), "{sql:?}: {on:?}");
            assert!(classify_all(&sql, false).is_empty(), "{sql:?}");
        }
        with_effects += usize::from(!on.is_empty());
    }
    // Both paths were exercised, so the soundness check above means something.
    assert!(
        fast > 1_000 && with_effects > 1_000,
        "{fast} {with_effects}"
    );
}

#[test]
fn random_bytes_as_text_never_panic() {
    let mut rng = XorShift(42);
    for _ in 0..5_000 {
        let bytes: Vec<u8> = (0..rng.below(64))
            .map(|_| (rng.next() & 0xff) as u8)
            .collect();
        let sql = String::from_utf8_lossy(&bytes);
        let _ = classify_all(&sql, true);
        let _ = classify_all(&sql, false);
        check_lexer_covers(&sql, true);
    }
}
