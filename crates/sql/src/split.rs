//! Splits a token stream into statements at top-level `;`, as the server's grammar does.
//!
//! A `;` inside parentheses does not end a statement, nor does one inside the `BEGIN ATOMIC ...
//! END` body of `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (SQL-standard function bodies): there
//! the `END` of the body must not read as a `COMMIT`, and the statements after the body must not
//! be swallowed by it. This follows psql's heuristic (`psqlscan.l`), tightened: outside
//! parentheses, `BEGIN ATOMIC` opens a block (a function named `begin` does not), `CASE` inside a
//! block opens one more, and `END` closes one; `case` and `end` after `.` or `AS` are column
//! labels (`t.end`, `x AS case`), not keywords.

use crate::lexer::{Lexer, Token, TokenKind};

/// Yields the statements of one SQL text, each as its tokens without the closing `;`.
#[derive(Debug)]
pub(crate) struct Statements<'a> {
    lexer: Lexer<'a>,
    finished: bool,
}

impl<'a> Statements<'a> {
    pub(crate) fn new(lexer: Lexer<'a>) -> Self {
        Statements {
            lexer,
            finished: false,
        }
    }

    /// Fills `tokens` with the next statement (possibly empty, for `;;`). Returns `false`, leaving
    /// `tokens` empty, when the text is used up.
    pub(crate) fn next_into(&mut self, tokens: &mut Vec<Token<'a>>) -> bool {
        tokens.clear();
        if self.finished {
            return false;
        }
        let mut shape = RoutineShape::default();
        let mut paren_depth = 0usize;
        let mut begin_depth = 0usize;
        for token in self.lexer.by_ref() {
            match token.kind {
                TokenKind::Punct if token.text == ";" && paren_depth == 0 && begin_depth == 0 => {
                    return true;
                }
                TokenKind::Punct if token.text == "(" => paren_depth += 1,
                TokenKind::Punct if token.text == ")" => {
                    paren_depth = paren_depth.saturating_sub(1)
                }
                TokenKind::Ident => {
                    shape.push(&token);
                    let label = tokens
                        .last()
                        .is_some_and(|t| t.is_punct(b'.') || t.is_keyword("as"));
                    if shape.is_routine() && paren_depth == 0 && !label {
                        let after_begin = tokens.last().is_some_and(|t| t.is_keyword("begin"));
                        if token.is_keyword("atomic") && after_begin {
                            begin_depth += 1;
                        } else if token.is_keyword("case") && begin_depth > 0 {
                            // CASE also ends with END; it only matters inside a block.
                            begin_depth += 1;
                        } else if token.is_keyword("end") {
                            begin_depth = begin_depth.saturating_sub(1);
                        }
                    }
                }
                _ => {}
            }
            tokens.push(token);
        }
        self.finished = true;
        !tokens.is_empty()
    }
}

/// The first letters of the first four identifiers of a statement, when they are among `create`,
/// `or`, `replace`, `function`, `procedure`: enough to recognise `CREATE [OR REPLACE]
/// FUNCTION|PROCEDURE`, as psql does.
#[derive(Debug, Default)]
struct RoutineShape {
    letters: [u8; 4],
    count: usize,
}

impl RoutineShape {
    fn push(&mut self, token: &Token<'_>) {
        if self.count < self.letters.len()
            && ["create", "function", "procedure", "or", "replace"]
                .iter()
                .any(|w| token.is_keyword(w))
        {
            self.letters[self.count] = token.text.as_bytes()[0].to_ascii_lowercase();
        }
        self.count += 1;
    }

    fn is_routine(&self) -> bool {
        matches!(
            self.letters,
            [b'c', b'f' | b'p', ..] | [b'c', b'o', b'r', b'f' | b'p']
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(sql: &str) -> Vec<String> {
        let mut statements = Statements::new(Lexer::new(sql));
        let mut tokens = Vec::new();
        let mut out = Vec::new();
        while statements.next_into(&mut tokens) {
            out.push(tokens.iter().map(|t| t.text).collect::<Vec<_>>().join(" "));
        }
        out
    }

    #[test]
    fn splits_at_semicolons() {
        assert_eq!(split("SELECT 1; SELECT 2"), ["SELECT 1", "SELECT 2"]);
        assert_eq!(split("SELECT 1;"), ["SELECT 1"]);
        assert_eq!(split("a;;b"), ["a", "", "b"]);
        assert_eq!(split(""), Vec::<String>::new());
        assert_eq!(split("  -- only a comment"), Vec::<String>::new());
    }

    #[test]
    fn semicolons_in_literals_and_parentheses_do_not_split() {
        assert_eq!(
            split("SELECT ';', $$;$$, \";\" /* ; */"),
            ["SELECT ';' , $$;$$ , \";\""]
        );
        assert_eq!(split("SELECT (1; 2); END"), ["SELECT ( 1 ; 2 )", "END"]);
    }

    #[test]
    fn sql_standard_function_bodies_stay_whole() {
        let sql = "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql \
                   BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END; COMMIT";
        let parts = split(sql);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(parts[1], "COMMIT");
        let sql = "CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO t VALUES (1); END; END";
        assert_eq!(split(sql).len(), 2);
    }

    #[test]
    fn only_begin_atomic_opens_a_body() {
        // A function named `begin`, or `begin` as a value, opens nothing.
        let sql = "CREATE FUNCTION begin() RETURNS int AS 'SELECT 1' LANGUAGE sql; SET ROLE x";
        assert_eq!(split(sql).len(), 2);
        let sql = "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql \
                   SET search_path = begin; SET ROLE x";
        assert_eq!(split(sql).len(), 2);
    }

    #[test]
    fn column_labels_named_like_keywords_do_not_nest() {
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC \
                   SELECT t.case, 1 AS case, t.end FROM t; END; SET ROLE x";
        assert_eq!(split(sql).last().map(String::as_str), Some("SET ROLE x"));
    }

    #[test]
    fn begin_outside_routines_is_a_statement() {
        assert_eq!(split("BEGIN; SELECT 1; END"), ["BEGIN", "SELECT 1", "END"]);
        assert_eq!(
            split("CREATE TABLE t (x int); BEGIN; END"),
            ["CREATE TABLE t ( x int )", "BEGIN", "END"]
        );
    }
}
