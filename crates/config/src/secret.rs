//! [`Secret`]: a wrapper that keeps passwords out of logs and `Debug` dumps.

use std::fmt;

use serde::Deserialize;

/// A value that never prints.
///
/// `Debug` and `Display` both show `<redacted>`, so a secret can sit inside a
/// `#[derive(Debug)]` struct (like [`crate::Config`]) that gets logged without
/// leaking. Call [`Secret::expose`] at the one place that needs the value.
///
/// `PartialEq` is an ordinary, non-constant-time comparison: it exists for
/// tests and config diffing, not for checking credentials presented by
/// clients.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The wrapped value. Named loudly so every use is easy to grep for.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:#?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn deserializes_transparently() {
        #[derive(Deserialize)]
        struct W {
            p: Secret<String>,
        }
        let w: W = toml::from_str(r#"p = "s3cret""#).unwrap();
        assert_eq!(w.p, Secret::new("s3cret".to_string()));
    }
}
