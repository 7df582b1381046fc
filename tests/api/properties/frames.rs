//! WebSocket frames, pure: `ClientMessage::parse` on any text.

use super::PURE_CASES;
use super::strategies::{any_frame, json_value};
use oauth_broker::secrets::{ConfirmationCode, RefreshHandle};
use oauth_broker::ws::protocol::ClientMessage;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::json;

proptest! {
    #![proptest_config(Config::with_cases(PURE_CASES))]

    /// Any text frame is understood or refused with a reason; parsing never panics.
    #[test]
    fn any_frame_parses_or_is_refused_with_a_reason(text in any_frame()) {
        if let Err(why) = ClientMessage::parse(&text) {
            prop_assert!(!why.0.is_empty());
        }
    }

    /// Every well-formed frame of the protocol parses to what it says, whatever its strings.
    #[test]
    fn well_formed_frames_parse_to_what_they_say(
        provider in prop::option::of(any::<String>()),
        secret in any::<String>(),
        kind in 0..3u8,
    ) {
        let (frame, expected) = match kind {
            0 => (
                match &provider {
                    Some(p) => json!({"type": "begin", "provider": p}),
                    None => json!({"type": "begin"}),
                },
                ClientMessage::Begin { provider: provider.clone() },
            ),
            1 => (
                json!({"type": "confirm", "code": secret}),
                ClientMessage::Confirm { code: ConfirmationCode::new(secret.as_str()) },
            ),
            _ => (
                json!({"type": "refresh", "refresh": secret}),
                ClientMessage::Refresh { refresh: RefreshHandle::new(secret.as_str()) },
            ),
        };
        prop_assert_eq!(ClientMessage::parse(&frame.to_string()), Ok(expected));
    }

    /// A frame whose `type` is not one the extension may send is refused, whatever else it has.
    #[test]
    fn frames_of_another_type_are_refused(kind in any::<String>(), extra in json_value()) {
        prop_assume!(!matches!(kind.as_str(), "begin" | "confirm" | "refresh" | "ack"));
        let frame = json!({"type": kind, "provider": "mock", "code": "X", "refresh": "v1.", "extra": extra});
        prop_assert!(ClientMessage::parse(&frame.to_string()).is_err());
    }
}
