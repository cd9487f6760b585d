//! The `tls-server-end-point` channel-binding data (RFC 5929 §4.1): a hash of the server's
//! DER certificate, with the certificate's own signature hash, except that MD5 and SHA-1 are
//! replaced by SHA-256. PostgreSQL computes the same on its side.

use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_parser::oid_registry as oid;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The binding data for `der`, or `None` when its signature algorithm names no hash that
/// RFC 5929 covers (Ed25519, RSA-PSS): then SCRAM-SHA-256-PLUS is not offered, as in
/// PostgreSQL.
pub fn tls_server_end_point(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let alg = &cert.signature_algorithm.algorithm;
    let sha256 = [
        oid::OID_PKCS1_MD5WITHRSAENC,
        oid::OID_PKCS1_SHA1WITHRSA,
        oid::OID_PKCS1_SHA256WITHRSA,
        oid::OID_SIG_ECDSA_WITH_SHA256,
    ];
    let sha384 = [oid::OID_PKCS1_SHA384WITHRSA, oid::OID_SIG_ECDSA_WITH_SHA384];
    let sha512 = [oid::OID_PKCS1_SHA512WITHRSA, oid::OID_SIG_ECDSA_WITH_SHA512];
    if sha256.contains(alg) {
        Some(Sha256::digest(der).to_vec())
    } else if sha384.contains(alg) {
        Some(Sha384::digest(der).to_vec())
    } else if sha512.contains(alg) {
        Some(Sha512::digest(der).to_vec())
    } else {
        None
    }
}
