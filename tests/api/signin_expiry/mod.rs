//! No extension waits for ever: a sign-in the session began that ends without a result (its
//! link expired unopened, its pending authorization expired with nobody back from the
//! provider, its completion failed) ends with an `error` frame routed through the hub, with an
//! `id` kept until acknowledged. Time moves through the app's clock; nobody polls from outside.

mod replicas;

use crate::complete_outcomes::{begun_state, expect_error};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, WsClient, settings_with};
use oauth_broker::settings::Settings;
use serde_json::{Value, json};
use std::time::Duration;

/// How long a test listens to be sure that nothing arrives: past a connection's once-a-second
/// look at its sign-in's expiry.
const QUIET: Duration = Duration::from_millis(1_800);

/// `signin.ticket_ttl_secs` and `signin.state_ttl_secs` as these tests set them, and the
/// moment after either at which the broker reports (`expiry::REPORT_AFTER_MILLIS`).
const TICKET_TTL: u64 = 120;
const STATE_TTL: u64 = 600;
const REPORTED_AFTER: u64 = 3;

fn settings(mock: &MockProvider) -> Settings {
    let mut settings = settings_with(mock);
    settings.signin.ticket_ttl_secs = TICKET_TTL;
    settings.signin.state_ttl_secs = STATE_TTL;
    settings
}

/// The next frame is the `expired` error of a sign-in with `mock`, routed through the hub.
pub(super) async fn expect_expired(ws: &mut WsClient) -> Value {
    let error = expect_error(ws, "expired", Some("mock")).await;
    assert!(
        error["id"].as_str().is_some_and(|id| !id.is_empty()),
        "routed through the hub, so it carries an id: {error}"
    );
    error
}

async fn nothing_arrives(ws: &mut WsClient, why: &str) {
    if let Some(frame) = ws.try_recv(QUIET).await {
        panic!("{why}, yet this arrived: {frame}");
    }
}

#[actix_web::test]
async fn an_unopened_link_is_reported_expired_once_its_ticket_runs_out() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings(&mock)).await;
    let mut ws = app.connect().await;
    let link = ws.begin("mock").await;
    app.clock.advance_secs(TICKET_TTL - 10);
    nothing_arrives(&mut ws, "the link is still valid").await;

    app.clock.advance_secs(10 + REPORTED_AFTER);
    let error = expect_expired(&mut ws).await;
    assert!(
        error["message"].as_str().unwrap().contains("link"),
        "{error}"
    );
    ws.send_json(&json!({"type": "ack", "id": error["id"]}))
        .await;
    app.clock.advance_secs(STATE_TTL);
    nothing_arrives(&mut ws, "one report per sign-in").await;
    assert_eq!(app.get(&link).await.status, 400, "and the link is dead");
}

#[actix_web::test]
async fn an_authorization_nobody_came_back_from_is_reported_when_its_state_runs_out() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings(&mock)).await;
    let mut ws = app.connect().await;
    let state = begun_state(&app, &mut ws, "mock").await;
    app.clock.advance_secs(TICKET_TTL + REPORTED_AFTER + 10);
    nothing_arrives(&mut ws, "the opened link moved the expiry to the state's").await;

    app.clock.advance_secs(STATE_TTL - TICKET_TTL);
    let error = expect_expired(&mut ws).await;
    assert!(
        error["message"].as_str().unwrap().contains("not finished"),
        "{error}"
    );
    let late = app
        .complete("mock", &[("code", "late"), ("state", &state)])
        .await;
    assert_eq!(late.status, 400, "the state is gone too");
    nothing_arrives(&mut ws, "a late redirect tells the session nothing more").await;
}

#[actix_web::test]
async fn a_completed_signin_is_never_reported_expired() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings(&mock)).await;
    let mut ws = app.connect().await;
    let signedin = app.sign_in(&mut ws, "done").await;
    assert_eq!(signedin["access_token"], "at-done");
    app.clock.advance_secs(STATE_TTL + REPORTED_AFTER + 10);
    nothing_arrives(&mut ws, "the sign-in succeeded").await;
}

#[actix_web::test]
async fn a_failed_completion_is_reported_once_and_never_as_expired() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings(&mock)).await;
    let mut ws = app.connect().await;
    let state = begun_state(&app, &mut ws, "mock").await;
    app.complete("mock", &[("error", "access_denied"), ("state", &state)])
        .await;
    let error = expect_error(&mut ws, "access_denied", Some("mock")).await;
    assert!(error["id"].is_string(), "routed through the hub: {error}");
    app.clock.advance_secs(STATE_TTL + REPORTED_AFTER + 10);
    nothing_arrives(&mut ws, "the failure was the sign-in's end").await;
}

#[actix_web::test]
async fn a_newer_signin_replaces_the_older_ones_expiry() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings(&mock)).await;
    let mut ws = app.connect().await;
    // The first link is opened (its state pending), then the person presses Sign in again.
    begun_state(&app, &mut ws, "mock").await;
    ws.begin("mock").await;
    app.clock.advance_secs(TICKET_TTL + REPORTED_AFTER);
    let error = expect_expired(&mut ws).await;
    assert!(
        error["message"].as_str().unwrap().contains("link"),
        "the newer sign-in's link is the one reported: {error}"
    );
    app.clock.advance_secs(STATE_TTL);
    nothing_arrives(&mut ws, "the replaced sign-in is not reported").await;
}

#[actix_web::test]
async fn an_expiry_while_the_session_was_away_reaches_it_on_resume_until_acknowledged() {
    let mock = MockProvider::start();
    let mut settings = settings(&mock);
    settings.sessions.resume_grace_secs = 600;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    let session = ws.session();
    ws.begin("mock").await;
    let secret = ws.resume_secret();
    ws.close().await;
    // Past the link's expiry, within the resume grace.
    app.clock.advance_secs(TICKET_TTL + REPORTED_AFTER);

    let mut back = app.resume(&secret).await;
    assert_eq!(back.session(), session);
    let error = expect_expired(&mut back).await;
    let secret = back.resume_secret();
    back.close().await;

    // Not acknowledged: the next resume brings it again, same id, and only it.
    let mut again = app.resume(&secret).await;
    let repeated = expect_expired(&mut again).await;
    assert_eq!(repeated["id"], error["id"]);
    again
        .send_json(&json!({"type": "ack", "id": repeated["id"]}))
        .await;
    nothing_arrives(&mut again, "one sign-in, one report").await;
}
