//! A PostgreSQL lexer: enough of the server's `scan.l` to tell code from literals, comments and
//! quoted identifiers, which is all the classifier needs.
//!
//! It works on bytes but every token starts and ends on an ASCII byte (or the end of the text), so
//! token text is always a valid `&str` slice. Bytes >= 0x80 are identifier characters, as in the
//! server. It never fails: unterminated strings, quoted identifiers and comments run to the end of
//! the text, and bytes that start no token become [`TokenKind::Other`].

/// What kind of token a [`Token`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An unquoted identifier or keyword: `SELECT`, `search_path`. Compare case-insensitively.
    Ident,
    /// A double-quoted identifier, quotes included: `"Foo ""bar"""`.
    QuotedIdent,
    /// A Unicode-escaped identifier, `U&"..."`. Its name is not decoded.
    UnicodeIdent,
    /// A standard string `'...'`. `B'..'`, `X'..'` and `N'..'` lex as an identifier then this; the
    /// span is the same as the server's. Includes continuation segments (`'a'` newline `'b'`).
    String,
    /// An escape string `E'...'` with backslash escapes.
    EscapeString,
    /// A Unicode-escaped string `U&'...'`. Its value is not decoded.
    UnicodeString,
    /// A dollar-quoted string: `$$...$$` or `$tag$...$tag$`.
    DollarString,
    /// A numeric literal.
    Number,
    /// A parameter placeholder: `$1`.
    Param,
    /// An operator: `=`, `<>`, `||`, `*`.
    Operator,
    /// One of `( ) [ ] , ; : .`.
    Punct,
    /// Any other single byte, e.g. a backslash or a control character.
    Other,
}

/// One token: its kind, its text exactly as written, and where it starts in the SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// What kind of token this is.
    pub kind: TokenKind,
    /// The token's text as written, quotes and prefixes included.
    pub text: &'a str,
    /// Byte offset of the token in the SQL text.
    pub offset: usize,
}

impl Token<'_> {
    /// Byte offset just past the token.
    pub fn end(&self) -> usize {
        self.offset + self.text.len()
    }

    /// Whether this is the unquoted keyword `word` (given in lower case), in any letter case.
    pub fn is_keyword(&self, word: &str) -> bool {
        self.kind == TokenKind::Ident && self.text.eq_ignore_ascii_case(word)
    }

    /// Whether this is the punctuation character `c`.
    pub fn is_punct(&self, c: u8) -> bool {
        self.kind == TokenKind::Punct && self.text.as_bytes() == [c]
    }

    /// Whether this is exactly the operator `op`.
    pub fn is_operator(&self, op: &str) -> bool {
        self.kind == TokenKind::Operator && self.text == op
    }

    /// Whether this is a string literal of any form.
    pub fn is_string(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::String
                | TokenKind::EscapeString
                | TokenKind::UnicodeString
                | TokenKind::DollarString
        )
    }
}

/// Iterator over the tokens of one SQL text, skipping whitespace and comments.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    pos: usize,
    standard_conforming_strings: bool,
}

impl<'a> Lexer<'a> {
    /// A lexer for a server with `standard_conforming_strings = on` (the default since 9.1).
    pub fn new(sql: &'a str) -> Self {
        Self::with_standard_conforming_strings(sql, true)
    }

    /// A lexer for a server with the given `standard_conforming_strings`. When it is off, a
    /// backslash escapes the next character in plain `'...'` strings too, which moves where the
    /// string ends: getting this wrong would let SQL hide inside what looks like a literal.
    pub fn with_standard_conforming_strings(sql: &'a str, on: bool) -> Self {
        Lexer {
            sql,
            bytes: sql.as_bytes(),
            pos: 0,
            standard_conforming_strings: on,
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    /// Skips whitespace, `--` comments and nested `/* */` comments.
    fn skip_trivia(&mut self) {
        self.pos = skip_trivia(self.bytes, self.pos);
    }

    /// Scans the body of a `'`-quoted string whose opening quote is just behind `pos`.
    fn quoted_string(&mut self, backslash_escapes: bool) {
        loop {
            match self.bytes.get(self.pos) {
                None => return,
                // A trailing backslash steps one past the end; `next` clamps it.
                Some(b'\\') if backslash_escapes => self.pos += 2,
                Some(b'\'') => {
                    if self.peek(1) == Some(b'\'') {
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        // The server glues `'a'` newline `'b'` into one string, and the glued part
                        // keeps the first part's escaping rules; lexing it afresh could end it in
                        // a different place.
                        match continuation(self.bytes, self.pos) {
                            Some(next) => self.pos = next + 1,
                            None => return,
                        }
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Scans the body of a `"`-quoted identifier whose opening quote is just behind `pos`.
    fn quoted_ident(&mut self) {
        loop {
            match self.bytes.get(self.pos) {
                None => return,
                Some(b'"') if self.peek(1) == Some(b'"') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    return;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// At a `$`: a parameter, a dollar-quoted string, or a lone `$`.
    fn dollar(&mut self) -> TokenKind {
        let start = self.pos;
        if self.peek(1).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
            while self.peek(0).is_some_and(is_ident_cont_no_dollar) {
                self.pos += 1;
            }
            return TokenKind::Param;
        }
        let mut tag_end = start + 1;
        if self.bytes.get(tag_end).is_some_and(|&b| is_ident_start(b)) {
            tag_end += 1;
            while self
                .bytes
                .get(tag_end)
                .is_some_and(|&b| is_ident_cont_no_dollar(b))
            {
                tag_end += 1;
            }
        }
        if self.bytes.get(tag_end) != Some(&b'$') {
            // Like the server: `$foo` without a closing `$` is just a `$`.
            self.pos += 1;
            return TokenKind::Other;
        }
        let delimiter = &self.bytes[start..=tag_end];
        let body = tag_end + 1;
        // Tags cannot contain `$`, so the first occurrence of the delimiter is where the server's
        // scanner also stops.
        self.pos =
            find(self.bytes, body, delimiter).map_or(self.bytes.len(), |at| at + delimiter.len());
        TokenKind::DollarString
    }

    /// At a digit, or a `.` followed by a digit.
    fn number(&mut self) {
        let b = self.bytes;
        if b.get(self.pos) == Some(&b'0')
            && matches!(
                b.get(self.pos + 1),
                Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
            )
            && b.get(self.pos + 2)
                .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            self.pos += 2;
            while b
                .get(self.pos)
                .is_some_and(|c| c.is_ascii_hexdigit() || *c == b'_')
            {
                self.pos += 1;
            }
            return;
        }
        self.digits();
        // `1..10` is an integer then `..` in the server (for PL/pgSQL ranges).
        if b.get(self.pos) == Some(&b'.') && b.get(self.pos + 1) != Some(&b'.') {
            self.pos += 1;
            self.digits();
        }
        if matches!(b.get(self.pos), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(b.get(self.pos + 1), Some(b'+' | b'-')));
            if b.get(self.pos + 1 + sign).is_some_and(u8::is_ascii_digit) {
                self.pos += 1 + sign;
                self.digits();
            }
        }
    }

    fn digits(&mut self) {
        while self
            .peek(0)
            .is_some_and(|c| c.is_ascii_digit() || c == b'_')
        {
            self.pos += 1;
        }
    }

    /// At an operator character: the longest operator, cut as the server cuts it.
    fn operator(&mut self) {
        let start = self.pos;
        let mut end = start;
        while self.bytes.get(end).is_some_and(|&b| is_op_char(b)) {
            // A comment start ends the operator: `=--x` is `=` then a comment.
            let pair = (self.bytes.get(end), self.bytes.get(end + 1));
            if matches!(pair, (Some(b'-'), Some(b'-')) | (Some(b'/'), Some(b'*'))) {
                break;
            }
            end += 1;
        }
        let op = &self.bytes[start..end];
        let mut len = op.len();
        // The server does not let a multi-character operator end in `+` or `-` unless it contains
        // one of `~!@#^&|`?%`, so that `x=-1` is `x`, `=`, `-`, `1`.
        if len > 1
            && matches!(op[len - 1], b'+' | b'-')
            && !op[..len - 1].iter().any(|c| b"~!@#^&|`?%".contains(c))
        {
            while len > 1 && matches!(op[len - 1], b'+' | b'-') {
                len -= 1;
            }
        }
        // A lone `-` or `/` starting a comment never gets here: trivia was skipped first.
        self.pos = start + len.max(1);
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        self.skip_trivia();
        let start = self.pos;
        let first = *self.bytes.get(start)?;
        let kind = match first {
            b'\'' => {
                self.pos += 1;
                self.quoted_string(!self.standard_conforming_strings);
                TokenKind::String
            }
            b'"' => {
                self.pos += 1;
                self.quoted_ident();
                TokenKind::QuotedIdent
            }
            b'e' | b'E' if self.peek(1) == Some(b'\'') => {
                self.pos += 2;
                self.quoted_string(true);
                TokenKind::EscapeString
            }
            b'u' | b'U' if self.peek(1) == Some(b'&') && self.peek(2) == Some(b'\'') => {
                self.pos += 3;
                self.quoted_string(false);
                TokenKind::UnicodeString
            }
            b'u' | b'U' if self.peek(1) == Some(b'&') && self.peek(2) == Some(b'"') => {
                self.pos += 3;
                self.quoted_ident();
                TokenKind::UnicodeIdent
            }
            b'$' => self.dollar(),
            b'0'..=b'9' => {
                self.number();
                TokenKind::Number
            }
            b'.' if self.peek(1).is_some_and(|b| b.is_ascii_digit()) => {
                self.number();
                TokenKind::Number
            }
            b if is_ident_start(b) => {
                self.pos += 1;
                while self.peek(0).is_some_and(is_ident_cont) {
                    self.pos += 1;
                }
                TokenKind::Ident
            }
            b'(' | b')' | b'[' | b']' | b',' | b';' | b':' | b'.' => {
                self.pos += 1;
                TokenKind::Punct
            }
            b if is_op_char(b) => {
                self.operator();
                TokenKind::Operator
            }
            _ => {
                self.pos += 1;
                TokenKind::Other
            }
        };
        // A trailing backslash in an escape string can step one past the end.
        self.pos = self.pos.min(self.bytes.len());
        Some(Token {
            kind,
            // Never fails: token boundaries are ASCII bytes or the end of the text.
            text: self.sql.get(start..self.pos).unwrap_or(""),
            offset: start,
        })
    }
}

/// Returns the offset of the first byte at or after `pos` that is not whitespace or a comment.
/// Shared with the pre-check so both agree on where a statement starts.
pub(crate) fn skip_trivia(bytes: &[u8], mut pos: usize) -> usize {
    loop {
        match (bytes.get(pos), bytes.get(pos + 1)) {
            (Some(b), _) if is_space(*b) => pos += 1,
            (Some(b'-'), Some(b'-')) => {
                pos += 2;
                while bytes.get(pos).is_some_and(|b| !matches!(b, b'\n' | b'\r')) {
                    pos += 1;
                }
            }
            (Some(b'/'), Some(b'*')) => pos = skip_block_comment(bytes, pos + 2),
            _ => return pos,
        }
    }
}

/// Skips a block comment whose `/*` is just behind `pos`; block comments nest.
fn skip_block_comment(bytes: &[u8], mut pos: usize) -> usize {
    let mut depth = 1usize;
    while pos < bytes.len() {
        match (bytes[pos], bytes.get(pos + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                pos += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                pos += 2;
                if depth == 0 {
                    return pos;
                }
            }
            _ => pos += 1,
        }
    }
    bytes.len()
}

/// If a string that just ended before `pos` continues (whitespace with a newline, optionally
/// `--` comments, then `'`), returns the offset of that `'`.
fn continuation(bytes: &[u8], mut pos: usize) -> Option<usize> {
    while bytes
        .get(pos)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | 0x0c))
    {
        pos += 1;
    }
    if !bytes.get(pos).is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        return None;
    }
    loop {
        match (bytes.get(pos), bytes.get(pos + 1)) {
            (Some(b), _) if is_space(*b) => pos += 1,
            (Some(b'-'), Some(b'-')) => {
                while bytes.get(pos).is_some_and(|b| !matches!(b, b'\n' | b'\r')) {
                    pos += 1;
                }
                // The server wants a newline after such a comment; at the end of the text there
                // is nothing to continue with anyway.
            }
            (Some(b'\''), _) => return Some(pos),
            _ => return None,
        }
    }
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}

/// The server's whitespace: space, tab, newline, carriage return, form feed, vertical tab.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// First character of an unquoted identifier; bytes >= 0x80 count, as in the server.
pub(crate) fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// Later characters of an unquoted identifier.
pub(crate) fn is_ident_cont(b: u8) -> bool {
    is_ident_cont_no_dollar(b) || b == b'$'
}

fn is_ident_cont_no_dollar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn is_op_char(b: u8) -> bool {
    b"~!@#^&|`?+-*/%<>=".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenKind::*;

    fn lex(sql: &str) -> Vec<(TokenKind, &str)> {
        Lexer::new(sql).map(|t| (t.kind, t.text)).collect()
    }

    fn lex_off(sql: &str) -> Vec<(TokenKind, &str)> {
        Lexer::with_standard_conforming_strings(sql, false)
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn identifiers_keywords_and_punctuation() {
        assert_eq!(
            lex("SELECT a.b, \"C\"\"d\" FROM t;"),
            vec![
                (Ident, "SELECT"),
                (Ident, "a"),
                (Punct, "."),
                (Ident, "b"),
                (Punct, ","),
                (QuotedIdent, "\"C\"\"d\""),
                (Ident, "FROM"),
                (Ident, "t"),
                (Punct, ";"),
            ]
        );
    }

    #[test]
    fn identifiers_take_dollars_and_non_ascii() {
        assert_eq!(lex("a$b$$c"), vec![(Ident, "a$b$$c")]);
        assert_eq!(lex("café_1 ü"), vec![(Ident, "café_1"), (Ident, "ü")]);
    }

    #[test]
    fn comments_are_skipped_and_nest() {
        assert_eq!(
            lex("-- SET x\nSELECT /* a /* b */ SET */ 1 -- tail"),
            vec![(Ident, "SELECT"), (Number, "1")]
        );
        assert_eq!(lex("/* unterminated /* nested */ SET x"), vec![]);
        assert_eq!(lex("SELECT 1 --"), vec![(Ident, "SELECT"), (Number, "1")]);
    }

    #[test]
    fn standard_strings_double_quotes_and_ignore_backslashes() {
        assert_eq!(lex("'it''s' x"), vec![(String, "'it''s'"), (Ident, "x")]);
        assert_eq!(lex(r"'a\' x"), vec![(String, r"'a\'"), (Ident, "x")]);
        assert_eq!(
            lex("'unterminated; SET x"),
            vec![(String, "'unterminated; SET x")]
        );
    }

    #[test]
    fn escape_strings_honour_backslashes() {
        assert_eq!(
            lex(r"E'a\'b' x"),
            vec![(EscapeString, r"E'a\'b'"), (Ident, "x")]
        );
        assert_eq!(
            lex(r"e'a''b\\' x"),
            vec![(EscapeString, r"e'a''b\\'"), (Ident, "x")]
        );
        assert_eq!(lex(r"E'\"), vec![(EscapeString, r"E'\")]);
        // `xe'` is an identifier followed by a plain string.
        assert_eq!(
            lex(r"xe'a\' b"),
            vec![(Ident, "xe"), (String, r"'a\'"), (Ident, "b")]
        );
    }

    #[test]
    fn backslashes_escape_plain_strings_when_not_standard_conforming() {
        assert_eq!(
            lex_off(r"'a\'b' x"),
            vec![(String, r"'a\'b'"), (Ident, "x")]
        );
    }

    #[test]
    fn string_continuation_keeps_the_escape_rules() {
        // The server reads this as one escape string: the `\'` in the second part is escaped.
        let sql = "E'a'\n'\\'' ; SET ROLE x; --'";
        assert_eq!(
            lex(sql),
            vec![
                (EscapeString, "E'a'\n'\\''"),
                (Punct, ";"),
                (Ident, "SET"),
                (Ident, "ROLE"),
                (Ident, "x"),
                (Punct, ";"),
            ]
        );
        assert_eq!(
            lex("'a' \n-- c\n  'b' x"),
            vec![(String, "'a' \n-- c\n  'b'"), (Ident, "x")]
        );
        // Without a newline before any comment, the strings are separate (and a syntax error).
        assert_eq!(lex("'a' 'b'"), vec![(String, "'a'"), (String, "'b'")]);
        assert_eq!(lex("'a' -- c\n'b'"), vec![(String, "'a'"), (String, "'b'")]);
    }

    #[test]
    fn dollar_quotes() {
        assert_eq!(
            lex("$$LISTEN x$$ y"),
            vec![(DollarString, "$$LISTEN x$$"), (Ident, "y")]
        );
        assert_eq!(
            lex("$fn$ a $$ b $fn$;"),
            vec![(DollarString, "$fn$ a $$ b $fn$"), (Punct, ";")]
        );
        assert_eq!(lex("$a$ $ab$ $a$"), vec![(DollarString, "$a$ $ab$ $a$")]);
        assert_eq!(
            lex("$q$ unterminated"),
            vec![(DollarString, "$q$ unterminated")]
        );
        assert_eq!(lex("$1 $23"), vec![(Param, "$1"), (Param, "$23")]);
        assert_eq!(lex("$x y"), vec![(Other, "$"), (Ident, "x"), (Ident, "y")]);
    }

    #[test]
    fn unicode_escapes() {
        assert_eq!(
            lex(r#"U&"d\0061t" u&'x\0041' U&x"#),
            vec![
                (UnicodeIdent, r#"U&"d\0061t""#),
                (UnicodeString, r"u&'x\0041'"),
                (Ident, "U"),
                (Operator, "&"),
                (Ident, "x"),
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            lex("1 1.5 .5 1e10 1.5E-3 0x1F 1_000 1..2"),
            vec![
                (Number, "1"),
                (Number, "1.5"),
                (Number, ".5"),
                (Number, "1e10"),
                (Number, "1.5E-3"),
                (Number, "0x1F"),
                (Number, "1_000"),
                (Number, "1"),
                (Punct, "."),
                (Number, ".2"),
            ]
        );
    }

    #[test]
    fn operators_are_cut_like_the_server() {
        assert_eq!(
            lex("x=-1"),
            vec![
                (Ident, "x"),
                (Operator, "="),
                (Operator, "-"),
                (Number, "1")
            ]
        );
        assert_eq!(
            lex("a<>b"),
            vec![(Ident, "a"), (Operator, "<>"), (Ident, "b")]
        );
        assert_eq!(
            lex("a @- b"),
            vec![(Ident, "a"), (Operator, "@-"), (Ident, "b")]
        );
        assert_eq!(
            lex("a=--c\n1"),
            vec![(Ident, "a"), (Operator, "="), (Number, "1")]
        );
        assert_eq!(
            lex("a*/*c*/b"),
            vec![(Ident, "a"), (Operator, "*"), (Ident, "b")]
        );
        assert_eq!(
            lex("x::int"),
            vec![(Ident, "x"), (Punct, ":"), (Punct, ":"), (Ident, "int")]
        );
    }

    #[test]
    fn other_bytes() {
        assert_eq!(
            lex("\\x {"),
            vec![(Other, "\\"), (Ident, "x"), (Other, "{")]
        );
    }

    #[test]
    fn offsets_and_ends() {
        let tokens: Vec<Token> = Lexer::new("  SET x").collect();
        assert_eq!(tokens[0].offset, 2);
        assert_eq!(tokens[0].end(), 5);
        assert_eq!(tokens[1].offset, 6);
    }
}
