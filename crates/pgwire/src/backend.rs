//! Decoding the few backend messages Sluice acts on. Everything else is forwarded unparsed.

use crate::read;
use crate::startup::CancelKey;
use crate::ProtocolError;

/// The transaction status carried by ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// 'I': not in a transaction block; the server connection can be returned.
    Idle,
    /// 'T': inside a transaction block.
    InTransaction,
    /// 'E': inside a failed transaction block (only ROLLBACK gets out).
    Failed,
}

impl TransactionStatus {
    pub fn byte(self) -> u8 {
        match self {
            TransactionStatus::Idle => b'I',
            TransactionStatus::InTransaction => b'T',
            TransactionStatus::Failed => b'E',
        }
    }

    /// Decodes a ReadyForQuery body.
    pub fn parse(body: &[u8]) -> Result<TransactionStatus, ProtocolError> {
        match body {
            [b'I'] => Ok(TransactionStatus::Idle),
            [b'T'] => Ok(TransactionStatus::InTransaction),
            [b'E'] => Ok(TransactionStatus::Failed),
            _ => Err(ProtocolError::Malformed("bad ReadyForQuery status")),
        }
    }
}

/// An Authentication* request from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication<'a> {
    Ok,
    CleartextPassword,
    Md5Password {
        salt: [u8; 4],
    },
    Sasl {
        mechanisms: Vec<&'a str>,
    },
    SaslContinue(&'a [u8]),
    SaslFinal(&'a [u8]),
    /// Kerberos, GSSAPI, SSPI: not something Sluice can answer.
    Unsupported(i32),
}

impl<'a> Authentication<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Authentication<'a>, ProtocolError> {
        let (code, rest) = read::i32(body)?;
        Ok(match code {
            0 => Authentication::Ok,
            3 => Authentication::CleartextPassword,
            5 => {
                let salt = rest
                    .get(..4)
                    .ok_or(ProtocolError::Malformed("md5 request without salt"))?;
                Authentication::Md5Password {
                    salt: [salt[0], salt[1], salt[2], salt[3]],
                }
            }
            10 => Authentication::Sasl {
                mechanisms: sasl_mechanisms(rest)?,
            },
            11 => Authentication::SaslContinue(rest),
            12 => Authentication::SaslFinal(rest),
            other => Authentication::Unsupported(other),
        })
    }
}

fn sasl_mechanisms(mut rest: &[u8]) -> Result<Vec<&str>, ProtocolError> {
    let mut mechanisms = Vec::new();
    loop {
        let (name, after) = read::cstr(rest)?;
        if name.is_empty() {
            return Ok(mechanisms);
        }
        mechanisms.push(name);
        rest = after;
    }
}

/// A ParameterStatus body: (name, value).
pub fn parameter_status(body: &[u8]) -> Result<(&str, &str), ProtocolError> {
    let (name, rest) = read::cstr(body)?;
    let (value, _) = read::cstr(rest)?;
    Ok((name, value))
}

/// A BackendKeyData body.
pub fn backend_key_data(body: &[u8]) -> Result<CancelKey, ProtocolError> {
    let (process_id, rest) = read::i32(body)?;
    let (secret, _) = read::i32(rest)?;
    Ok(CancelKey { process_id, secret })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode;
    use bytes::BytesMut;

    #[test]
    fn authentication_requests() {
        let mut buf = BytesMut::new();
        encode::authentication_sasl(&mut buf, &["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"]);
        assert_eq!(
            Authentication::parse(&buf[5..]).unwrap(),
            Authentication::Sasl {
                mechanisms: vec!["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"]
            }
        );
        buf.clear();
        encode::authentication_md5_password(&mut buf, [1, 2, 3, 4]);
        assert_eq!(
            Authentication::parse(&buf[5..]).unwrap(),
            Authentication::Md5Password { salt: [1, 2, 3, 4] }
        );
        assert!(Authentication::parse(&[0, 0, 0, 5, 1]).is_err());
        assert_eq!(
            Authentication::parse(&[0, 0, 0, 7]).unwrap(),
            Authentication::Unsupported(7)
        );
    }

    #[test]
    fn status_and_parameters() {
        assert_eq!(
            TransactionStatus::parse(b"T").unwrap(),
            TransactionStatus::InTransaction
        );
        assert!(TransactionStatus::parse(b"").is_err());
        assert!(TransactionStatus::parse(b"IT").is_err());
        assert_eq!(parameter_status(b"a\0b\0").unwrap(), ("a", "b"));
        assert!(parameter_status(b"a\0b").is_err());
        let key = backend_key_data(&[0, 0, 0, 1, 255, 255, 255, 255]).unwrap();
        assert_eq!(
            key,
            CancelKey {
                process_id: 1,
                secret: -1
            }
        );
    }
}
