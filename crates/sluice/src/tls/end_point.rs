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

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_der(alg: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
        let key = rcgen::KeyPair::generate_for(alg).expect("rcgen supports the algorithm");
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("a valid name");
        params
            .self_signed(&key)
            .expect("self-signing works")
            .der()
            .to_vec()
    }

    #[test]
    fn hash_follows_the_signature_algorithm() {
        let p256 = cert_der(&rcgen::PKCS_ECDSA_P256_SHA256);
        assert_eq!(
            tls_server_end_point(&p256),
            Some(Sha256::digest(&p256).to_vec())
        );
        let p384 = cert_der(&rcgen::PKCS_ECDSA_P384_SHA384);
        assert_eq!(
            tls_server_end_point(&p384),
            Some(Sha384::digest(&p384).to_vec())
        );
    }

    #[test]
    fn no_binding_for_signatures_without_a_hash() {
        // Ed25519 signs the message itself: RFC 5929 defines no hash, PostgreSQL offers no PLUS.
        assert_eq!(tls_server_end_point(&cert_der(&rcgen::PKCS_ED25519)), None);
        assert_eq!(tls_server_end_point(b"not a certificate"), None);
    }
}
