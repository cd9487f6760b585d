//! [`HostPort`]: one PostgreSQL server address from `database.hosts`.

use std::fmt;
use std::net::Ipv6Addr;

/// PostgreSQL's default port, used when a host is written without one.
pub const DEFAULT_PG_PORT: u16 = 5432;

/// A server address. `host` is an IP literal or a hostname; hostnames are
/// kept as written and resolved at connect time, so DNS changes (failover
/// endpoints) are picked up without a restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Hostname or IP address, without brackets for IPv6.
    pub host: String,
    /// TCP port, never zero.
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // IPv6 literals need brackets, or the port would read as part of the address.
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses `"host:port"`, `"host"` (port 5432), `"[::1]:5432"`, `"[::1]"` or
/// a bare IPv6 literal such as `"::1"` (port 5432).
pub(crate) fn parse(s: &str) -> Result<HostPort, String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| format!(r#"invalid host "{s}": missing "]" after IPv6 address"#))?;
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                r#"invalid host "{s}": "{addr}" is not an IPv6 address"#
            ));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!(r#"invalid host "{s}": expected ":port" after "]""#))?,
            ),
        };
        (addr, port)
    } else if s.parse::<Ipv6Addr>().is_ok() {
        // More than one colon and a valid address: an unbracketed IPv6 literal.
        (s, None)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };

    if host.is_empty() {
        return Err(format!(r#"invalid host "{s}": host name is empty"#));
    }
    if !host.contains(':') && !is_hostname(host) {
        return Err(format!(
            r#"invalid host "{s}": "{host}" is not a valid host name or IP address"#
        ));
    }
    let port = match port {
        None => DEFAULT_PG_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => {
                return Err(format!(
                    r#"invalid port "{p}" in "{s}": expected a number from 1 to 65535"#
                ))
            }
            Ok(port) => port,
        },
    };
    Ok(HostPort {
        host: host.to_string(),
        port,
    })
}

/// Letters, digits, `-`, `_` and `.`; this also admits IPv4 literals. Catches
/// typos like spaces, slashes or URLs (`postgres://...`) early instead of at
/// the first DNS lookup.
fn is_hostname(h: &str) -> bool {
    h.split('.').all(|label| {
        !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_forms() {
        assert_eq!(parse("127.0.0.1:5432"), Ok(hp("127.0.0.1", 5432)));
        assert_eq!(parse("db.internal"), Ok(hp("db.internal", 5432)));
        assert_eq!(parse("db-1:6000"), Ok(hp("db-1", 6000)));
        assert_eq!(parse("[::1]:5433"), Ok(hp("::1", 5433)));
        assert_eq!(parse("[::1]"), Ok(hp("::1", 5432)));
        assert_eq!(parse("fe80::1"), Ok(hp("fe80::1", 5432)));
    }

    #[test]
    fn displays_with_brackets_for_ipv6() {
        assert_eq!(hp("::1", 5433).to_string(), "[::1]:5433");
        assert_eq!(hp("db", 5432).to_string(), "db:5432");
        for s in ["[::1]:5433", "db:5432", "10.0.0.1:1"] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            ":5432",
            "db:0",
            "db:65536",
            "db:abc",
            "db:",
            "[::1",
            "[::1]5432",
            "[nope]:1",
            "postgres://db",
            "db host",
            "db..x",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            parse("db:0").unwrap_err(),
            r#"invalid port "0" in "db:0": expected a number from 1 to 65535"#
        );
    }
}
