//! Duration strings such as `"30s"`, `"10m"`, `"1h"`, `"500ms"`.

use std::time::Duration;

/// Parses a humantime duration (`"30s"`, `"1h 30m"`, `"500ms"`).
///
/// The error is the message shown to the user after the key path, so it
/// quotes the input and shows examples rather than humantime's terse reason.
pub(crate) fn parse(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|_| format!(r#"invalid duration "{s}": expected e.g. "30s", "10m", "1h""#))
}

/// For settings where `"0s"` means "disabled": zero becomes `None`, so
/// callers never have to treat zero as a magic value.
pub(crate) fn zero_is_none(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_units() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse(" 2s "), Ok(Duration::from_secs(2)));
        assert_eq!(parse("30 minutes"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn rejects_garbage_with_examples() {
        for bad in ["", "30", "soon", "-5s", "30 lightyears", "half an hour"] {
            let err = parse(bad).unwrap_err();
            assert_eq!(
                err,
                format!(r#"invalid duration "{bad}": expected e.g. "30s", "10m", "1h""#)
            );
        }
    }

    #[test]
    fn zero_is_disabled() {
        assert_eq!(parse("0s").map(zero_is_none), Ok(None));
        assert_eq!(parse("0ms").map(zero_is_none), Ok(None));
        assert_eq!(
            parse("5m").map(zero_is_none),
            Ok(Some(Duration::from_secs(300)))
        );
    }
}
