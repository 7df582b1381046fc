//! The WebSocket as the contract describes it: heartbeats and idle timeouts, frame size, origin
//! and connection limits, malformed input, and resuming a dropped session without losing what
//! was addressed to it.

mod acknowledged_delivery;
mod frames;
mod heartbeats;
mod malformed_input;
mod origins_and_limits;
mod resume;
mod routing;
mod upgrade;

use crate::helpers;
use crate::helpers::{TestApp, WAIT, WsClient, query_value};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(super) type RawStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test listens to be sure that nothing (more) arrives.
pub(super) const QUIET: Duration = Duration::from_millis(700);

/// The HTTP status of a refused upgrade.
pub(super) fn refusal_status(result: Result<RawStream, WsError>) -> u16 {
    match result {
        Ok(_) => panic!("the upgrade was accepted"),
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("the upgrade failed without an HTTP answer: {e}"),
    }
}

pub(super) fn open_sessions(app: &TestApp) -> usize {
    app.handle.broker().open_sessions.load(Ordering::SeqCst)
}

/// Waits (bounded) until the server counts exactly `expected` open connections.
pub(super) async fn wait_for_open_sessions(app: &TestApp, expected: usize) {
    let deadline = Instant::now() + WAIT;
    while open_sessions(app) != expected {
        assert!(
            Instant::now() < deadline,
            "server still counts {} open connections, expected {expected}",
            open_sessions(app)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Follows a sign-in link and lets the provider send the browser back with `code`: the
/// completion page.
pub(super) async fn finish_in_browser(app: &TestApp, link: &str, code: &str) -> helpers::Response {
    let response = app.get(link).await;
    assert_eq!(response.status, 303, "{}", response.body);
    let authorize = url::Url::parse(response.header("location").unwrap()).unwrap();
    let state = query_value(&authorize, "state").unwrap();
    let page = app
        .complete("mock", &[("code", code), ("state", &state)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

pub(super) async fn assert_still_usable(ws: &mut WsClient) {
    ws.send_json(&json!({"type": "begin"})).await;
    let signin = ws.expect("signin").await;
    assert_eq!(signin["provider"], "mock");
}
