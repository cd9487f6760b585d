//! [`Secret`]: a wrapper that keeps passwords out of logs and `Debug` dumps, and out of freed
//! memory.

use std::fmt;

use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

/// A value that never prints.
///
/// `Debug` and `Display` both show `<redacted>`, so a secret can sit inside a
/// `#[derive(Debug)]` struct (like [`crate::Config`]) that gets logged without
/// leaking. Call [`Secret::expose`] at the one place that needs the value.
///
/// The value is overwritten with zeros when the secret is dropped (a rotated
/// password does not linger in freed memory for a core dump to show).
///
/// `PartialEq` is an ordinary, non-constant-time comparison: it exists for
/// tests and config diffing, not for checking credentials presented by
/// clients.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret<T: Zeroize>(Zeroizing<T>);

impl<T: Zeroize> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The wrapped value. Named loudly so every use is easy to grep for.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T: Zeroize> fmt::Display for Secret<T> {
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
    fn redacted_inside_derived_debug() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Login {
            user: String,
            password: Secret<String>,
        }
        let login = Login {
            user: "app".into(),
            password: Secret::new("hunter2".into()),
        };
        let shown = format!("{login:?} {login:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn the_value_is_zeroized_on_drop() {
        // What Secret's drop does to its value, observed without unsafe code: Zeroizing
        // zeroes the bytes in place and then clears the string.
        let mut value = Zeroizing::new(String::from("hunter2"));
        let bytes_before = value.as_bytes().to_vec();
        value.zeroize();
        assert_eq!(bytes_before, b"hunter2");
        assert!(value.is_empty());
        // And Secret's own drop goes through Zeroizing (a compile-time fact; this keeps the
        // wrapper from silently losing it).
        fn drops_through_zeroizing<T: Zeroize>(s: Secret<T>) -> Zeroizing<T> {
            s.0
        }
        let inner = drops_through_zeroizing(Secret::new(String::from("x")));
        assert_eq!(inner.as_str(), "x");
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
