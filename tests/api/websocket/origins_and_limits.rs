//! Who may connect: the origin check and `sessions.max_connections`.

use super::{open_sessions, refusal_status};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::ws_client::read_hello;
use crate::helpers::{TestApp, WAIT, WsClient, settings_with};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Error as WsError;

#[actix_web::test]
async fn a_foreign_origin_is_refused_with_403() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let refused = WsClient::open(&app.ws_url(), Some("https://evil.example")).await;
    assert_eq!(refusal_status(refused), 403);
}

#[actix_web::test]
async fn the_public_urls_origin_and_non_browser_clients_are_accepted() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut from_page = WsClient::open(&app.ws_url(), Some(&app.base))
        .await
        .unwrap();
    read_hello(&mut from_page).await;
    let mut without_origin = WsClient::open(&app.ws_url(), None).await.unwrap();
    read_hello(&mut without_origin).await;
}

#[actix_web::test]
async fn allowed_origins_replace_the_public_urls_origin() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.sessions.allowed_origins = vec!["https://tableau.example.com".into()];
    let app = TestApp::spawn(settings).await;
    let mut tableau = WsClient::open(&app.ws_url(), Some("https://tableau.example.com"))
        .await
        .unwrap();
    read_hello(&mut tableau).await;
    let refused = WsClient::open(&app.ws_url(), Some(&app.base)).await;
    assert_eq!(refusal_status(refused), 403);
    let refused = WsClient::open(&app.ws_url(), Some("https://evil.example")).await;
    assert_eq!(refusal_status(refused), 403);
}

#[actix_web::test]
async fn connections_beyond_max_connections_get_503_until_one_closes() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.sessions.max_connections = 3;
    let app = TestApp::spawn(settings).await;
    let first = app.connect().await;
    let _second = app.connect().await;
    let _third = app.connect().await;
    let refused = WsClient::open(&app.ws_url(), Some(&app.base)).await;
    assert_eq!(refusal_status(refused), 503);

    first.close().await;
    // The slot is freed when the server's actor stops, a moment after the close.
    let deadline = Instant::now() + WAIT;
    let mut fourth = loop {
        match WsClient::open(&app.ws_url(), Some(&app.base)).await {
            Ok(stream) => break stream,
            Err(WsError::Http(r)) if r.status() == 503 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("a freed slot takes a new connection, got: {e}"),
        }
    };
    read_hello(&mut fourth).await;
    assert_eq!(open_sessions(&app), 3);
    let refused = WsClient::open(&app.ws_url(), Some(&app.base)).await;
    assert_eq!(refusal_status(refused), 503);
}
