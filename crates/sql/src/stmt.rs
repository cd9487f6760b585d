//! A view of one statement's tokens with the small lookups every classifier needs.

use crate::effect::Effect;
use crate::lexer::{Token, TokenKind};
use crate::literal;

/// One statement: its tokens (never empty) and the SQL text they point into.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stmt<'s, 'a> {
    pub(crate) sql: &'a str,
    pub(crate) tokens: &'s [Token<'a>],
    pub(crate) standard_conforming_strings: bool,
}

impl<'a> Stmt<'_, 'a> {
    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Token<'a>> {
        self.tokens.get(i)
    }

    /// Whether token `i` is the unquoted keyword `word`.
    pub(crate) fn kw(&self, i: usize, word: &str) -> bool {
        self.get(i).is_some_and(|t| t.is_keyword(word))
    }

    /// Whether token `i` is the punctuation `c`.
    pub(crate) fn punct(&self, i: usize, c: u8) -> bool {
        self.get(i).is_some_and(|t| t.is_punct(c))
    }

    /// Whether token `i` is `TO` or `=`, as between a setting's name and its value.
    pub(crate) fn is_assign(&self, i: usize) -> bool {
        self.kw(i, "to") || self.get(i).is_some_and(|t| t.is_operator("="))
    }

    /// Whether token `i` is the only token left and is the keyword `word`.
    pub(crate) fn only_kw(&self, i: usize, word: &str) -> bool {
        i + 1 == self.len() && self.kw(i, word)
    }

    /// The name token `i` stands for (see [`literal::ident_name`]).
    pub(crate) fn name(&self, i: usize) -> Option<String> {
        self.get(i).and_then(literal::ident_name)
    }

    /// A possibly dotted name (`a.b.c`, as setting names may be) starting at token `i`: the name,
    /// parts joined by `.` as the server joins them, and the index of the token after it.
    pub(crate) fn dotted_name(&self, i: usize) -> Option<(String, usize)> {
        let mut name = self.name(i)?;
        let mut next = i + 1;
        while self.punct(next, b'.') {
            name.push('.');
            name.push_str(&self.name(next + 1)?);
            next += 2;
        }
        Some((name, next))
    }

    /// The statement text from token `i` to the end, as written, trimmed (comments between
    /// tokens kept, trailing ones dropped). Empty if there is no token `i`.
    pub(crate) fn text_from(&self, i: usize) -> &'a str {
        match (self.tokens.get(i), self.tokens.last()) {
            (Some(first), Some(last)) => self.sql.get(first.offset..last.end()).unwrap_or(""),
            _ => "",
        }
    }

    /// The effect for a statement that needs a name at token `i` and has none there: a
    /// `U&"..."` name cannot be decoded so it is [`Effect::Unknown`]; anything else is a syntax
    /// error the server will reject, so nothing happens.
    pub(crate) fn undecodable_name(&self, i: usize) -> Option<Effect> {
        self.get(i)
            .filter(|t| t.kind == TokenKind::UnicodeIdent)
            .map(|_| Effect::Unknown {
                reason: "Unicode-escaped identifier",
            })
    }
}
