//! The token endpoint fails (4xx, 5xx, slow, garbage): a 502 page that reveals nothing and a
//! `provider_error` frame.

use super::{QUIET, assert_no_secrets, begun_state, expect_error};
use crate::helpers::mock_provider::{Behaviour, MockProvider};
use crate::helpers::{Response, TestApp, WsClient, assert_strict_headers, settings_with};
use std::time::{Duration, Instant};

/// A 502 page after the token exchange failed: strict headers, tells the person what to do,
/// reveals nothing; the session hears `provider_error`.
async fn assert_exchange_failure(
    app: &TestApp,
    mock: &MockProvider,
    ws: &mut WsClient,
    code: &str,
) -> Response {
    let state = begun_state(app, ws, "mock").await;
    let page = app
        .complete("mock", &[("code", code), ("state", &state)])
        .await;
    assert_eq!(page.status, 502, "{}", page.body);
    assert_strict_headers(&page);
    assert!(
        page.body.contains("press Sign in again"),
        "the page says what to do: {}",
        page.body
    );
    assert_no_secrets(&page, mock, code);
    expect_error(ws, "provider_error", Some("mock")).await;
    assert_eq!(mock.requests().len(), 1, "one token request was made");
    page
}

#[actix_web::test]
async fn a_token_endpoint_4xx_is_a_502_page_and_a_provider_error() {
    let mock = MockProvider::start();
    mock.set(Behaviour::Status(
        400,
        r#"{"error":"invalid_grant"}"#.into(),
    ));
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    assert_exchange_failure(&app, &mock, &mut ws, "c-4xx").await;
}

#[actix_web::test]
async fn a_token_endpoint_5xx_is_a_502_page_and_a_provider_error() {
    let mock = MockProvider::start();
    mock.set(Behaviour::Status(503, String::new()));
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    assert_exchange_failure(&app, &mock, &mut ws, "c-5xx").await;
}

#[actix_web::test]
async fn a_slow_token_endpoint_times_out_with_a_502_page() {
    let mock = MockProvider::start();
    mock.set(Behaviour::Slow(Duration::from_secs(5)));
    let app = TestApp::spawn(settings_with(&mock)).await; // provider timeout: 2 s
    let mut ws = app.connect().await;
    let started = Instant::now();
    assert_exchange_failure(&app, &mock, &mut ws, "c-slow").await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "the broker gave up on time, not after the provider: {took:?}"
    );
    assert!(ws.try_recv(QUIET).await.is_none(), "no late token frame");
}

#[actix_web::test]
async fn a_garbage_token_response_is_a_502_page_and_a_provider_error() {
    let mock = MockProvider::start();
    mock.set(Behaviour::Garbage);
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let page = assert_exchange_failure(&app, &mock, &mut ws, "c-garbage").await;
    assert!(
        !page.body.contains("surprise"),
        "the provider's body is not shown"
    );
}
