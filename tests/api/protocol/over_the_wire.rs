//! Frames as a real sign-in and a real socket produce them: each kind matches the schema, and
//! text that is not UTF-8 closes with the codes the doc gives.

use crate::helpers::mock_provider::MockProvider;
use crate::helpers::schema::{self, Direction, assert_server_frame, is_client_frame};
use crate::helpers::ws_client::{Closed, text_piece};
use crate::helpers::{TestApp, WsClient, confirmation_code, query_value, settings_with};
use oauth_broker::ws::protocol::ServerMessage;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The next frame, which the hook in `WsClient` has already checked against the schema; checked
/// here once more so that this test does not depend on the hook.
async fn collect(ws: &mut WsClient, kind: &str, seen: &mut Vec<Value>) -> Value {
    let frame = ws.expect(kind).await;
    seen.push(frame.clone());
    frame
}

async fn collect_error(ws: &mut WsClient, code: &str, seen: &mut Vec<Value>) -> Value {
    let error = collect(ws, "error", seen).await;
    assert_eq!(error["code"], code, "{error}");
    error
}

/// `begin` for the mock, the link opened: the `state` the provider was sent.
async fn begin_and_open(app: &TestApp, ws: &mut WsClient, seen: &mut Vec<Value>) -> String {
    ws.send_json(&json!({"type": "begin", "provider": "mock"}))
        .await;
    let signin = collect(ws, "signin", seen).await;
    let response = app.get(signin["url"].as_str().unwrap()).await;
    assert_eq!(response.status, 303, "{}", response.body);
    let authorize = url::Url::parse(response.header("location").unwrap()).unwrap();
    query_value(&authorize, "state").unwrap()
}

#[actix_web::test]
async fn every_server_frame_kind_matches_the_schema() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.signin.confirm_attempts = 2;
    // Four sign-ins below; the fifth begin is over the limit.
    settings.limits.signin_links_per_session = 4;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    let mut seen = vec![ws.hello.clone()];

    // Frames the client got wrong.
    ws.send_text("not json").await;
    collect_error(&mut ws, "invalid_message", &mut seen).await;
    ws.send_json(&json!({"type": "ack"})).await;
    collect_error(&mut ws, "invalid_message", &mut seen).await;
    ws.send_json(&json!({"type": "begin", "provider": "myspace"}))
        .await;
    collect_error(&mut ws, "unknown_provider", &mut seen).await;
    ws.send_json(&json!({"type": "confirm", "code": "ABCD2345"}))
        .await;
    collect_error(&mut ws, "expired", &mut seen).await;

    // A sign-in with one wrong code, then the right one: tokens with a refresh handle.
    let state = begin_and_open(&app, &mut ws, &mut seen).await;
    let page = app
        .complete("mock", &[("code", "one"), ("state", &state)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let shown = confirmation_code(&page.body).expect("the page shows a code");
    collect(&mut ws, "confirm", &mut seen).await;
    ws.send_json(&json!({"type": "confirm", "code": "WRONG234"}))
        .await;
    collect_error(&mut ws, "bad_code", &mut seen).await;
    ws.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    let signedin = collect(&mut ws, "signedin", &mut seen).await;
    let handle = signedin["refresh"].as_str().expect("a refresh handle");

    // Refresh: a good handle, then one that is not a handle.
    ws.send_json(&json!({"type": "refresh", "refresh": handle}))
        .await;
    let renewed = collect(&mut ws, "signedin", &mut seen).await;
    assert!(renewed["refresh"].is_string(), "{renewed}");
    ws.send_json(&json!({"type": "refresh", "refresh": "v1.not-a-handle"}))
        .await;
    collect_error(&mut ws, "reauth_required", &mut seen).await;

    // Wrong codes until the held tokens are dropped.
    let state = begin_and_open(&app, &mut ws, &mut seen).await;
    let page = app
        .complete("mock", &[("code", "two"), ("state", &state)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    collect(&mut ws, "confirm", &mut seen).await;
    ws.send_json(&json!({"type": "confirm", "code": "WRONG234"}))
        .await;
    collect_error(&mut ws, "bad_code", &mut seen).await;
    ws.send_json(&json!({"type": "confirm", "code": "WRONG234"}))
        .await;
    collect_error(&mut ws, "too_many_attempts", &mut seen).await;

    // The person declines; the provider fails.
    let state = begin_and_open(&app, &mut ws, &mut seen).await;
    app.complete("mock", &[("error", "access_denied"), ("state", &state)])
        .await;
    let denied = collect_error(&mut ws, "access_denied", &mut seen).await;
    assert_eq!(denied["provider"], "mock");
    let state = begin_and_open(&app, &mut ws, &mut seen).await;
    app.complete("mock", &[("error", "server_error"), ("state", &state)])
        .await;
    collect_error(&mut ws, "provider_error", &mut seen).await;

    // One link too many for this session.
    ws.send_json(&json!({"type": "begin", "provider": "mock"}))
        .await;
    collect_error(&mut ws, "rate_limited", &mut seen).await;

    // A resume secret the broker never gave: a new session, then `expired`.
    let url = format!("{}?resume={}", app.ws_url(), "Z".repeat(32));
    let mut fresh = WsClient::connect(&url, Some(&app.base)).await;
    seen.push(fresh.hello.clone());
    let expired = collect_error(&mut fresh, "expired", &mut seen).await;
    assert!(expired.get("provider").is_none(), "{expired}");

    let mut kinds = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for frame in &seen {
        assert_server_frame(frame);
        assert!(
            !is_client_frame(frame),
            "a server frame is no client frame: {frame}"
        );
        // The broker's own serde types read back what the schema accepts.
        serde_json::from_value::<ServerMessage>(frame.clone())
            .unwrap_or_else(|e| panic!("ServerMessage does not read {frame}: {e}"));
        kinds.insert(frame["type"].as_str().unwrap().to_owned());
        if let Some(code) = frame["code"].as_str() {
            codes.insert(code.to_owned());
        }
    }
    let every_kind: BTreeSet<String> = schema::variant_defs(Direction::Server)
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(kinds, every_kind, "every server frame kind was seen");
    for code in [
        "invalid_message",
        "unknown_provider",
        "access_denied",
        "expired",
        "provider_error",
        "bad_code",
        "too_many_attempts",
        "rate_limited",
        "reauth_required",
    ] {
        assert!(codes.contains(code), "an error {code} was seen: {codes:?}");
    }
}

async fn close_code(ws: &mut WsClient) -> CloseCode {
    match ws.closed().await {
        Closed::Frame(Some(frame)) => frame.code,
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[actix_web::test]
async fn text_that_is_not_utf8_closes_with_the_codes_the_docs_give() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let not_utf8 = b"{\"type\":\"begin\",\"provider\":\"\xff\"}";

    let mut whole = app.connect().await;
    whole.send_raw(text_piece(not_utf8, true, true)).await;
    assert_eq!(close_code(&mut whole).await, CloseCode::Protocol, "1002");

    let mut pieces = app.connect().await;
    pieces
        .send_raw(text_piece(&not_utf8[..10], true, false))
        .await;
    pieces
        .send_raw(text_piece(&not_utf8[10..], false, true))
        .await;
    assert_eq!(close_code(&mut pieces).await, CloseCode::Invalid, "1007");
}
