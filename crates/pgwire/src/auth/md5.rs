//! PostgreSQL's legacy `md5` password authentication.

use ::md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// `"md5" + hex(md5(hex(md5(password + user)) + salt))` — what PasswordMessage carries for
/// AuthenticationMD5Password.
pub fn md5_password_message(user: &str, password: &str, salt: [u8; 4]) -> String {
    // The inner digest is what pg_authid stores for md5 roles; hashing it again with the
    // per-connection salt is what keeps the wire value from being replayable.
    let inner = hex(&md5_of(&[password.as_bytes(), user.as_bytes()]));
    format!("md5{}", hex(&md5_of(&[inner.as_bytes(), &salt])))
}

/// Server side: verify a client's md5 response against the plaintext password, constant time.
///
/// `response` may include the C-string terminator of the PasswordMessage body or not.
pub fn md5_verify(user: &str, password: &str, salt: [u8; 4], response: &[u8]) -> bool {
    let response = response.strip_suffix(&[0]).unwrap_or(response);
    let expected = md5_password_message(user, password, salt);
    expected.as_bytes().ct_eq(response).into()
}

fn md5_of(parts: &[&[u8]]) -> [u8; 16] {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed with Python: "md5" + md5(md5(b"postgres"+b"postgres").hexdigest().encode()
    //                                  + bytes([1,2,3,4])).hexdigest()
    const POSTGRES_VECTOR: &str = "md568be9ed08db75f318087ab337aaea044";

    #[test]
    fn known_vector() {
        assert_eq!(
            md5_password_message("postgres", "postgres", [1, 2, 3, 4]),
            POSTGRES_VECTOR
        );
    }

    #[test]
    fn verify_accepts_right_response_with_or_without_nul() {
        let salt = [1, 2, 3, 4];
        assert!(md5_verify(
            "postgres",
            "postgres",
            salt,
            POSTGRES_VECTOR.as_bytes()
        ));
        let with_nul = format!("{POSTGRES_VECTOR}\0");
        assert!(md5_verify(
            "postgres",
            "postgres",
            salt,
            with_nul.as_bytes()
        ));
    }

    #[test]
    fn verify_rejects_wrong_inputs() {
        let salt = [1, 2, 3, 4];
        let good = POSTGRES_VECTOR.as_bytes();
        assert!(!md5_verify("postgres", "wrong", salt, good));
        assert!(!md5_verify("other", "postgres", salt, good));
        assert!(!md5_verify("postgres", "postgres", [4, 3, 2, 1], good));
        assert!(!md5_verify("postgres", "postgres", salt, b""));
        assert!(!md5_verify(
            "postgres",
            "postgres",
            salt,
            &good[..good.len() - 1]
        ));
        assert!(!md5_verify("postgres", "postgres", salt, b"postgres"));
    }

    #[test]
    fn hex_encodes_lowercase() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
    }
}
