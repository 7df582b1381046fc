//! Frame size and fragments: `sessions.max_message_bytes` closes with 1009 above the limit and
//! answers `invalid_message` below it; fragments are reassembled and count towards the limit.

use super::{assert_still_usable, wait_for_open_sessions};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::ws_client::{Closed, text_piece};
use crate::helpers::{TestApp, settings_with};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[actix_web::test]
async fn a_frame_over_max_message_bytes_closes_with_1009() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_text(&"x".repeat(9000)).await;
    match ws.closed().await {
        Closed::Frame(Some(frame)) => assert_eq!(frame.code, CloseCode::Size, "{frame:?}"),
        other => panic!("expected a close frame with 1009, got {other:?}"),
    }
}

#[actix_web::test]
async fn a_frame_one_byte_over_the_limit_closes_and_one_at_the_limit_does_not() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_text(&"y".repeat(8192)).await;
    assert_eq!(ws.expect("error").await["code"], "invalid_message");
    ws.send_text(&"y".repeat(8193)).await;
    match ws.closed().await {
        Closed::Frame(Some(frame)) => assert_eq!(frame.code, CloseCode::Size, "{frame:?}"),
        other => panic!("expected a close frame with 1009, got {other:?}"),
    }
    wait_for_open_sessions(&app, 0).await;
}

#[actix_web::test]
async fn a_large_frame_under_the_limit_is_an_ordinary_invalid_message() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_text(&"x".repeat(8000)).await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "invalid_message");
    assert_still_usable(&mut ws).await;
}

#[actix_web::test]
async fn a_text_message_sent_in_fragments_is_reassembled() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_raw(text_piece(r#"{"type":"be"#.as_bytes(), true, false))
        .await;
    ws.send_raw(text_piece(r#"gin","provider""#.as_bytes(), false, false))
        .await;
    ws.send_raw(text_piece(r#":"mock"}"#.as_bytes(), false, true))
        .await;
    assert_eq!(ws.expect("signin").await["provider"], "mock");
}

#[actix_web::test]
async fn fragments_adding_up_past_the_limit_close_with_1009() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let piece = "x".repeat(3000);
    ws.send_raw(text_piece(piece.as_bytes(), true, false)).await;
    ws.send_raw(text_piece(piece.as_bytes(), false, false))
        .await;
    ws.send_raw(text_piece(piece.as_bytes(), false, true)).await;
    match ws.closed().await {
        Closed::Frame(Some(frame)) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected 1009, got {other:?}"),
    }
}
