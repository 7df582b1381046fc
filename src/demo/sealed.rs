//! Sealed, stateless credentials of the demo provider: consent requests, authorization codes,
//! access tokens and refresh tokens are XChaCha20-Poly1305 boxes around a small JSON payload.
//!
//! The key comes from the client secret, so every broker replica with the same
//! `providers.<name>` configuration opens what any other replica issued, with nothing shared
//! but configuration. The kind is the associated data: a refresh token never opens as an
//! access token, a consent blob never as a code.

use crate::sealing::SealingKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Domain separation for the key: the same client secret used elsewhere yields another key.
const KEY_LABEL: &[u8] = b"oauth-broker demo provider v1";
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
    key: SealingKey,
}

impl Sealer {
    pub fn from_client_secret(client_secret: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(KEY_LABEL);
        hasher.update(client_secret.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        Self {
            key: SealingKey::from_bytes(&key),
        }
    }

    /// `base64url(nonce || ciphertext)` of the payload's JSON.
    pub fn seal<T: Serialize>(&self, kind: Kind, payload: &T) -> String {
        let plain = serde_json::to_vec(payload).expect("demo payloads serialise");
        self.key.seal_text(kind.associated_data(), &plain)
    }

    /// The payload, if `text` was sealed by this key for this kind and is intact. Expiry is the
    /// caller's check, so it can tell "expired" from "forged" where the answer differs.
    pub fn open<T: DeserializeOwned>(&self, kind: Kind, text: &str) -> Option<T> {
        let plain = self
            .key
            .open_text(kind.associated_data(), text, MAX_SEALED_LEN)
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
