//! Small readers over message bodies. Every read is bounds-checked and returns the rest.

use crate::ProtocolError;

/// A NUL-terminated UTF-8 string and the bytes after it.
pub fn cstr(buf: &[u8]) -> Result<(&str, &[u8]), ProtocolError> {
    let end = buf
        .iter()
        .position(|&b| b == 0)
        .ok_or(ProtocolError::Malformed("string without terminator"))?;
    let s = std::str::from_utf8(&buf[..end])
        .map_err(|_| ProtocolError::Malformed("string is not valid UTF-8"))?;
    Ok((s, &buf[end + 1..]))
}

/// A big-endian i32 and the bytes after it.
pub fn i32(buf: &[u8]) -> Result<(i32, &[u8]), ProtocolError> {
    let bytes = buf
        .get(..4)
        .ok_or(ProtocolError::Malformed("message too short for an Int32"))?;
    Ok((
        i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        &buf[4..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_are_bounded() {
        assert_eq!(cstr(b"ab\0cd").unwrap(), ("ab", &b"cd"[..]));
        assert!(cstr(b"ab").is_err());
        assert!(cstr(b"\xff\0").is_err());
        assert_eq!(i32(&[0, 0, 1, 0, 9]).unwrap(), (256, &[9u8][..]));
        assert!(i32(&[0, 0]).is_err());
    }
}
