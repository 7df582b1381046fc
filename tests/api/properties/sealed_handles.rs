//! Sealed refresh handles, pure: what opens, and every near-miss that must not.

use super::strategies::hostile_text;
use super::{PURE_CASES, SEAL_KEY};
use base64::Engine;
use oauth_broker::sealing::{RefreshSealer, SealError};
use oauth_broker::secrets::RefreshToken;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn sealed_handle() -> impl Strategy<Value = (String, String, u64, String)> {
    ("[a-z]{1,12}", any::<String>(), any::<u64>()).prop_map(|(provider, token, at)| {
        let handle = RefreshSealer::from_key(&SEAL_KEY).seal(
            &provider,
            &RefreshToken::new(token.as_str()),
            at,
        );
        (provider, token, at, handle.expose().to_owned())
    })
}

proptest! {
    #![proptest_config(Config::with_cases(PURE_CASES / 4))]

    /// A handle opens to exactly what was sealed, with the same key.
    #[test]
    fn a_handle_opens_to_what_was_sealed((provider, token, at, handle) in sealed_handle()) {
        let opened = RefreshSealer::from_key(&SEAL_KEY).open(&handle).unwrap();
        prop_assert_eq!(opened.provider, provider);
        prop_assert_eq!(opened.refresh_token.expose(), token.as_str());
        prop_assert_eq!(opened.sealed_at, at);
    }

    /// Any flipped bit of the handle as sent (prefix, nonce, ciphertext, tag) is refused.
    #[test]
    fn a_flipped_bit_is_refused(
        (_, _, _, handle) in sealed_handle(),
        at in any::<prop::sample::Index>(),
        bit in 0..8u8,
    ) {
        let mut bytes = handle.into_bytes();
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
        let forged = String::from_utf8_lossy(&bytes);
        prop_assert_eq!(RefreshSealer::from_key(&SEAL_KEY).open(&forged), Err(SealError::Unreadable));
    }

    /// A truncated or extended handle is refused.
    #[test]
    fn a_truncated_or_extended_handle_is_refused(
        (_, _, _, handle) in sealed_handle(),
        cut in any::<prop::sample::Index>(),
        tail in "[A-Za-z0-9_=.-]{1,40}|\\PC{1,10}",
    ) {
        let sealer = RefreshSealer::from_key(&SEAL_KEY);
        let short = &handle[..cut.index(handle.len())];
        prop_assert_eq!(sealer.open(short), Err(SealError::Unreadable));
        prop_assert_eq!(sealer.open(&format!("{handle}{tail}")), Err(SealError::Unreadable));
    }

    /// A handle sealed under another key is refused.
    #[test]
    fn a_handle_of_another_key_is_refused(
        (_, _, _, handle) in sealed_handle(),
        key in any::<[u8; 32]>(),
    ) {
        prop_assume!(key != SEAL_KEY);
        prop_assert_eq!(RefreshSealer::from_key(&key).open(&handle), Err(SealError::Unreadable));
    }

    /// Text that was never sealed does not open, however it is shaped.
    #[test]
    fn arbitrary_text_is_not_a_handle(
        body in hostile_text(),
        raw in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let sealer = RefreshSealer::from_key(&SEAL_KEY);
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
        for handle in [body.clone(), format!("v1.{body}"), format!("v1.{encoded}")] {
            prop_assert!(sealer.open(&handle).is_err(), "{:?} opened", handle);
        }
    }
}
