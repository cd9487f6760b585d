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

/// The parts of a Parse body: statement name, and everything after it (query, parameter types).
pub struct Parse<'a> {
    pub name: &'a str,
    pub query: &'a str,
    /// The query and the parameter types, exactly as sent: what makes two statements the same.
    pub definition: &'a [u8],
}

impl<'a> Parse<'a> {
    pub fn decode(body: &'a [u8]) -> Result<Self, ProtocolError> {
        let (name, definition) = read::cstr(body)?;
        let (query, _) = read::cstr(definition)?;
        Ok(Parse {
            name,
            query,
            definition,
        })
    }
}

/// The parts of a Bind body Sluice rewrites: portal, statement, and the rest untouched.
pub struct Bind<'a> {
    pub portal: &'a str,
    pub statement: &'a str,
    pub rest: &'a [u8],
}

impl<'a> Bind<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, ProtocolError> {
        let (portal, rest) = read::cstr(body)?;
        let (statement, rest) = read::cstr(rest)?;
        Ok(Bind {
            portal,
            statement,
            rest,
        })
    }
}

/// What a Describe or Close refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Statement,
    Portal,
}

/// A Describe or Close body: 'S' or 'P' and a name.
pub fn describe_or_close(body: &[u8]) -> Result<(Target, &str), ProtocolError> {
    let (&kind, rest) = body
        .split_first()
        .ok_or(ProtocolError::Malformed("empty Describe or Close"))?;
    let target = match kind {
        b'S' => Target::Statement,
        b'P' => Target::Portal,
        _ => {
            return Err(ProtocolError::Malformed(
                "Describe or Close of neither 'S' nor 'P'",
            ))
        }
    };
    Ok((target, read::cstr(rest)?.0))
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
    fn extended_query_parts() {
        let mut buf = BytesMut::new();
        encode::parse(&mut buf, "s1", b"SELECT $1\0\0\x01\0\0\0\x17");
        let p = Parse::decode(&buf[5..]).unwrap();
        assert_eq!((p.name, p.query), ("s1", "SELECT $1"));
        assert_eq!(p.definition, b"SELECT $1\0\0\x01\0\0\0\x17");
        buf.clear();
        encode::bind(&mut buf, "", "s1", b"\0\0\0\0\0\0");
        let b = Bind::parse(&buf[5..]).unwrap();
        assert_eq!(
            (b.portal, b.statement, b.rest),
            ("", "s1", &b"\0\0\0\0\0\0"[..])
        );
        buf.clear();
        encode::describe(&mut buf, Target::Statement, "s1");
        assert_eq!(
            describe_or_close(&buf[5..]).unwrap(),
            (Target::Statement, "s1")
        );
        assert!(describe_or_close(b"Xs1\0").is_err());
        assert!(Bind::parse(b"p\0").is_err());
    }

    #[test]
    fn password_must_be_one_string() {
        assert_eq!(password(b"secret\0").unwrap(), b"secret");
        assert!(password(b"secret").is_err());
        assert!(password(b"a\0b\0").is_err());
        assert_eq!(query(b"select 1\0").unwrap(), "select 1");
    }
}
