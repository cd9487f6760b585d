//! Byte sizes: an integer number of bytes, or a string like `"64MiB"`.

/// Units accepted after the number, matched case-insensitively.
///
/// IEC units (`KiB`, `MiB`, `GiB`) are powers of 1024; SI units (`kB`, `MB`,
/// `GB`) are powers of 1000, as their names say. Both are accepted because
/// people write both; the docs recommend the IEC ones.
const UNITS: &[(&str, u64)] = &[
    ("b", 1),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
];

/// Parses `"64MiB"`, `"512 KiB"`, `"1GiB"`, `"8192"` or `"8192B"` into bytes.
pub(crate) fn parse(s: &str) -> Result<u64, String> {
    let bad =
        || format!(r#"invalid byte size "{s}": expected e.g. 65536, "64KiB", "64MiB", "1GiB""#);
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let multiplier = if unit.is_empty() {
        1
    } else {
        UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, m)| *m)
            .ok_or_else(bad)?
    };
    n.checked_mul(multiplier)
        .ok_or_else(|| format!(r#"byte size "{s}" is too large"#))
}

/// Renders a byte count the way the docs write limits: `8 KiB`, `64 MiB`,
/// or plain bytes when it is not a whole number of KiB.
pub(crate) fn display(n: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        // Sizes are powers of two, so a mask tests divisibility.
        if n >= size && n & (size - 1) == 0 {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("8192"), Ok(8192));
        assert_eq!(parse("8192B"), Ok(8192));
        assert_eq!(parse("512KiB"), Ok(512 * 1024));
        assert_eq!(parse("64MiB"), Ok(67_108_864));
        assert_eq!(parse("64 mib"), Ok(67_108_864));
        assert_eq!(parse("1GiB"), Ok(1 << 30));
        assert_eq!(parse("10MB"), Ok(10_000_000));
        assert_eq!(parse("2kB"), Ok(2_000));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "MiB", "1.5MiB", "-1", "64 megs", "64MiBs"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse("99999999999999GiB")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn displays_readably() {
        assert_eq!(display(8192), "8 KiB");
        assert_eq!(display(1 << 30), "1 GiB");
        assert_eq!(display(67_108_864), "64 MiB");
        assert_eq!(display(1000), "1000 bytes");
    }
}
