//! What can be read from a token before its signature is checked: its shape, and its issuer,
//! which says which keys to check it with. Nothing read here is trusted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Whether a password field holds a JWT (three base64url parts whose header names an `alg`)
/// rather than a password.
pub(crate) fn looks_like_token(text: &str) -> bool {
    let mut parts = text.split('.');
    let (Some(_), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    jsonwebtoken::decode_header(text).is_ok()
}

/// The `iss` claim, unverified; `None` when the payload is not JSON or has no string `iss`.
pub(crate) fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.\
                         eyJpc3MiOiJzbHVpY2UiLCJzdWIiOiJhcHAifQ.c2ln";

    #[test]
    fn tells_tokens_from_passwords() {
        assert!(looks_like_token(TOKEN));
        assert!(!looks_like_token("app-secret-pw"));
        assert!(!looks_like_token("a.b.c"));
        assert!(!looks_like_token(&format!("{TOKEN}.more")));
    }

    #[test]
    fn reads_the_issuer_without_trusting_it() {
        assert_eq!(unverified_issuer(TOKEN).as_deref(), Some("sluice"));
        assert_eq!(unverified_issuer("x.bm90IGpzb24.y"), None);
    }
}
