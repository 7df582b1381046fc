//! Refresh over the WebSocket: one token request however many callers refresh one handle at
//! once, limits per session and per address with one refresh in flight per session, a slow
//! provider that cannot starve other work, and handles across a seal key rotation and past
//! their maximum age.

mod handles;
mod limits;
mod single_flight;

use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{SEAL_KEY, TestApp, WsClient, settings_with};
use oauth_broker::clock::Clock;
use oauth_broker::sealing::RefreshSealer;
use oauth_broker::secrets::RefreshToken;
use oauth_broker::settings::Settings;
use secrecy::SecretString;
use serde_json::{Value, json};

/// Settings over the mock with the tests' seal key, so a test can seal handles of its own.
pub(super) fn sealed_settings(mock: &MockProvider) -> Settings {
    let mut settings = settings_with(mock);
    settings.secrets.seal_key = Some(SecretString::from(SEAL_KEY));
    settings
}

/// A handle for `provider` as the app (sealing under `SEAL_KEY`) would have made at sign-in.
pub(super) fn handle_for(app: &TestApp, provider: &str, refresh_token: &str) -> String {
    RefreshSealer::from_base64(SEAL_KEY)
        .expect("the tests' key")
        .seal(
            provider,
            &RefreshToken::new(refresh_token),
            app.clock.now_secs(),
        )
        .expose()
        .to_owned()
}

pub(super) async fn refresh(ws: &mut WsClient, handle: &str) -> Value {
    ws.send_json(&json!({"type": "refresh", "refresh": handle}))
        .await;
    ws.recv().await
}

/// Every answer is the same `signedin`: one access token, one new handle.
pub(crate) fn assert_one_answer(answers: &[Value], handle: &str) {
    let first = &answers[0];
    assert_eq!(first["type"], "signedin", "{first}");
    assert_ne!(first["refresh"], handle, "a new handle");
    for answer in answers {
        assert_eq!(answer["type"], "signedin", "{answer}");
        assert_eq!(answer["access_token"], first["access_token"]);
        assert_eq!(answer["refresh"], first["refresh"], "the same new handle");
    }
}
