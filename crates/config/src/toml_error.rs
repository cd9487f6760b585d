//! Turns a toml crate error into a [`Problem`] with a key path.
//!
//! The toml crate knows the key path of a type error but does not expose it;
//! it does expose the byte span. We recover the path from the source text
//! around the span: the nearest table header above it plus the key on its
//! line. That covers the file shapes this config uses (plain tables, arrays
//! of tables, multi-line arrays); anything odder falls back to the line
//! number, which is always exact.

use crate::error::Problem;

/// Converts a syntax error (the document is not valid TOML).
pub(crate) fn syntax(err: &toml::de::Error, src: &str) -> Problem {
    let path = match err.span() {
        Some(span) => {
            let (line, col) = line_col(src, span.start);
            format!("line {line}, column {col}")
        }
        None => "toml".to_string(),
    };
    Problem::new(path, one_line(err.message()))
}

/// Converts a deserialization error (valid TOML, wrong shape for Sluice).
pub(crate) fn shape(err: &toml::de::Error, src: &str) -> Problem {
    // Raw integers are `i64`; say so in words.
    let mut message = one_line(err.message()).replace("expected i64", "expected an integer");
    let Some(span) = err.span() else {
        return Problem::new("toml", message);
    };
    let (line, col) = line_col(src, span.start);
    let path = key_path(src, span.start).unwrap_or_else(|| format!("line {line}"));
    if path == "users" && message.contains("expected a sequence") {
        // `[users]` instead of `[[users]]` is the likely slip.
        message.push_str("; write each user as its own [[users]] table");
    }
    Problem::new(path, format!("{message} (line {line}, column {col})"))
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_col(src: &str, at: usize) -> (usize, usize) {
    let before = &src[..floor_char_boundary(src, at)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// toml messages can span lines ("invalid table header\nexpected `.`");
/// `ConfigError` promises one problem per line.
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Best-effort dotted key path of the value or key at byte offset `at`.
fn key_path(src: &str, at: usize) -> Option<String> {
    let at = floor_char_boundary(src, at);
    let line_start = src[..at].rfind('\n').map_or(0, |i| i + 1);
    let lines_before: Vec<&str> = src[..line_start].lines().collect();
    let this_line = src[line_start..].lines().next().unwrap_or("");

    // The error is on a header itself (e.g. an unknown section): that's the path.
    if let Some(h) = Header::parse(this_line) {
        return Some(h.path(&lines_before));
    }

    // Find the key: on this line, or above it for a multi-line array value;
    // then prefix the nearest table header above.
    let mut key = key_of(this_line);
    for (idx, line) in lines_before.iter().enumerate().rev() {
        if let Some(h) = Header::parse(line) {
            return Some(format!("{}.{}", h.path(&lines_before[..idx]), key?));
        }
        if key.is_none() {
            key = key_of(line);
        }
    }
    key
}

/// The key of a `key = value` line, unquoted; `None` for other lines.
fn key_of(line: &str) -> Option<String> {
    let t = line.trim();
    if t.starts_with('#') {
        return None;
    }
    let (k, _) = t.split_once('=')?;
    let k = k.trim().trim_matches(|c| c == '"' || c == '\'');
    (!k.is_empty() && !k.contains(char::is_whitespace)).then(|| k.to_string())
}

struct Header<'a> {
    name: &'a str,
    array: bool,
}

impl<'a> Header<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let t = line.split('#').next().unwrap_or("").trim();
        if let Some(n) = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            return Some(Header {
                name: n.trim(),
                array: true,
            });
        }
        let n = t.strip_prefix('[')?.strip_suffix(']')?;
        Some(Header {
            name: n.trim(),
            array: false,
        })
    }

    /// `name`, or `name[i]` for the i-th `[[name]]` table; `before` is every
    /// line above this header.
    fn path(&self, before: &[&str]) -> String {
        if !self.array {
            return self.name.to_string();
        }
        let index = before
            .iter()
            .filter_map(|l| Header::parse(l))
            .filter(|h| h.array && h.name == self.name)
            .count();
        format!("{}[{index}]", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_paths() {
        let src = "a = 1\n[proxy]\nlisten = 2\n[[users]]\nname = 'x'\n[[users]]\n\"name\" = 3\n[database]\nhosts = [\n  'a',\n  5,\n]\n[[users]]\n";
        let at = |needle: &str| src.find(needle).unwrap();
        assert_eq!(key_path(src, 0).as_deref(), Some("a"));
        assert_eq!(key_path(src, at("2")).as_deref(), Some("proxy.listen"));
        assert_eq!(key_path(src, at("'x'")).as_deref(), Some("users[0].name"));
        assert_eq!(key_path(src, at("3")).as_deref(), Some("users[1].name"));
        assert_eq!(key_path(src, at("5")).as_deref(), Some("database.hosts"));
        assert_eq!(key_path(src, at("[database]")).as_deref(), Some("database"));
        assert_eq!(
            key_path(src, src.rfind("[[users]]").unwrap()).as_deref(),
            Some("users[2]")
        );
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é\nx", 1), (1, 1));
    }
}
