//! Decoding the few frontend messages Sluice acts on.

use crate::read;
use crate::ProtocolError;

/// A Query body: the SQL text.
pub fn query(body: &[u8]) -> Result<&str, ProtocolError> {
    Ok(read::cstr(body)?.0)
}

/// A PasswordMessage body carrying a cleartext or md5 password.
pub fn password(body: &[u8]) -> Result<&[u8], ProtocolError> {
    match body.split_last() {
        Some((0, password)) if !password.contains(&0) => Ok(password),
        _ => Err(ProtocolError::Malformed("password is not a single string")),
    }
}

/// A SASLInitialResponse body: the chosen mechanism and its first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslInitialResponse<'a> {
    pub mechanism: &'a str,
    pub data: &'a [u8],
}

impl<'a> SaslInitialResponse<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, ProtocolError> {
        let (mechanism, rest) = read::cstr(body)?;
        let (len, data) = read::i32(rest)?;
        // -1 means "no initial response", which SCRAM never uses.
        let len = usize::try_from(len)
            .map_err(|_| ProtocolError::Malformed("SASL initial response without data"))?;
        if data.len() != len {
            return Err(ProtocolError::Malformed(
                "SASL initial response length mismatch",
            ));
        }
        Ok(SaslInitialResponse { mechanism, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode;
    use bytes::BytesMut;

    #[test]
    fn sasl_initial_response_round_trip() {
        let mut buf = BytesMut::new();
        encode::sasl_initial_response(&mut buf, "SCRAM-SHA-256", b"n,,n=,r=abc");
        let parsed = SaslInitialResponse::parse(&buf[5..]).unwrap();
        assert_eq!(parsed.mechanism, "SCRAM-SHA-256");
        assert_eq!(parsed.data, b"n,,n=,r=abc");
        assert!(SaslInitialResponse::parse(b"SCRAM\0\xff\xff\xff\xff").is_err());
        assert!(SaslInitialResponse::parse(b"SCRAM\0\0\0\0\x09abc").is_err());
    }

    #[test]
    fn password_must_be_one_string() {
        assert_eq!(password(b"secret\0").unwrap(), b"secret");
        assert!(password(b"secret").is_err());
        assert!(password(b"a\0b\0").is_err());
        assert_eq!(query(b"select 1\0").unwrap(), "select 1");
    }
}
