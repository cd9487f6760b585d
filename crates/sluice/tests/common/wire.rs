//! Hand-built frontend messages for tests that speak the protocol byte by byte.

pub fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

pub fn parse(name: &str, sql: &str) -> Vec<u8> {
    msg(
        b'P',
        &[name.as_bytes(), b"\0", sql.as_bytes(), b"\0\0\0"].concat(),
    )
}

/// Bind of `statement` to the unnamed portal, no parameters, text results.
pub fn bind(statement: &str) -> Vec<u8> {
    msg(
        b'B',
        &[b"\0", statement.as_bytes(), b"\0\0\0\0\0\0\0"].concat(),
    )
}

/// Describe: `kind` is b'S' (statement) or b'P' (portal).
pub fn describe(kind: u8, name: &str) -> Vec<u8> {
    msg(b'D', &[&[kind][..], name.as_bytes(), b"\0"].concat())
}

/// Close of a named statement.
pub fn close(name: &str) -> Vec<u8> {
    msg(b'C', &[b"S", name.as_bytes(), b"\0"].concat())
}

pub fn execute() -> Vec<u8> {
    msg(b'E', b"\0\0\0\0\0")
}

pub fn sync() -> Vec<u8> {
    msg(b'S', b"")
}
