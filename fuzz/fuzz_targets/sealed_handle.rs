//! Refresh handles as an extension may send them back: arbitrary text, and a real handle with
//! fuzzer-chosen bytes flipped, cut off or appended. Nothing but the untouched handle opens.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_broker::seal::RefreshSealer;
use oauth_broker::sensitive::Sensitive;
use std::sync::OnceLock;

fn sealer() -> &'static (RefreshSealer, String) {
    static SEALER: OnceLock<(RefreshSealer, String)> = OnceLock::new();
    SEALER.get_or_init(|| {
        let sealer = RefreshSealer::from_key(&[42; 32]);
        let handle = sealer.seal("spotify", &Sensitive::new("refresh-token"), 1_700_000_000);
        (sealer, handle)
    })
}

fuzz_target!(|data: &[u8]| {
    let (sealer, handle) = sealer();
    // Arbitrary text as a handle.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sealer.open(text);
    }
    // A real handle, tampered with: the first byte picks how, the rest says where and what.
    let Some((&how, rest)) = data.split_first() else {
        return;
    };
    let mut forged = handle.as_bytes().to_vec();
    match how % 3 {
        0 => {
            for pair in rest.chunks(2) {
                let at = usize::from(pair[0]) % forged.len();
                forged[at] ^= pair.get(1).copied().unwrap_or(1);
            }
        }
        1 => forged.truncate(rest.len() % forged.len()),
        _ => forged.extend_from_slice(rest),
    }
    let forged = String::from_utf8_lossy(&forged);
    if forged != *handle {
        assert!(sealer.open(&forged).is_err(), "a tampered handle opened");
    }
});
