//! Acknowledged delivery on one replica: every frame routed through the hub carries an `id`; a
//! frame a half-open socket swallowed (a real TCP proxy that stops forwarding both ways without
//! closing) arrives again after the resume with the same `id`, and never again once acked.

use super::{QUIET, finish_in_browser};
use crate::helpers::frozen_proxy::FrozenProxy;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, WsClient, confirmation_code, settings_with};
use serde_json::{Value, json};

async fn app(confirm_code: bool) -> (MockProvider, TestApp) {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.signin.confirm_code = confirm_code;
    let app = TestApp::spawn(settings).await;
    (mock, app)
}

async fn through(proxy: &FrozenProxy, app: &TestApp) -> WsClient {
    WsClient::connect(&proxy.ws_url(), Some(&app.base)).await
}

fn id_of(frame: &Value) -> String {
    let id = frame["id"].as_str().expect("a routed frame carries an id");
    assert!(!id.is_empty());
    id.to_owned()
}

#[actix_web::test]
async fn a_signedin_swallowed_by_a_half_open_socket_arrives_after_resume() {
    let (_mock, app) = app(false).await;
    let proxy = FrozenProxy::start(app.addr()).await;
    let mut ws = through(&proxy, &app).await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    let link = ws.begin("mock").await;

    proxy.freeze();
    // The broker writes `signedin` to a socket that looks alive and reads nothing.
    finish_in_browser(&app, &link, "swallowed").await;
    assert_eq!(
        ws.try_recv(QUIET).await,
        None,
        "the frozen path delivers nothing"
    );

    let mut back = app.resume(&secret).await;
    assert_eq!(back.session(), session);
    let signedin = back.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-swallowed");
    id_of(&signedin);
}

#[actix_web::test]
async fn an_unacknowledged_frame_comes_again_with_its_id_and_never_after_its_ack() {
    let (_mock, app) = app(false).await;
    let proxy = FrozenProxy::start(app.addr()).await;
    let mut ws = through(&proxy, &app).await;
    let secret = ws.resume_secret();
    let link = ws.begin("mock").await;
    finish_in_browser(&app, &link, "again").await;
    let first = ws.expect("signedin").await;
    let id = id_of(&first);

    // Read by the client but not acknowledged when the path dies.
    proxy.freeze();
    let mut back = app.resume(&secret).await;
    let again = back.expect("signedin").await;
    assert_eq!(again["id"], id.as_str(), "the same id");
    assert_eq!(again["access_token"], first["access_token"]);
    assert_eq!(back.try_recv(QUIET).await, None, "once per connection");

    back.send_json(&json!({"type": "ack", "id": id})).await;
    assert_eq!(back.try_recv(QUIET).await, None, "an ack is not answered");
    let newest = back.resume_secret();
    back.close().await;
    let mut later = app.resume(&newest).await;
    assert_eq!(
        later.try_recv(QUIET).await,
        None,
        "acknowledged is gone for good"
    );

    let metrics = app.metrics().await;
    for event in ["resent", "acknowledged"] {
        assert!(
            metrics.contains(&format!(
                "oauth_broker_unacked_frames_total{{event=\"{event}\"}}"
            )),
            "{event} counted:\n{metrics}"
        );
    }
}

#[actix_web::test]
async fn confirm_and_the_signedin_after_the_code_both_carry_distinct_ids() {
    let (_mock, app) = app(true).await;
    let mut ws = app.connect().await;
    let link = ws.begin("mock").await;
    let page = finish_in_browser(&app, &link, "ids").await;
    let confirm = ws.expect("confirm").await;
    let shown = confirmation_code(&page.body).unwrap();
    ws.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    let signedin = ws.expect("signedin").await;
    assert_ne!(id_of(&confirm), id_of(&signedin), "unique per session");
}

#[actix_web::test]
async fn a_client_that_never_acknowledges_still_gets_every_frame_once_live() {
    let (_mock, app) = app(false).await;
    let mut ws = app.connect().await;
    for code in ["one", "two", "three"] {
        let link = ws.begin("mock").await;
        finish_in_browser(&app, &link, code).await;
        let signedin = ws.expect("signedin").await;
        assert_eq!(signedin["access_token"], format!("at-{code}"));
    }
    assert_eq!(
        ws.try_recv(QUIET).await,
        None,
        "nothing repeated on a live connection"
    );
}

#[actix_web::test]
async fn unacknowledged_frames_come_again_in_order_and_an_unknown_ack_changes_nothing() {
    let (_mock, app) = app(false).await;
    let mut ws = app.connect().await;
    let secret = ws.resume_secret();
    let mut ids = Vec::new();
    for code in ["first", "second"] {
        let link = ws.begin("mock").await;
        finish_in_browser(&app, &link, code).await;
        ids.push(id_of(&ws.expect("signedin").await));
    }
    ws.send_json(&json!({"type": "ack", "id": "not-one-of-ours"}))
        .await;
    ws.send_json(&json!({"type": "ack", "id": 42})).await;
    assert_eq!(ws.try_recv(QUIET).await, None, "acks are never answered");
    ws.close().await;

    let mut back = app.resume(&secret).await;
    let again: Vec<String> = [back.recv().await, back.recv().await]
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(again, ids, "sent again, oldest first");
}
