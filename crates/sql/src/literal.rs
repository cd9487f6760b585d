//! Turns identifier and string tokens into the names and values the server would see.

use crate::lexer::{skip_trivia, Token, TokenKind};

/// The server truncates identifiers to `NAMEDATALEN - 1` bytes.
const MAX_IDENT_BYTES: usize = 63;

/// The name an identifier token stands for: unquoted ones folded to lower case (ASCII only, as the
/// server does for UTF-8), quoted ones with `""` undoubled; both truncated like the server does.
/// `None` for other tokens and for `U&"..."` identifiers, whose escapes are not decoded.
pub(crate) fn ident_name(token: &Token<'_>) -> Option<String> {
    let name = match token.kind {
        TokenKind::Ident => token.text.to_ascii_lowercase(),
        TokenKind::QuotedIdent => {
            let body = token.text.strip_prefix('"')?;
            // An unterminated quoted identifier is a syntax error in the server.
            let body = body.strip_suffix('"')?;
            body.replace("\"\"", "\"")
        }
        _ => return None,
    };
    Some(truncate(name))
}

/// Whether an identifier token names exactly `name` (given in lower case), without allocating.
pub(crate) fn ident_is(token: &Token<'_>, name: &str) -> bool {
    match token.kind {
        TokenKind::Ident => token.text.eq_ignore_ascii_case(name),
        TokenKind::QuotedIdent => {
            token.text.len() == name.len() + 2
                && token.text.get(1..=name.len()) == Some(name)
                && token.text.ends_with('"')
        }
        _ => false,
    }
}

fn truncate(mut name: String) -> String {
    if name.len() > MAX_IDENT_BYTES {
        let mut cut = MAX_IDENT_BYTES;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    name
}

/// The value of a string literal token, or `None` when it is not one this crate decodes (`U&'..'`)
/// or it is malformed (unterminated, a bad escape, not valid UTF-8, a NUL byte).
pub(crate) fn string_value(token: &Token<'_>, standard_conforming_strings: bool) -> Option<String> {
    let value = match token.kind {
        TokenKind::String => quoted(token.text, !standard_conforming_strings)?,
        TokenKind::EscapeString => quoted(token.text.get(1..)?, true)?,
        TokenKind::DollarString => dollar(token.text)?,
        _ => return None,
    };
    // The server rejects NUL in text; such a literal never reaches a setting.
    (!value.contains('\0')).then_some(value)
}

/// The body of `$tag$...$tag$`.
fn dollar(text: &str) -> Option<String> {
    let tag_len = text.get(1..)?.find('$')? + 2;
    let tag = text.get(..tag_len)?;
    if text.len() < 2 * tag_len || !text.ends_with(tag) {
        return None;
    }
    text.get(tag_len..text.len() - tag_len).map(str::to_owned)
}

/// The value of `'...'` (possibly continued over newlines: `'a'` newline `'b'`), undoubling `''`
/// and, when `backslashes`, decoding backslash escapes as in `E'...'`.
fn quoted(text: &str, backslashes: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    if bytes.first() != Some(&b'\'') {
        return None;
    }
    let mut pos = 1;
    loop {
        match *bytes.get(pos)? {
            b'\'' if bytes.get(pos + 1) == Some(&b'\'') => {
                out.push(b'\'');
                pos += 2;
            }
            b'\'' => {
                // The lexer only glued segments separated by whitespace and comments.
                pos = skip_trivia(bytes, pos + 1);
                if pos >= bytes.len() {
                    break;
                }
                if bytes[pos] != b'\'' {
                    return None;
                }
                pos += 1;
            }
            b'\\' if backslashes => pos = escape(bytes, pos + 1, &mut out)?,
            b => {
                out.push(b);
                pos += 1;
            }
        }
    }
    // `\xNN` and octal escapes produce raw bytes, which may not form UTF-8.
    String::from_utf8(out).ok()
}

/// Decodes one backslash escape whose backslash is just behind `pos`; returns the position after.
fn escape(bytes: &[u8], pos: usize, out: &mut Vec<u8>) -> Option<usize> {
    let c = *bytes.get(pos)?;
    let simple = match c {
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        _ => None,
    };
    if let Some(byte) = simple {
        out.push(byte);
        return Some(pos + 1);
    }
    match c {
        b'0'..=b'7' => {
            let (value, next) = radix_digits(bytes, pos, 8, 3)?;
            out.push(u8::try_from(value & 0xff).ok()?);
            Some(next)
        }
        b'x' if bytes.get(pos + 1).is_some_and(u8::is_ascii_hexdigit) => {
            let (value, next) = radix_digits(bytes, pos + 1, 16, 2)?;
            out.push(u8::try_from(value).ok()?);
            Some(next)
        }
        b'u' | b'U' => {
            let width = if c == b'u' { 4 } else { 8 };
            let (code, mut next) = exact_hex(bytes, pos + 1, width)?;
            let code = if (0xd800..0xdc00).contains(&code) {
                // A high surrogate must be followed by `\uXXXX` holding the low one.
                if bytes.get(next) != Some(&b'\\')
                    || !matches!(bytes.get(next + 1), Some(b'u' | b'U'))
                {
                    return None;
                }
                let low_width = if bytes[next + 1] == b'u' { 4 } else { 8 };
                let (low, after) = exact_hex(bytes, next + 2, low_width)?;
                if !(0xdc00..0xe000).contains(&low) {
                    return None;
                }
                next = after;
                0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
            } else {
                code
            };
            let ch = char::from_u32(code)?;
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            Some(next)
        }
        // Any other escaped character stands for itself, whole (it may be multi-byte).
        _ => {
            let len = utf8_len(c);
            out.extend_from_slice(bytes.get(pos..pos + len)?);
            Some(pos + len)
        }
    }
}

/// Up to `max` digits in `radix` starting at `pos` (at least one).
fn radix_digits(bytes: &[u8], pos: usize, radix: u32, max: usize) -> Option<(u32, usize)> {
    let mut value = 0u32;
    let mut end = pos;
    while end < pos + max {
        let Some(d) = bytes.get(end).and_then(|&b| char::from(b).to_digit(radix)) else {
            break;
        };
        value = value * radix + d;
        end += 1;
    }
    (end > pos).then_some((value, end))
}

/// Exactly `width` hex digits starting at `pos`.
fn exact_hex(bytes: &[u8], pos: usize, width: usize) -> Option<(u32, usize)> {
    let (value, end) = radix_digits(bytes, pos, 16, width)?;
    (end == pos + width).then_some((value, end))
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// The value of a literal boolean token as the server's `boolin` reads it (`true`, `'t'`, `'on'`,
/// ...), or `None` if the token is not one. Unique prefixes like `'tr'` are not accepted.
pub(crate) fn bool_value(token: &Token<'_>, standard_conforming_strings: bool) -> Option<bool> {
    if token.kind == TokenKind::Ident {
        return match token.text.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
    }
    let text = string_value(token, standard_conforming_strings)?;
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::Lexer;

    fn token(sql: &str) -> Token<'_> {
        Lexer::new(sql).next().unwrap()
    }

    fn string(sql: &str) -> Option<String> {
        string_value(&token(sql), true)
    }

    #[test]
    fn identifiers() {
        assert_eq!(ident_name(&token("Search_Path")).unwrap(), "search_path");
        assert_eq!(ident_name(&token("\"My\"\"Name\"")).unwrap(), "My\"Name");
        assert_eq!(ident_name(&token("\"unterminated")), None);
        assert_eq!(ident_name(&token("U&\"x\"")), None);
        assert_eq!(ident_name(&token("'str'")), None);
        assert_eq!(ident_name(&token("ÄB")).unwrap(), "Äb");
    }

    #[test]
    fn long_identifiers_are_truncated_on_a_char_boundary() {
        let long = "a".repeat(70);
        assert_eq!(ident_name(&token(&long)).unwrap(), "a".repeat(63));
        let accented = format!("{}é", "a".repeat(62));
        assert_eq!(ident_name(&token(&accented)).unwrap(), "a".repeat(62));
    }

    #[test]
    fn ident_is_matches_without_allocating() {
        assert!(ident_is(&token("SET_CONFIG"), "set_config"));
        assert!(ident_is(&token("\"set_config\""), "set_config"));
        assert!(!ident_is(&token("\"SET_CONFIG\""), "set_config"));
        assert!(!ident_is(&token("'set_config'"), "set_config"));
    }

    #[test]
    fn plain_strings() {
        assert_eq!(string("'it''s'").unwrap(), "it's");
        assert_eq!(string(r"'a\nb'").unwrap(), r"a\nb");
        assert_eq!(string("'a'\n 'b'").unwrap(), "ab");
        assert_eq!(string("'a'\n-- c\n'b'").unwrap(), "ab");
        assert_eq!(string("'open"), None);
        assert_eq!(
            string_value(
                &Lexer::with_standard_conforming_strings(r"'a\'b'", false)
                    .next()
                    .unwrap(),
                false
            )
            .unwrap(),
            "a'b"
        );
    }

    #[test]
    fn escape_strings() {
        assert_eq!(string(r"E'a\nb\tc\\d\'e'").unwrap(), "a\nb\tc\\d'e");
        assert_eq!(string(r"E'\101\x41\u0041\U00000041'").unwrap(), "AAAA");
        assert_eq!(string(r"E'\uD83D\uDE00'").unwrap(), "😀");
        assert_eq!(string(r"E'\é'").unwrap(), "é");
        assert_eq!(string(r"E'\q'").unwrap(), "q");
        assert_eq!(string(r"E'\uD83D'"), None);
        assert_eq!(string(r"E'\u12'"), None);
        assert_eq!(string(r"E'\xff'"), None);
        assert_eq!(string(r"E'\0'"), None);
        assert_eq!(string(r"E'\"), None);
    }

    #[test]
    fn dollar_strings() {
        assert_eq!(string("$$a'b$$").unwrap(), "a'b");
        assert_eq!(string("$t$a$$b$t$").unwrap(), "a$$b");
        assert_eq!(string("$t$open"), None);
        assert!(string("$$").is_none());
    }

    #[test]
    fn unicode_strings_are_not_decoded() {
        assert_eq!(string(r"U&'\0041'"), None);
    }

    #[test]
    fn booleans() {
        for t in [
            "true", "TRUE", "'t'", "'true'", "'on'", "'yes'", "'1'", "' T '",
        ] {
            assert_eq!(bool_value(&token(t), true), Some(true), "{t}");
        }
        for f in ["false", "False", "'f'", "'false'", "'off'", "'no'", "'0'"] {
            assert_eq!(bool_value(&token(f), true), Some(false), "{f}");
        }
        for x in ["1", "'maybe'", "null", "x"] {
            assert_eq!(bool_value(&token(x), true), None, "{x}");
        }
    }
}
