//! Heartbeats and idle connections: pings every heartbeat, silence closed after the idle
//! timeout, a client that answers kept.

use super::{assert_still_usable, wait_for_open_sessions};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::ws_client::read_hello;
use crate::helpers::{TestApp, WsClient, settings_with};
use futures_util::StreamExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[actix_web::test]
async fn server_pings_every_heartbeat() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut stream = WsClient::open(&app.ws_url(), Some(&app.base))
        .await
        .unwrap();
    let hello = read_hello(&mut stream).await;
    assert_eq!(hello["heartbeat_secs"], 1);
    let mut next_ping = async || {
        loop {
            match stream.next().await {
                Some(Ok(Message::Ping(_))) => return,
                Some(Ok(_)) => continue,
                other => panic!("connection ended before a ping: {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_millis(2500), next_ping())
        .await
        .expect("a ping within 2.5 s with heartbeat_secs = 1");
    tokio::time::timeout(Duration::from_millis(2500), next_ping())
        .await
        .expect("and another one a heartbeat later");
}

#[actix_web::test]
async fn a_client_that_never_answers_pings_is_closed_after_the_idle_timeout() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.sessions.idle_timeout_secs = 2;
    let app = TestApp::spawn(settings).await;
    let mut stream = WsClient::open(&app.ws_url(), Some(&app.base))
        .await
        .unwrap();
    // Not reading means tungstenite never answers the pings: the client is silent.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let ended = async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(3), ended)
        .await
        .expect("the server closed the silent connection");
    wait_for_open_sessions(&app, 0).await;
}

#[actix_web::test]
async fn a_client_that_answers_pings_outlives_the_idle_timeout() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.sessions.idle_timeout_secs = 2;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    // Reading answers the pings (tungstenite's automatic pong); nothing else is said.
    assert_eq!(ws.try_recv(Duration::from_secs(4)).await, None);
    assert_still_usable(&mut ws).await;
}
