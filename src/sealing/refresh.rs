//! Sealed refresh handles: the broker keeps no refresh token. The extension holds the refresh
//! token sealed (XChaCha20-Poly1305, authenticated) under `secrets.seal_key`, bound to the
//! provider's name and the time it was sealed, so any replica with the same key can open it and
//! nobody without the key can read or alter it.

use super::SealingKey;
use crate::secrets::{RefreshHandle, RefreshToken};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

/// Associated data: a handle sealed for another purpose or version never opens as this one.
const CONTEXT: &[u8] = b"oauth-broker sealed refresh v1";
const PREFIX: &str = "v1.";
/// Handles are a few hundred bytes; anything far larger is not ours.
const MAX_HANDLE_LEN: usize = 4096;

#[derive(Clone)]
pub struct RefreshSealer {
    key: SealingKey,
}

/// What a handle holds once opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRefresh {
    pub provider: String,
    pub refresh_token: RefreshToken,
    /// Unix seconds when it was sealed.
    pub sealed_at: u64,
    /// Unix seconds of the sign-in whose grant this is: a refresh seals a new handle but keeps
    /// this, so `signin.refresh_handle_max_age_secs` counts from the sign-in, as providers'
    /// own refresh token lifetimes do (Spotify's: six months from the first authorization).
    pub signed_in_at: u64,
}

#[derive(Serialize, Deserialize)]
struct Plain {
    p: String,
    t: RefreshToken,
    s: u64,
    /// Absent in handles sealed before it existed: those count from `s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error(
        "secrets.seal_key must be 32 bytes in base64 (for example from `openssl rand -base64 32`)"
    )]
    BadKey,
    #[error("the refresh handle is not one this broker sealed")]
    Unreadable,
}

impl RefreshSealer {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self {
            key: SealingKey::from_bytes(key),
        }
    }

    /// The same key, for the store's sealed records.
    pub fn key(&self) -> &SealingKey {
        &self.key
    }

    /// Parses a base64 key (standard or URL-safe alphabet) of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        Ok(Self::from_key(&key_from_base64(text)?))
    }

    /// The same sealer, also opening what these older keys sealed.
    pub fn with_previous(self, previous: &[[u8; 32]]) -> Self {
        Self {
            key: self.key.with_previous(previous),
        }
    }

    pub fn random() -> Self {
        Self::from_key(&crate::random::bytes::<32>())
    }

    /// A handle for a grant from a sign-in just now.
    pub fn seal(
        &self,
        provider: &str,
        refresh_token: &RefreshToken,
        now_secs: u64,
    ) -> RefreshHandle {
        self.seal_renewed(provider, refresh_token, now_secs, now_secs)
    }

    /// A handle for a grant renewed now, from the sign-in at `signed_in_at`.
    pub fn seal_renewed(
        &self,
        provider: &str,
        refresh_token: &RefreshToken,
        now_secs: u64,
        signed_in_at: u64,
    ) -> RefreshHandle {
        let plain = serde_json::to_vec(&Plain {
            p: provider.to_owned(),
            t: refresh_token.clone(),
            s: now_secs,
            a: Some(signed_in_at),
        })
        .expect("plain struct serialises");
        RefreshHandle::new(format!("{PREFIX}{}", self.key.seal_text(CONTEXT, &plain)))
    }

    pub fn open(&self, handle: &str) -> Result<SealedRefresh, SealError> {
        if handle.len() > MAX_HANDLE_LEN {
            return Err(SealError::Unreadable);
        }
        let body = handle.strip_prefix(PREFIX).ok_or(SealError::Unreadable)?;
        let plain = self
            .key
            .open_text(CONTEXT, body, MAX_HANDLE_LEN)
            .map_err(|_| SealError::Unreadable)?;
        let plain: Plain = serde_json::from_slice(&plain).map_err(|_| SealError::Unreadable)?;
        Ok(SealedRefresh {
            provider: plain.p,
            refresh_token: plain.t,
            sealed_at: plain.s,
            signed_in_at: plain.a.unwrap_or(plain.s),
        })
    }
}

/// A `secrets.seal_key` or `secrets.previous_seal_keys` entry: 32 bytes of base64 (standard or
/// URL-safe alphabet).
pub fn key_from_base64(text: &str) -> Result<[u8; 32], SealError> {
    let text = text.trim();
    let bytes = STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
        .map_err(|_| SealError::BadKey)?;
    bytes.try_into().map_err(|_| SealError::BadKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_handle_opens_with_the_same_key_only() {
        let key = [7u8; 32];
        let a = RefreshSealer::from_key(&key);
        let b = RefreshSealer::from_key(&key);
        let handle = a.seal("spotify", &RefreshToken::new("rt-123"), 1_700_000_000);
        let handle = handle.expose();
        let opened = b.open(handle).unwrap();
        assert_eq!(opened.provider, "spotify");
        assert_eq!(opened.refresh_token.expose(), "rt-123");
        assert_eq!(opened.sealed_at, 1_700_000_000);
        assert!(!handle.contains("rt-123"));
        let other = RefreshSealer::from_key(&[8u8; 32]);
        assert_eq!(other.open(handle), Err(SealError::Unreadable));
    }

    #[test]
    fn a_renewed_handle_keeps_the_sign_in_time_and_old_keys_still_open() {
        let old = RefreshSealer::from_key(&[1u8; 32]);
        let before = old.seal("demo", &RefreshToken::new("rt"), 100);
        let rotated = RefreshSealer::from_key(&[2u8; 32]).with_previous(&[[1u8; 32]]);
        let opened = rotated.open(before.expose()).unwrap();
        assert_eq!((opened.sealed_at, opened.signed_in_at), (100, 100));
        let renewed = rotated.seal_renewed("demo", &RefreshToken::new("rt2"), 500, 100);
        assert!(
            old.open(renewed.expose()).is_err(),
            "sealed under the new key"
        );
        let opened = rotated.open(renewed.expose()).unwrap();
        assert_eq!((opened.sealed_at, opened.signed_in_at), (500, 100));
    }

    #[test]
    fn any_flipped_bit_or_truncation_is_refused() {
        let sealer = RefreshSealer::random();
        let handle = sealer.seal("demo", &RefreshToken::new("rt"), 1);
        let handle = handle.expose();
        let body = URL_SAFE_NO_PAD.decode(&handle[3..]).unwrap();
        for i in 0..body.len() {
            let mut bad = body.clone();
            bad[i] ^= 0x01;
            let forged = format!("v1.{}", URL_SAFE_NO_PAD.encode(&bad));
            assert_eq!(sealer.open(&forged), Err(SealError::Unreadable), "bit {i}");
        }
        assert!(sealer.open(&handle[..handle.len() - 1]).is_err());
        assert!(sealer.open(&format!("{handle}AA")).is_err());
        assert!(sealer.open("").is_err());
        assert!(sealer.open("v1.").is_err());
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(RefreshSealer::from_base64(&STANDARD.encode([1u8; 32])).is_ok());
        assert!(RefreshSealer::from_base64(&URL_SAFE_NO_PAD.encode([1u8; 32])).is_ok());
        assert_eq!(
            RefreshSealer::from_base64(&STANDARD.encode([1u8; 16])).err(),
            Some(SealError::BadKey)
        );
        assert!(RefreshSealer::from_base64("not base64!").is_err());
    }
}
