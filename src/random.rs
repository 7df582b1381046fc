//! The one source of randomness: every identifier an attacker could guess comes from here, as
//! the secret type it is.
//!
//! All values come from the operating system's CSPRNG through `rand::rng()` (ChaCha reseeded
//! from the OS), with alphabets chosen so they are safe in URLs and easy to type where a person
//! has to.

use crate::secrets::{
    ConfirmationCode, Nonce, PkceVerifier, ResumeSecret, SessionId, State, Ticket,
};
use rand::RngExt;
use rand::distr::{Alphanumeric, SampleString};

/// Session IDs: 20 characters of `[A-Za-z0-9]`, about 119 bits, as the contract fixes.
pub fn session_id() -> SessionId {
    SessionId::new(Alphanumeric.sample_string(&mut rand::rng(), 20))
}

/// Tickets, `state` values and resume secrets: 32 alphanumerics, about 190 bits.
pub fn opaque_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// The `id` of a frame routed through the hub: not a secret, only unique per session, and
/// random rather than counted so replicas need not agree on a counter (12 alphanumerics,
/// about 71 bits: no two frames of one session share one in practice).
pub fn frame_id() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 12)
}

/// A replica's identity for this run: 20 alphanumerics, as a session ID, so two replicas
/// never share a delivery channel. Not a secret (it names a channel, and guessing it gains
/// nothing without write access to Redis), so a plain string.
pub fn replica_id() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 20)
}

pub fn resume_secret() -> ResumeSecret {
    ResumeSecret::new(opaque_token())
}

pub fn ticket() -> Ticket {
    Ticket::new(opaque_token())
}

pub fn state() -> State {
    State::new(opaque_token())
}

/// OpenID Connect `nonce`: 32 alphanumerics, like `state`, and as unguessable.
pub fn nonce() -> Nonce {
    Nonce::new(opaque_token())
}

/// PKCE verifier: 64 characters from the unreserved set RFC 7636 §4.1 allows (43 to 128).
pub fn pkce_verifier() -> PkceVerifier {
    PkceVerifier::new(from_alphabet(UNRESERVED, 64))
}

const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// The alphabet of confirmation codes: no 0/O, 1/I/L, so a person reads and types it right.
pub const CONFIRM_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Confirmation code shown on the completion page: 8 characters (about 39 bits); with at most
/// `signin.confirm_attempts` guesses per sign-in a guess succeeds with odds below 1 in 10^10.
pub fn confirm_code() -> ConfirmationCode {
    ConfirmationCode::new(from_alphabet(CONFIRM_ALPHABET, 8))
}

fn from_alphabet(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Random bytes for keys and nonces.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rng().fill(&mut out[..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_have_the_contract_shape() {
        let id = session_id();
        assert_eq!(id.expose().len(), 20);
        assert!(id.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(id, session_id());
    }

    #[test]
    fn verifiers_are_valid_pkce() {
        let v = pkce_verifier();
        assert_eq!(v.expose().len(), 64);
        assert!(
            v.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        );
    }

    #[test]
    fn confirm_codes_use_the_readable_alphabet() {
        let code = confirm_code();
        assert_eq!(code.expose().len(), 8);
        assert!(code.expose().bytes().all(|b| CONFIRM_ALPHABET.contains(&b)));
    }
}
