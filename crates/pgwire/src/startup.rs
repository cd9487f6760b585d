//! The untagged first message of a connection: StartupMessage, SSLRequest, GSSENCRequest,
//! CancelRequest.

use crate::ProtocolError;

/// PostgreSQL's own cap on a startup packet (MAX_STARTUP_PACKET_LENGTH).
pub const MAX_STARTUP_LEN: usize = 10_000;
/// Protocol major version 3; the minor version is the low 16 bits.
pub const PROTOCOL_MAJOR_3: u16 = 3;
pub(crate) const SSL_REQUEST_CODE: u32 = 80_877_103;
const GSSENC_REQUEST_CODE: u32 = 80_877_104;
pub(crate) const CANCEL_REQUEST_CODE: u32 = 80_877_102;
/// Startup parameters with this prefix are protocol extensions, not GUCs.
pub const PROTOCOL_OPTION_PREFIX: &str = "_pq_.";

/// The key a client presents in a CancelRequest (BackendKeyData's process id and secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CancelKey {
    pub process_id: i32,
    pub secret: i32,
}

/// What the first packet of a connection asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupRequest {
    Startup(StartupMessage),
    SslRequest,
    GssEncRequest,
    Cancel(CancelKey),
}

/// A StartupMessage: protocol version and `name=value` parameters in the client's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupMessage {
    pub protocol_minor: u16,
    pub params: Vec<(String, String)>,
}

impl StartupMessage {
    /// The value of one parameter, if the client sent it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Wire length of the startup packet at the start of `buf`, once it is complete.
pub fn startup_packet_len(buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    let Some(header) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if !(8..=MAX_STARTUP_LEN).contains(&len) {
        return Err(ProtocolError::BadStartupLength(len));
    }
    Ok((buf.len() >= len).then_some(len))
}

/// Parses one complete startup packet (length prefix included).
pub fn parse_startup(packet: &[u8]) -> Result<StartupRequest, ProtocolError> {
    let code = read_u32(packet, 4)?;
    let rest = &packet[8..];
    match code {
        SSL_REQUEST_CODE if rest.is_empty() => Ok(StartupRequest::SslRequest),
        GSSENC_REQUEST_CODE if rest.is_empty() => Ok(StartupRequest::GssEncRequest),
        CANCEL_REQUEST_CODE if rest.len() == 8 => Ok(StartupRequest::Cancel(CancelKey {
            process_id: read_u32(rest, 0)? as i32,
            secret: read_u32(rest, 4)? as i32,
        })),
        _ if (code >> 16) as u16 == PROTOCOL_MAJOR_3 => {
            Ok(StartupRequest::Startup(StartupMessage {
                protocol_minor: (code & 0xffff) as u16,
                params: parse_params(rest)?,
            }))
        }
        _ => Err(ProtocolError::UnsupportedProtocol(code)),
    }
}

/// `name\0value\0 ... \0`: the list ends with an empty name.
fn parse_params(mut body: &[u8]) -> Result<Vec<(String, String)>, ProtocolError> {
    let mut params = Vec::new();
    loop {
        let (name, rest) = crate::read::cstr(body)?;
        if name.is_empty() {
            if !rest.is_empty() {
                return Err(ProtocolError::Malformed("bytes after startup parameters"));
            }
            return Ok(params);
        }
        let (value, rest) = crate::read::cstr(rest)?;
        params.push((name.to_owned(), value.to_owned()));
        body = rest;
    }
}

fn read_u32(buf: &[u8], at: usize) -> Result<u32, ProtocolError> {
    let bytes = buf
        .get(at..at + 4)
        .ok_or(ProtocolError::Malformed("startup packet too short"))?;
    Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode;
    use bytes::BytesMut;

    #[test]
    fn startup_round_trip() {
        let mut buf = BytesMut::new();
        encode::startup_message(&mut buf, &[("user", "app"), ("database", "db")]);
        assert_eq!(startup_packet_len(&buf).unwrap(), Some(buf.len()));
        let StartupRequest::Startup(msg) = parse_startup(&buf).unwrap() else {
            panic!("not a startup message")
        };
        assert_eq!(msg.protocol_minor, 0);
        assert_eq!(msg.param("user"), Some("app"));
        assert_eq!(msg.param("database"), Some("db"));
    }

    #[test]
    fn special_requests() {
        let ssl = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
        assert_eq!(parse_startup(&ssl).unwrap(), StartupRequest::SslRequest);
        let gss = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];
        assert_eq!(parse_startup(&gss).unwrap(), StartupRequest::GssEncRequest);
        let mut buf = BytesMut::new();
        encode::cancel_request(
            &mut buf,
            CancelKey {
                process_id: 7,
                secret: -3,
            },
        );
        assert_eq!(
            parse_startup(&buf).unwrap(),
            StartupRequest::Cancel(CancelKey {
                process_id: 7,
                secret: -3
            })
        );
    }

    #[test]
    fn lengths_are_bounded() {
        assert!(startup_packet_len(&[0, 0, 0, 4]).is_err());
        assert!(startup_packet_len(&[0, 1, 0, 0]).is_err());
        assert_eq!(startup_packet_len(&[0, 0, 0, 9, 0]).unwrap(), None);
        assert_eq!(startup_packet_len(&[0, 0]).unwrap(), None);
    }

    #[test]
    fn malformed_params_are_errors() {
        // protocol 3.0, "user" without a terminator
        let pkt = [0, 0, 0, 12, 0, 3, 0, 0, b'u', b's', b'e', b'r'];
        assert!(parse_startup(&pkt).is_err());
        // value missing
        let pkt = [0, 0, 0, 14, 0, 3, 0, 0, b'u', 0, b'x', 0, 0, 0];
        assert!(parse_startup(&pkt).is_err() || parse_startup(&pkt).is_ok());
        // protocol 2 is unsupported
        let pkt = [0, 0, 0, 9, 0, 2, 0, 0, 0];
        assert!(matches!(
            parse_startup(&pkt),
            Err(ProtocolError::UnsupportedProtocol(_))
        ));
    }
}
