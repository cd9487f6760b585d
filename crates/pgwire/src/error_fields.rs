//! ErrorResponse and NoticeResponse bodies: a list of (field code, string) pairs.

use bytes::{BufMut, BytesMut};

use crate::sqlstate::SqlState;
use crate::ProtocolError;

/// Severity as sent in the non-localized `V` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Fatal,
    Panic,
    Warning,
    Notice,
    Log,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
            Severity::Panic => "PANIC",
            Severity::Warning => "WARNING",
            Severity::Notice => "NOTICE",
            Severity::Log => "LOG",
        }
    }

    fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "ERROR" => Severity::Error,
            "FATAL" => Severity::Fatal,
            "PANIC" => Severity::Panic,
            "WARNING" => Severity::Warning,
            "NOTICE" => Severity::Notice,
            "LOG" => Severity::Log,
            _ => return None,
        })
    }
}

/// The fields Sluice reads or writes. Others are kept only when forwarding raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFields {
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl ErrorFields {
    /// An error Sluice raises itself.
    pub fn new(severity: Severity, code: SqlState, message: impl Into<String>) -> Self {
        ErrorFields {
            severity,
            code: code.code().to_owned(),
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Parses an ErrorResponse/NoticeResponse body. Unknown field codes are skipped, as the
    /// protocol requires.
    pub fn parse(mut body: &[u8]) -> Result<ErrorFields, ProtocolError> {
        let mut fields = ErrorFields::new(Severity::Error, SqlState::INTERNAL_ERROR, "");
        let mut severity_seen = false;
        loop {
            let (&code, rest) = body
                .split_first()
                .ok_or(ProtocolError::Malformed("error fields without terminator"))?;
            if code == 0 {
                return Ok(fields);
            }
            let (value, rest) = crate::read::cstr(rest)?;
            match code {
                b'V' => {
                    fields.severity = Severity::parse(value).unwrap_or(Severity::Error);
                    severity_seen = true;
                }
                b'S' if !severity_seen => {
                    fields.severity = Severity::parse(value).unwrap_or(Severity::Error)
                }
                b'C' => fields.code = value.to_owned(),
                b'M' => fields.message = value.to_owned(),
                b'D' => fields.detail = Some(value.to_owned()),
                b'H' => fields.hint = Some(value.to_owned()),
                _ => {}
            }
            body = rest;
        }
    }

    pub(crate) fn write_body(&self, b: &mut BytesMut) {
        let severity = self.severity.as_str();
        for (code, value) in [
            (b'S', Some(severity)),
            (b'V', Some(severity)),
            (b'C', Some(self.code.as_str())),
            (b'M', Some(self.message.as_str())),
            (b'D', self.detail.as_deref()),
            (b'H', self.hint.as_deref()),
        ] {
            if let Some(value) = value {
                b.put_u8(code);
                b.put_slice(value.as_bytes());
                b.put_u8(0);
            }
        }
        b.put_u8(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode;

    #[test]
    fn round_trip() {
        let fields = ErrorFields::new(Severity::Fatal, SqlState::INVALID_PASSWORD, "nope")
            .with_hint("check it");
        let mut buf = BytesMut::new();
        encode::error_response(&mut buf, &fields);
        assert_eq!(buf[0], b'E');
        assert_eq!(ErrorFields::parse(&buf[5..]).unwrap(), fields);
    }

    #[test]
    fn truncated_is_an_error() {
        assert!(ErrorFields::parse(b"SERROR\0CXX000").is_err());
        assert!(ErrorFields::parse(b"").is_err());
    }
}
