//! The query string of `/complete/{provider}` (and any strict query): `parse_unique` either
//! returns at most 16 parameters, each key and value within bounds, or refuses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_broker::routes::query::parse_unique;

fuzz_target!(|query: &str| {
    if let Ok(params) = parse_unique(query) {
        assert!(params.len() <= 16);
        for (key, value) in &params {
            assert!(key.len() <= 64);
            assert!(value.len() <= 4096);
        }
    }
});
