//! Message tags, one enum per direction so a tag can never be read the wrong way round.

use crate::ProtocolError;

macro_rules! tag_enum {
    ($(#[$meta:meta])* $name:ident, $direction:literal { $($variant:ident = $byte:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            /// The tag byte on the wire.
            pub const fn byte(self) -> u8 {
                match self {
                    $($name::$variant => $byte,)*
                }
            }

            /// Decodes a tag byte; an unknown byte is a protocol violation.
            pub fn from_byte(byte: u8) -> Result<Self, ProtocolError> {
                match byte {
                    $($byte => Ok($name::$variant),)*
                    _ => Err(ProtocolError::UnknownTag { tag: byte, direction: $direction }),
                }
            }
        }
    };
}

tag_enum! {
    /// Messages a client (frontend) sends after startup.
    FrontendTag, "frontend" {
        Bind = b'B',
        Close = b'C',
        CopyData = b'd',
        CopyDone = b'c',
        CopyFail = b'f',
        Describe = b'D',
        Execute = b'E',
        Flush = b'H',
        FunctionCall = b'F',
        Parse = b'P',
        Password = b'p',
        Query = b'Q',
        Sync = b'S',
        Terminate = b'X',
    }
}

tag_enum! {
    /// Messages a server (backend) sends.
    BackendTag, "backend" {
        Authentication = b'R',
        BackendKeyData = b'K',
        BindComplete = b'2',
        CloseComplete = b'3',
        CommandComplete = b'C',
        CopyData = b'd',
        CopyDone = b'c',
        CopyInResponse = b'G',
        CopyOutResponse = b'H',
        CopyBothResponse = b'W',
        DataRow = b'D',
        EmptyQueryResponse = b'I',
        ErrorResponse = b'E',
        FunctionCallResponse = b'V',
        NegotiateProtocolVersion = b'v',
        NoData = b'n',
        NoticeResponse = b'N',
        NotificationResponse = b'A',
        ParameterDescription = b't',
        ParameterStatus = b'S',
        ParseComplete = b'1',
        PortalSuspended = b's',
        ReadyForQuery = b'Z',
        RowDescription = b'T',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_unknown() {
        for t in [
            FrontendTag::Query,
            FrontendTag::Sync,
            FrontendTag::Terminate,
        ] {
            assert_eq!(FrontendTag::from_byte(t.byte()).unwrap(), t);
        }
        assert_eq!(
            BackendTag::from_byte(b'Z').unwrap(),
            BackendTag::ReadyForQuery
        );
        assert!(FrontendTag::from_byte(b'Z').is_err());
        assert!(BackendTag::from_byte(b'Q').is_err());
    }
}
