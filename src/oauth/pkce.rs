//! PKCE (RFC 7636) with the S256 method only, as RFC 9700 §2.1.1 asks: the broker's side
//! (a fresh verifier and its challenge) and the check a provider makes (the demo provider's).

use crate::secrets::PkceVerifier;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh verifier and its S256 challenge, made together so the challenge always matches.
pub fn new_random_s256() -> (String, PkceVerifier) {
    let verifier = crate::random::pkce_verifier();
    (s256_challenge(verifier.expose()), verifier)
}

/// `BASE64URL(SHA256(verifier))`, RFC 7636 §4.2.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// 43 to 128 characters of the unreserved set, RFC 7636 §4.1.
pub fn verifier_is_well_formed(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The token endpoint's check (RFC 7636 §4.6), in constant time.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let computed = s256_challenge(verifier);
    verifier_is_well_formed(verifier) && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_7636_appendix_b_example() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(verifier_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn a_fresh_pair_matches_and_short_verifiers_do_not() {
        let (challenge, verifier) = new_random_s256();
        assert!(verifier_matches(verifier.expose(), &challenge));
        assert!(!verifier_matches("short", &s256_challenge("short")));
    }
}
