//! Builders that append one message to a buffer. The length is patched in after the body, so no
//! body is built twice.

use bytes::{BufMut, BytesMut};

use crate::backend::TransactionStatus;
use crate::error_fields::ErrorFields;
use crate::startup::CancelKey;
use crate::tags::{BackendTag, FrontendTag};

/// Appends `tag`, a length placeholder, the body written by `body`, and patches the length.
fn message(buf: &mut BytesMut, tag: u8, body: impl FnOnce(&mut BytesMut)) {
    buf.put_u8(tag);
    untagged(buf, body);
}

/// A length-prefixed packet without a tag (startup and cancel packets).
fn untagged(buf: &mut BytesMut, body: impl FnOnce(&mut BytesMut)) {
    let start = buf.len();
    buf.put_u32(0);
    body(buf);
    let len = u32::try_from(buf.len() - start).expect("messages we build are far below 4 GiB");
    buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

fn cstr(buf: &mut BytesMut, s: &str) {
    buf.put_slice(s.as_bytes());
    buf.put_u8(0);
}

fn backend(buf: &mut BytesMut, tag: BackendTag, body: impl FnOnce(&mut BytesMut)) {
    message(buf, tag.byte(), body)
}

fn frontend(buf: &mut BytesMut, tag: FrontendTag, body: impl FnOnce(&mut BytesMut)) {
    message(buf, tag.byte(), body)
}

// ---- backend messages (Sluice speaking as a server) ----

pub fn authentication_ok(buf: &mut BytesMut) {
    backend(buf, BackendTag::Authentication, |b| b.put_i32(0));
}

/// Asks for the password in the clear; Sluice sends it only over TLS (token authentication).
pub fn authentication_cleartext_password(buf: &mut BytesMut) {
    backend(buf, BackendTag::Authentication, |b| b.put_i32(3));
}

pub fn authentication_md5_password(buf: &mut BytesMut, salt: [u8; 4]) {
    backend(buf, BackendTag::Authentication, |b| {
        b.put_i32(5);
        b.put_slice(&salt);
    });
}

pub fn authentication_sasl(buf: &mut BytesMut, mechanisms: &[&str]) {
    backend(buf, BackendTag::Authentication, |b| {
        b.put_i32(10);
        for m in mechanisms {
            cstr(b, m);
        }
        b.put_u8(0);
    });
}

pub fn authentication_sasl_continue(buf: &mut BytesMut, data: &[u8]) {
    backend(buf, BackendTag::Authentication, |b| {
        b.put_i32(11);
        b.put_slice(data);
    });
}

pub fn authentication_sasl_final(buf: &mut BytesMut, data: &[u8]) {
    backend(buf, BackendTag::Authentication, |b| {
        b.put_i32(12);
        b.put_slice(data);
    });
}

pub fn parameter_status(buf: &mut BytesMut, name: &str, value: &str) {
    backend(buf, BackendTag::ParameterStatus, |b| {
        cstr(b, name);
        cstr(b, value);
    });
}

pub fn backend_key_data(buf: &mut BytesMut, key: CancelKey) {
    backend(buf, BackendTag::BackendKeyData, |b| {
        b.put_i32(key.process_id);
        b.put_i32(key.secret);
    });
}

pub fn ready_for_query(buf: &mut BytesMut, status: TransactionStatus) {
    backend(buf, BackendTag::ReadyForQuery, |b| b.put_u8(status.byte()));
}

/// NegotiateProtocolVersion: the newest minor version we speak and the options we ignored.
pub fn negotiate_protocol_version(buf: &mut BytesMut, newest_minor: i32, unrecognized: &[&str]) {
    backend(buf, BackendTag::NegotiateProtocolVersion, |b| {
        b.put_i32(newest_minor);
        b.put_i32(i32::try_from(unrecognized.len()).unwrap_or(i32::MAX));
        for name in unrecognized {
            cstr(b, name);
        }
    });
}

pub fn error_response(buf: &mut BytesMut, fields: &ErrorFields) {
    backend(buf, BackendTag::ErrorResponse, |b| fields.write_body(b));
}

pub fn notice_response(buf: &mut BytesMut, fields: &ErrorFields) {
    backend(buf, BackendTag::NoticeResponse, |b| fields.write_body(b));
}

/// OID of PostgreSQL's `text` type, and of `int8`: what Sluice's own result sets use.
pub const TEXT_OID: u32 = 25;
pub const INT8_OID: u32 = 20;

/// RowDescription for a result Sluice produces itself: every column in text format, with no
/// table behind it. `columns` are (name, type OID).
pub fn row_description(buf: &mut BytesMut, columns: &[(&str, u32)]) {
    backend(buf, BackendTag::RowDescription, |b| {
        b.put_i16(i16::try_from(columns.len()).expect("our result sets have few columns"));
        for (name, type_oid) in columns {
            cstr(b, name);
            b.put_u32(0); // table OID
            b.put_i16(0); // column number
            b.put_u32(*type_oid);
            b.put_i16(-1); // type size: variable
            b.put_i32(-1); // type modifier: none
            b.put_i16(0); // format: text
        }
    });
}

/// DataRow with text values; `None` is SQL NULL.
pub fn data_row(buf: &mut BytesMut, values: &[Option<&str>]) {
    backend(buf, BackendTag::DataRow, |b| {
        b.put_i16(i16::try_from(values.len()).expect("our result sets have few columns"));
        for value in values {
            match value {
                Some(v) => {
                    b.put_i32(i32::try_from(v.len()).expect("our values are far below 2 GiB"));
                    b.put_slice(v.as_bytes());
                }
                None => b.put_i32(-1),
            }
        }
    });
}

/// EmptyQueryResponse: the reply to an empty query string.
pub fn empty_query_response(buf: &mut BytesMut) {
    backend(buf, BackendTag::EmptyQueryResponse, |_| {});
}

/// CommandComplete with its tag, e.g. `SHOW` or `SELECT 3`.
pub fn command_complete(buf: &mut BytesMut, tag: &str) {
    backend(buf, BackendTag::CommandComplete, |b| cstr(b, tag));
}

// ---- frontend messages (Sluice speaking as a client) ----

/// StartupMessage for protocol 3.0.
pub fn startup_message(buf: &mut BytesMut, params: &[(&str, &str)]) {
    untagged(buf, |b| {
        b.put_u32(3 << 16);
        for (name, value) in params {
            cstr(b, name);
            cstr(b, value);
        }
        b.put_u8(0);
    });
}

pub fn cancel_request(buf: &mut BytesMut, key: CancelKey) {
    untagged(buf, |b| {
        b.put_u32(crate::startup::CANCEL_REQUEST_CODE);
        b.put_i32(key.process_id);
        b.put_i32(key.secret);
    });
}

/// SSLRequest: asks the server to switch to TLS; it answers one byte, 'S' or 'N'.
pub fn ssl_request(buf: &mut BytesMut) {
    untagged(buf, |b| b.put_u32(crate::startup::SSL_REQUEST_CODE));
}

/// PasswordMessage with a cleartext or md5 password.
pub fn password_message(buf: &mut BytesMut, password: &str) {
    frontend(buf, FrontendTag::Password, |b| cstr(b, password));
}

pub fn sasl_initial_response(buf: &mut BytesMut, mechanism: &str, data: &[u8]) {
    frontend(buf, FrontendTag::Password, |b| {
        cstr(b, mechanism);
        b.put_i32(i32::try_from(data.len()).expect("SCRAM messages are small"));
        b.put_slice(data);
    });
}

pub fn sasl_response(buf: &mut BytesMut, data: &[u8]) {
    frontend(buf, FrontendTag::Password, |b| b.put_slice(data));
}

/// Parse with `definition` = query, NUL, parameter count and types, exactly as a client sent it.
pub fn parse(buf: &mut BytesMut, name: &str, definition: &[u8]) {
    frontend(buf, FrontendTag::Parse, |b| {
        cstr(b, name);
        b.put_slice(definition);
    });
}

/// Bind with `rest` = everything after the statement name, as the client sent it.
pub fn bind(buf: &mut BytesMut, portal: &str, statement: &str, rest: &[u8]) {
    frontend(buf, FrontendTag::Bind, |b| {
        cstr(b, portal);
        cstr(b, statement);
        b.put_slice(rest);
    });
}

pub fn describe(buf: &mut BytesMut, target: crate::frontend::Target, name: &str) {
    frontend(buf, FrontendTag::Describe, |b| {
        describe_or_close_body(b, target, name)
    });
}

pub fn close(buf: &mut BytesMut, target: crate::frontend::Target, name: &str) {
    frontend(buf, FrontendTag::Close, |b| {
        describe_or_close_body(b, target, name)
    });
}

fn describe_or_close_body(b: &mut BytesMut, target: crate::frontend::Target, name: &str) {
    b.put_u8(match target {
        crate::frontend::Target::Statement => b'S',
        crate::frontend::Target::Portal => b'P',
    });
    cstr(b, name);
}

/// ParseComplete, as Sluice answers for a statement the server already has.
pub fn parse_complete(buf: &mut BytesMut) {
    backend(buf, BackendTag::ParseComplete, |_| {});
}

/// CloseComplete, as Sluice answers for a Close it handles itself.
pub fn close_complete(buf: &mut BytesMut) {
    backend(buf, BackendTag::CloseComplete, |_| {});
}

pub fn query(buf: &mut BytesMut, sql: &str) {
    frontend(buf, FrontendTag::Query, |b| cstr(b, sql));
}

pub fn sync(buf: &mut BytesMut) {
    frontend(buf, FrontendTag::Sync, |_| {});
}

pub fn terminate(buf: &mut BytesMut) {
    frontend(buf, FrontendTag::Terminate, |_| {});
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Frames;

    #[test]
    fn result_set_messages_frame_correctly() {
        let mut buf = BytesMut::new();
        row_description(&mut buf, &[("database", TEXT_OID), ("cl_active", INT8_OID)]);
        data_row(&mut buf, &[Some("app"), None]);
        command_complete(&mut buf, "SHOW");
        let msgs: Vec<_> = Frames::new(&buf, 1 << 20).map(|m| m.unwrap()).collect();
        let tags: Vec<u8> = msgs.iter().map(|m| m.tag).collect();
        assert_eq!(tags, b"TDC");
        assert_eq!(msgs[1].body, b"\x00\x02\x00\x00\x00\x03app\xff\xff\xff\xff");
        assert_eq!(msgs[2].body, b"SHOW\0");
        let desc = &msgs[0].body;
        assert_eq!(&desc[..2], &[0, 2]);
        assert!(desc.windows(9).any(|w| w == b"database\0"));
    }
}
