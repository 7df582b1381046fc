//! Concurrent refreshes of one handle make one token request, and every caller gets its
//! result, against a provider that rotates refresh tokens (the mock's `rt-…-rotated`).

use super::{assert_one_answer, handle_for, refresh, sealed_settings};
use crate::helpers::TestApp;
use crate::helpers::mock_provider::{Behaviour, MockProvider};
use futures_util::future::join_all;
use std::time::Duration;

#[actix_web::test]
async fn fifty_concurrent_refreshes_of_one_handle_make_one_token_request() {
    let mock = MockProvider::start();
    // Slow enough that the fifty overlap at the provider, not only in the broker.
    mock.set(Behaviour::SlowTokens(Duration::from_millis(300)));
    let app = TestApp::spawn(sealed_settings(&mock)).await;
    let handle = handle_for(&app, "mock", "rt-shared");
    let mut sockets = join_all((0..50).map(|_| app.connect())).await;

    let answers = join_all(sockets.iter_mut().map(|ws| refresh(ws, &handle))).await;
    assert_one_answer(&answers, &handle);
    assert_eq!(answers[0]["access_token"], "at-rt-shared");
    assert_eq!(mock.refresh_requests(), 1, "one token request");

    // Just behind the flight, a second tab with the same stored handle gets the same answer.
    let mut late = app.connect().await;
    let behind = refresh(&mut late, &handle).await;
    assert_one_answer(&[answers[0].clone(), behind], &handle);
    assert_eq!(mock.refresh_requests(), 1);
    assert!(
        app.metrics()
            .await
            .contains("oauth_broker_refreshes_shared_total{provider=\"mock\"}"),
        "shared refreshes counted"
    );
}

#[actix_web::test]
async fn the_rotated_handle_refreshes_again_with_a_new_request() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(sealed_settings(&mock)).await;
    let handle = handle_for(&app, "mock", "rt-chain");
    let mut ws = app.connect().await;
    let first = refresh(&mut ws, &handle).await;
    assert_eq!(first["access_token"], "at-rt-chain");
    let next = refresh(&mut ws, first["refresh"].as_str().unwrap()).await;
    assert_eq!(next["access_token"], "at-rt-chain-rotated");
    assert_eq!(
        mock.refresh_requests(),
        2,
        "a different handle is its own flight"
    );
}

#[actix_web::test]
async fn a_failed_refresh_reaches_its_waiters_but_not_a_later_try() {
    let mock = MockProvider::start();
    mock.set(Behaviour::Status(503, "{}".into()));
    let app = TestApp::spawn(sealed_settings(&mock)).await;
    let handle = handle_for(&app, "mock", "rt-flaky");
    let mut sockets = join_all((0..5).map(|_| app.connect())).await;
    let answers = join_all(sockets.iter_mut().map(|ws| refresh(ws, &handle))).await;
    for answer in &answers {
        assert_eq!(answer["code"], "provider_error", "{answer}");
    }
    let failed = mock.refresh_requests();
    assert!(failed >= 1);

    mock.set(Behaviour::Tokens);
    let retry = refresh(&mut sockets[0], &handle).await;
    assert_eq!(retry["type"], "signedin", "{retry}");
    assert_eq!(mock.refresh_requests(), failed + 1);
}
