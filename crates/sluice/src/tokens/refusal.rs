//! Why a token was refused. The text goes to the client and the log: it names the check that
//! failed, never the token.

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("the password is not a token, and token_auth is \"required\" for this user")]
    NotAToken,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token has no issuer (iss)")]
    NoIssuer,
    #[error("the token's issuer {0:?} is not trusted")]
    UnknownIssuer(String),
    #[error("no key of the issuer matches the token (unknown kid or algorithm)")]
    NoMatchingKey,
    #[error("the issuer's keys are not loaded yet (JWKS unavailable)")]
    KeysUnavailable,
    #[error("the token's algorithm is not accepted (RS256, ES256 and EdDSA are)")]
    Algorithm,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token's issuer does not match")]
    WrongIssuer,
    #[error("the token lacks the required claim {0:?}")]
    MissingClaim(String),
    #[error("the token's {claim} may not log in as this user")]
    WrongUser { claim: String },
}

impl TokenRefusal {
    /// The refusal for a jsonwebtoken validation error.
    pub(crate) fn from_jwt(e: &jsonwebtoken::errors::Error) -> TokenRefusal {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => TokenRefusal::BadSignature,
            ErrorKind::ExpiredSignature => TokenRefusal::Expired,
            ErrorKind::ImmatureSignature => TokenRefusal::NotYetValid,
            ErrorKind::InvalidAudience => TokenRefusal::WrongAudience,
            ErrorKind::InvalidIssuer => TokenRefusal::WrongIssuer,
            ErrorKind::MissingRequiredClaim(claim) => TokenRefusal::MissingClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => TokenRefusal::Algorithm,
            _ => TokenRefusal::Malformed,
        }
    }
}
