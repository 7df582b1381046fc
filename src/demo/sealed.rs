//! Sealed, stateless credentials of the demo provider: consent requests, authorization codes,
//! access tokens and refresh tokens are XChaCha20-Poly1305 boxes around a small JSON payload.
//!
//! The key comes from the client secret, so every broker replica with the same
//! `providers.<name>` configuration opens what any other replica issued, with nothing shared
//! but configuration. The kind is the associated data: a refresh token never opens as an
//! access token, a consent blob never as a code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Domain separation for the key: the same client secret used elsewhere yields another key.
const KEY_LABEL: &[u8] = b"oauth-broker demo provider v1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Our blobs are a few hundred characters; anything far longer is not ours, and is refused
/// before any base64 or cryptographic work.
const MAX_SEALED_LEN: usize = 4096;

/// What a sealed value is for; bound into the ciphertext as associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Consent,
    Code,
    Access,
    Refresh,
}

impl Kind {
    fn associated_data(self) -> &'static [u8] {
        match self {
            Kind::Consent => b"consent",
            Kind::Code => b"code",
            Kind::Access => b"access",
            Kind::Refresh => b"refresh",
        }
    }
}

pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    pub fn from_client_secret(client_secret: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(KEY_LABEL);
        hasher.update(client_secret.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// `base64url(nonce || ciphertext)`, with a fresh random 24-byte nonce (large enough that
    /// random nonces never collide in practice).
    pub fn seal<T: Serialize>(&self, kind: Kind, payload: &T) -> String {
        let plain = serde_json::to_vec(payload).expect("demo payloads serialise");
        let nonce_bytes = crate::random::bytes::<NONCE_LEN>();
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce_bytes),
                Payload {
                    msg: &plain,
                    aad: kind.associated_data(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a small buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The payload, if `text` was sealed by this key for this kind and is intact. Expiry is the
    /// caller's check, so it can tell "expired" from "forged" where the answer differs.
    pub fn open<T: DeserializeOwned>(&self, kind: Kind, text: &str) -> Option<T> {
        if text.len() > MAX_SEALED_LEN {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce_bytes, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce_bytes.try_into().ok()?;
        let plain = self
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: kind.associated_data(),
                },
            )
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Sample {
        v: String,
    }

    fn sample() -> Sample {
        Sample { v: "x".into() }
    }

    #[test]
    fn opens_with_the_same_secret_and_kind_only() {
        let a = Sealer::from_client_secret("s3cret");
        let sealed = a.seal(Kind::Access, &sample());
        let b = Sealer::from_client_secret("s3cret");
        assert_eq!(b.open::<Sample>(Kind::Access, &sealed), Some(sample()));
        assert_eq!(b.open::<Sample>(Kind::Refresh, &sealed), None);
        let other = Sealer::from_client_secret("other");
        assert_eq!(other.open::<Sample>(Kind::Access, &sealed), None);
    }

    #[test]
    fn any_flipped_bit_is_refused() {
        let sealer = Sealer::from_client_secret("s");
        let raw = URL_SAFE_NO_PAD
            .decode(sealer.seal(Kind::Code, &sample()))
            .unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x80;
            let forged = URL_SAFE_NO_PAD.encode(&bad);
            assert_eq!(sealer.open::<Sample>(Kind::Code, &forged), None, "byte {i}");
        }
        assert_eq!(sealer.open::<Sample>(Kind::Code, ""), None);
        assert_eq!(sealer.open::<Sample>(Kind::Code, "not base64!"), None);
    }
}
