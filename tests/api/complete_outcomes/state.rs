//! The `state`: missing, unknown, replayed, expired, of another provider, without a code,
//! repeated or oversized parameters: a 400 page, never a token request or a 500.

use super::{QUIET, assert_bad_request_page, assert_no_secrets, begun_state, expect_error};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, confirmation_code, settings_with};
use serde_json::json;

#[actix_web::test]
async fn missing_state_is_a_400_page() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    for query in [
        &[("code", "c-missing")][..],
        &[("code", "c-missing"), ("state", "")][..],
        &[][..],
        &[("error", "access_denied")][..],
    ] {
        let page = app.complete("mock", query).await;
        assert_bad_request_page(&page);
    }
    assert!(mock.requests().is_empty());
}

#[actix_web::test]
async fn unknown_state_is_a_400_page() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    // A live sign-in exists; a made-up state must not find it.
    let _real = begun_state(&app, &mut ws, "mock").await;
    for state in [
        "A".repeat(43),
        "0123456789abcdefABCDEF".into(),
        "x".repeat(65),
        "not a state!".into(),
    ] {
        let page = app
            .complete("mock", &[("code", "c-unknown"), ("state", &state)])
            .await;
        assert_bad_request_page(&page);
    }
    assert!(mock.requests().is_empty());
    assert!(
        ws.try_recv(QUIET).await.is_none(),
        "the real sign-in is untouched"
    );
}

#[actix_web::test]
async fn replayed_state_is_rejected_without_a_second_exchange_or_frame() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let state = begun_state(&app, &mut ws, "mock").await;
    let query = [("code", "c-replay-1"), ("state", state.as_str())];
    let first = app.complete("mock", &query).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_no_secrets(&first, &mock, "c-replay-1");
    ws.expect("confirm").await;

    let again = app.complete("mock", &query).await;
    assert_bad_request_page(&again);
    assert_no_secrets(&again, &mock, "c-replay-1");
    assert!(
        ws.try_recv(QUIET).await.is_none(),
        "no second confirm or token frame"
    );
    assert_eq!(mock.requests().len(), 1, "exactly one token request");

    // The held grant from the first completion is still the one that counts.
    let shown = confirmation_code(&first.body).unwrap();
    ws.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    let signedin = ws.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-c-replay-1");
}

#[actix_web::test]
async fn expired_state_is_rejected_and_a_younger_one_still_works() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let old = begun_state(&app, &mut ws, "mock").await;
    app.clock.advance_secs(590);
    let young = begun_state(&app, &mut ws, "mock").await;
    app.clock.advance_secs(11); // `old` is 601 s old (state_ttl_secs = 600), `young` 11 s.

    let page = app
        .complete("mock", &[("code", "c-old"), ("state", &old)])
        .await;
    assert_bad_request_page(&page);
    assert!(
        mock.requests().is_empty(),
        "an expired state never reaches the provider"
    );

    let page = app
        .complete("mock", &[("code", "c-young"), ("state", &young)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    ws.expect("confirm").await;
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(mock.requests()[0].form["code"], "c-young");
}

#[actix_web::test]
async fn a_state_of_another_provider_is_rejected_before_any_token_request() {
    let mock = MockProvider::start();
    let other = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings
        .providers
        .insert("other".into(), other.provider_settings());
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    let state = begun_state(&app, &mut ws, "mock").await;

    let page = app
        .complete("other", &[("code", "c-mixup"), ("state", &state)])
        .await;
    assert_bad_request_page(&page);
    assert_no_secrets(&page, &mock, "c-mixup");
    assert!(mock.requests().is_empty(), "no token request to mock");
    assert!(other.requests().is_empty(), "no token request to other");
    // The attempt is over: the state is spent for its own provider too, and the session never
    // gets tokens or a confirmation for it.
    let page = app
        .complete("mock", &[("code", "c-mixup"), ("state", &state)])
        .await;
    assert_bad_request_page(&page);
    assert!(mock.requests().is_empty());
    while let Some(frame) = ws.try_recv(QUIET).await {
        assert_eq!(frame["type"], "error", "only an error may arrive: {frame}");
    }
}

#[actix_web::test]
async fn a_state_without_a_code_is_a_400_page() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    for query in [vec![], vec![("code", "")]] {
        let state = begun_state(&app, &mut ws, "mock").await;
        let mut query = query.clone();
        query.push(("state", &state));
        let page = app.complete("mock", &query).await;
        assert_bad_request_page(&page);
        expect_error(&mut ws, "provider_error", Some("mock")).await;
    }
    assert!(mock.requests().is_empty());
}

#[actix_web::test]
async fn repeated_parameters_are_a_400_page_never_a_500() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let state = begun_state(&app, &mut ws, "mock").await;
    for query in [
        "state=a&state=b".to_owned(),
        format!("code=c1&state={state}&state={state}"),
        format!("code=c1&code=c2&state={state}"),
        format!("error=access_denied&error=x&state={state}"),
    ] {
        let page = app.get(&format!("/complete/mock?{query}")).await;
        assert_bad_request_page(&page);
    }
    assert!(mock.requests().is_empty(), "nothing was exchanged");
    assert!(ws.try_recv(QUIET).await.is_none());
}

#[actix_web::test]
async fn oversized_values_are_a_400_page_never_a_500() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let state = begun_state(&app, &mut ws, "mock").await;
    let big = "c".repeat(5 * 1024);
    let many: Vec<String> = (0..40).map(|i| format!("p{i}=1")).collect();
    for query in [
        format!("code={big}&state={state}"),
        format!("code=c1&state={}", "s".repeat(5 * 1024)),
        format!("code=c1&state={state}&error_description={big}"),
        format!("code=c1&state={state}&{}", many.join("&")),
    ] {
        let page = app.get(&format!("/complete/mock?{query}")).await;
        assert_bad_request_page(&page);
        assert!(!page.body.contains(&big), "the value is not echoed");
    }
    assert!(mock.requests().is_empty(), "nothing was exchanged");
}
