//! The `/ws` query (`?resume=SECRET`), the `Origin` header and typed confirmation codes: the
//! small parsers of what reaches a WebSocket upgrade and its `confirm` frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_broker::routes::ws::{normalise_origin, resume_param};
use oauth_broker::store::normalise_code;

fuzz_target!(|text: &str| {
    if let Ok(Some(secret)) = resume_param(text) {
        assert!(!secret.is_empty() && secret.len() <= 64);
        assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
    let _ = normalise_origin(text);
    let code = normalise_code(text);
    assert!(code.chars().count() <= 64);
    assert!(!code.contains('-'));
});
