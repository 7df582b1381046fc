//! Any text frame from an extension: `ClientMessage::parse` answers or refuses, never panics,
//! and a refusal always carries a reason to send back in the `invalid_message` error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_broker::ws::protocol::ClientMessage;

fuzz_target!(|text: &str| {
    if let Err(why) = ClientMessage::parse(text) {
        assert!(!why.0.is_empty());
    }
});
