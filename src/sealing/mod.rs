//! Authenticated encryption, in one place: XChaCha20-Poly1305 with a fresh random 24-byte nonce
//! per box (large enough that random nonces never collide in practice) and associated data
//! that says what the box is for, so a box of one kind never opens as another.
//!
//! Three users: refresh handles ([`refresh`]), the Redis store's records, and the demo
//! provider's stateless codes and tokens. Keyed digests ([`DigestKey`], HMAC-SHA256 under a key
//! derived from the seal key for one purpose) stand in for values that must be found again but
//! not read back: the Redis keys of tickets, states and resume secrets, confirmation codes, and
//! rate-limit subjects (client addresses).

pub mod key_file;
pub mod refresh;

pub use refresh::{RefreshSealer, SealError, SealedRefresh, key_from_base64};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// A 32-byte key and the cipher built from it, with any older keys (`secrets.previous_seal_keys`)
/// that still open what they sealed: boxes are sealed under the current key only, so a key
/// rotation signs nobody out and the old keys fall out of use as boxes are sealed afresh.
#[derive(Clone)]
pub struct SealingKey {
    cipher: XChaCha20Poly1305,
    previous: Vec<XChaCha20Poly1305>,
    /// The key's own HMAC, from which purpose keys are derived (never used to sign directly).
    derivation: Hmac<Sha256>,
}

/// A key for keyed digests, for one purpose.
#[derive(Clone)]
pub struct DigestKey {
    mac: Hmac<Sha256>,
}

impl DigestKey {
    /// Lowercase hex of the first `bytes` (at most 32) of HMAC-SHA256 over `parts`, each
    /// length-prefixed so that no two different lists of parts digest alike.
    pub fn hex(&self, parts: &[&[u8]], bytes: usize) -> String {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize()
            .into_bytes()
            .iter()
            .take(bytes)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A box that was not sealed under this key for this purpose, or was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unopenable;

impl SealingKey {
    pub fn from_bytes(key: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&(*key).into()),
            previous: Vec::new(),
            derivation: <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
                .expect("HMAC takes a key of any length"),
        }
    }

    /// A digest key for `purpose` (HMAC-SHA256 of the purpose under this key, as HKDF's
    /// expand step with one block), so a digest made for one purpose says nothing of another.
    pub fn digest_key(&self, purpose: &str) -> DigestKey {
        let mut derive = self.derivation.clone();
        derive.update(purpose.as_bytes());
        let key = derive.finalize().into_bytes();
        DigestKey {
            mac: <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&key)
                .expect("HMAC takes a key of any length"),
        }
    }

    /// This key for sealing, and these older ones too for opening.
    pub fn with_previous(mut self, previous: &[[u8; 32]]) -> Self {
        self.previous = previous
            .iter()
            .map(|key| XChaCha20Poly1305::new(&(*key).into()))
            .collect();
        self
    }

    /// `nonce || ciphertext || tag`, bound to `purpose`.
    pub fn seal(&self, purpose: &[u8], plain: &[u8]) -> Vec<u8> {
        let nonce = crate::random::bytes::<NONCE_LEN>();
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: purpose,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a small buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, purpose: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Unopenable> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(Unopenable);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Unopenable)?;
        std::iter::once(&self.cipher)
            .chain(&self.previous)
            .find_map(|cipher| {
                cipher
                    .decrypt(
                        &XNonce::from(nonce),
                        Payload {
                            msg: body,
                            aad: purpose,
                        },
                    )
                    .ok()
            })
            .ok_or(Unopenable)
    }

    /// [`SealingKey::seal`] as URL-safe text, for values that travel in URLs, forms and JSON.
    pub fn seal_text(&self, purpose: &[u8], plain: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.seal(purpose, plain))
    }

    /// Opens what [`SealingKey::seal_text`] made; text longer than `max_len` is refused before
    /// any base64 or cryptographic work.
    pub fn open_text(
        &self,
        purpose: &[u8],
        text: &str,
        max_len: usize,
    ) -> Result<Vec<u8>, Unopenable> {
        if text.len() > max_len {
            return Err(Unopenable);
        }
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| Unopenable)?;
        self.open(purpose, &raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_opens_with_its_key_and_purpose_only() {
        let key = SealingKey::from_bytes(&[7u8; 32]);
        let sealed = key.seal(b"a", b"plain");
        assert_eq!(key.open(b"a", &sealed), Ok(b"plain".to_vec()));
        assert_eq!(key.open(b"b", &sealed), Err(Unopenable));
        let other = SealingKey::from_bytes(&[8u8; 32]);
        assert_eq!(other.open(b"a", &sealed), Err(Unopenable));
    }

    #[test]
    fn digests_depend_on_key_purpose_and_every_part() {
        let key = SealingKey::from_bytes(&[7u8; 32]);
        let a = key.digest_key("a");
        assert_eq!(a.hex(&[b"x", b"y"], 20), a.hex(&[b"x", b"y"], 20));
        assert_eq!(a.hex(&[b"x"], 20).len(), 40);
        assert_ne!(a.hex(&[b"x", b"y"], 20), a.hex(&[b"xy"], 20));
        assert_ne!(a.hex(&[b"x"], 20), key.digest_key("b").hex(&[b"x"], 20));
        let other = SealingKey::from_bytes(&[8u8; 32]).digest_key("a");
        assert_ne!(a.hex(&[b"x"], 20), other.hex(&[b"x"], 20));
    }

    #[test]
    fn hmac_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn previous_keys_open_and_only_the_current_one_seals() {
        let old = SealingKey::from_bytes(&[1u8; 32]);
        let sealed_before = old.seal(b"p", b"x");
        let rotated = SealingKey::from_bytes(&[2u8; 32]).with_previous(&[[1u8; 32]]);
        assert_eq!(rotated.open(b"p", &sealed_before), Ok(b"x".to_vec()));
        let sealed_after = rotated.seal(b"p", b"y");
        assert_eq!(old.open(b"p", &sealed_after), Err(Unopenable));
        let current_only = SealingKey::from_bytes(&[2u8; 32]);
        assert_eq!(current_only.open(b"p", &sealed_after), Ok(b"y".to_vec()));
        assert_eq!(current_only.open(b"p", &sealed_before), Err(Unopenable));
    }

    #[test]
    fn any_flipped_bit_or_short_box_is_refused() {
        let key = SealingKey::from_bytes(&[1u8; 32]);
        let sealed = key.seal(b"p", b"x");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(key.open(b"p", &bad), Err(Unopenable), "byte {i}");
        }
        assert_eq!(
            key.open(b"p", &sealed[..NONCE_LEN + TAG_LEN - 1]),
            Err(Unopenable)
        );
        let text = key.seal_text(b"p", b"x");
        assert_eq!(key.open_text(b"p", &text, 10), Err(Unopenable));
        assert_eq!(key.open_text(b"p", &text, 4096), Ok(b"x".to_vec()));
        assert_eq!(key.open_text(b"p", "not base64!", 4096), Err(Unopenable));
    }
}
