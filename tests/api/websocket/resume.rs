//! Resuming a dropped session: what was addressed to it while away arrives once, a secret
//! works once and within the grace period, a resume takes over a socket still open, and a
//! damaged secret or an unknown parameter never turns into an HTTP error.

use super::{QUIET, assert_still_usable, finish_in_browser, open_sessions, wait_for_open_sessions};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::ws_client::Closed;
use crate::helpers::{TestApp, WsClient, confirmation_code, settings_with};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Closes from the client side and waits until the server has let the connection go, so
/// that what follows happens "while disconnected" and not in a race with the close.
async fn drop_connection(app: &TestApp, ws: WsClient) {
    let before = open_sessions(app);
    ws.close().await;
    wait_for_open_sessions(app, before - 1).await;
    // The connection hands its resume secret back to the store in a task spawned as it stops.
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[actix_web::test]
async fn a_sign_in_finished_while_disconnected_is_delivered_after_resume() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    let link = ws.begin("mock").await;
    drop_connection(&app, ws).await;

    let page = finish_in_browser(&app, &link, "away").await;
    let shown = confirmation_code(&page.body).expect("the page shows a code");

    let mut back = app.resume(&secret).await;
    assert_eq!(back.session(), session, "the same session");
    assert_ne!(back.resume_secret(), secret, "a new resume secret");
    let confirm = back.expect("confirm").await;
    assert_eq!(confirm["provider"], "mock");
    back.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    let signedin = back.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-away");
    assert_eq!(back.try_recv(QUIET).await, None, "signedin comes once");
}

#[actix_web::test]
async fn without_confirmation_parked_tokens_arrive_once_after_resume() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.signin.confirm_code = false;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    let link = ws.begin("mock").await;
    drop_connection(&app, ws).await;
    finish_in_browser(&app, &link, "parked").await;

    let mut back = app.resume(&secret).await;
    assert_eq!(back.session(), session);
    let signedin = back.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-parked");
    assert_eq!(back.try_recv(QUIET).await, None, "signedin comes once");
    back.send_json(&json!({"type": "ack", "id": signedin["id"]}))
        .await;

    let newest = back.resume_secret();
    drop_connection(&app, back).await;
    let mut again = app.resume(&newest).await;
    assert_eq!(again.session(), session);
    assert_eq!(
        again.try_recv(QUIET).await,
        None,
        "a second resume does not repeat acknowledged tokens"
    );
}

#[actix_web::test]
async fn a_resume_secret_works_once() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let ws = app.connect().await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    drop_connection(&app, ws).await;
    let back = app.resume(&secret).await;
    assert_eq!(back.session(), session);

    let mut replay = app.resume(&secret).await;
    assert_ne!(
        replay.session(),
        session,
        "a replayed secret gets a new session"
    );
    assert_eq!(replay.session().len(), 20);
    let error = replay.expect("error").await;
    assert_eq!(error["code"], "expired", "{error}");
    assert_still_usable(&mut replay).await;
}

#[actix_web::test]
async fn a_resume_after_the_grace_period_gets_a_new_session() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let ws = app.connect().await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    drop_connection(&app, ws).await;
    app.clock.advance_secs(121);

    let mut late = app.resume(&secret).await;
    assert_ne!(late.session(), session);
    let error = late.expect("error").await;
    assert_eq!(error["code"], "expired", "{error}");
}

#[actix_web::test]
async fn a_resume_within_the_grace_period_keeps_the_session() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let ws = app.connect().await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    drop_connection(&app, ws).await;
    app.clock.advance_secs(119);

    let mut back = app.resume(&secret).await;
    assert_eq!(back.session(), session);
    assert_eq!(back.try_recv(QUIET).await, None, "no expired error");
}

#[actix_web::test]
async fn a_resume_while_the_old_socket_is_open_closes_it_with_1008_and_takes_its_frames() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut old = app.connect().await;
    let (session, secret) = (old.session(), old.resume_secret());
    let link = old.begin("mock").await;

    let mut new = app.resume(&secret).await;
    assert_eq!(new.session(), session);
    match old.closed().await {
        Closed::Frame(Some(frame)) => assert_eq!(frame.code, CloseCode::Policy, "{frame:?}"),
        other => panic!("expected the old socket closed with 1008, got {other:?}"),
    }
    wait_for_open_sessions(&app, 1).await;

    // The sign-in the old socket began finishes on the new one.
    let page = finish_in_browser(&app, &link, "moved").await;
    new.expect("confirm").await;
    let shown = confirmation_code(&page.body).unwrap();
    new.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    assert_eq!(new.expect("signedin").await["access_token"], "at-moved");
}

/// A page cannot read the status of a refused WebSocket: a secret of another shape must not be
/// an HTTP error the extension retries forever, but a fresh session told `expired`.
#[actix_web::test]
async fn a_malformed_resume_secret_gets_a_new_session_told_expired() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    for query in [
        "resume=not%20a%20secret",
        "resume=abc-def",
        &format!("resume={}", "a".repeat(200)),
        "resume=abc&resume=abc",
    ] {
        let mut ws = WsClient::connect(&format!("{}?{query}", app.ws_url()), Some(&app.base)).await;
        assert_eq!(ws.session().len(), 20, "{query}");
        let error = ws.expect("error").await;
        assert_eq!(error["code"], "expired", "{query}: {error}");
        assert_still_usable(&mut ws).await;
    }
}

#[actix_web::test]
async fn other_ws_query_parameters_are_ignored() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut fresh = WsClient::connect(
        &format!("{}?_=1712345&lang=de", app.ws_url()),
        Some(&app.base),
    )
    .await;
    assert_eq!(
        fresh.try_recv(QUIET).await,
        None,
        "no error for a new session"
    );
    let (session, secret) = (fresh.session(), fresh.resume_secret());
    drop_connection(&app, fresh).await;

    let url = format!("{}?v=2&resume={secret}&utm_source=x", app.ws_url());
    let mut back = WsClient::connect(&url, Some(&app.base)).await;
    assert_eq!(
        back.session(),
        session,
        "resumed despite the other parameters"
    );
    assert_eq!(back.try_recv(QUIET).await, None, "no expired error");
}
