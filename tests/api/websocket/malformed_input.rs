//! Malformed input: each bad frame gets `invalid_message` (or the error it names) and the
//! connection stays open.

use super::assert_still_usable;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, settings_with};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[actix_web::test]
async fn each_malformed_frame_gets_invalid_message_and_the_connection_stays_open() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let bad_frames = [
        "not json",
        "",
        "[1, 2, 3]",
        r#"{"provider": "mock"}"#,
        r#"{"type": "launch"}"#,
        r#"{"type": 1}"#,
        r#"{"type": "begin", "provider": 7}"#,
        r#"{"type": "confirm", "code": 1234}"#,
        r#"{"type": "confirm"}"#,
        r#"{"type": "refresh", "refresh": ["v1"]}"#,
        "\"begin\"",
        "null",
    ];
    for bad in bad_frames {
        ws.send_text(bad).await;
        let error = ws.expect("error").await;
        assert_eq!(error["code"], "invalid_message", "for {bad:?}: {error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "for {bad:?} the error says why: {error}"
        );
    }
    ws.send_raw(Message::binary(br#"{"type":"begin"}"#.to_vec()))
        .await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "invalid_message", "binary frame: {error}");
    assert!(!error["message"].as_str().unwrap_or_default().is_empty());

    assert_still_usable(&mut ws).await;
}

#[actix_web::test]
async fn begin_with_an_unknown_provider_is_unknown_provider() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_json(&json!({"type": "begin", "provider": "myspace"}))
        .await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "unknown_provider", "{error}");
    assert!(!error["message"].as_str().unwrap_or_default().is_empty());
    assert_still_usable(&mut ws).await;
}

#[actix_web::test]
async fn confirm_with_nothing_held_is_expired() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_json(&json!({"type": "confirm", "code": "ABCD2345"}))
        .await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "expired", "{error}");
    assert_still_usable(&mut ws).await;
}
