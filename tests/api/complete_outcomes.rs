//! Every outcome of the provider's redirect back (`GET /complete/{provider}`) and of the
//! sign-in link (`GET /signin/{ticket}`): what the page says, with which status and headers,
//! and what the session that began the sign-in hears on its socket.

use crate::helpers;
use crate::helpers::mock_provider::{self, Behaviour, MockProvider};
use crate::helpers::{
    Response, TestApp, WsClient, assert_strict_headers, confirmation_code, query_value,
    settings_with,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long a test listens to be sure a frame does not come.
const QUIET: Duration = Duration::from_millis(800);

/// `begin` and the sign-in link (not yet opened).
async fn signin_link(ws: &mut WsClient, provider: &str) -> String {
    ws.send_json(&json!({"type": "begin", "provider": provider}))
        .await;
    let signin = ws.expect("signin").await;
    signin["url"].as_str().unwrap().to_owned()
}

/// `begin`, the sign-in link opened: the `state` the broker sent to the provider.
async fn begun_state(app: &TestApp, ws: &mut WsClient, provider: &str) -> String {
    let authorize = app.start_signin(ws, Some(provider)).await;
    query_value(&authorize, "state").expect("the authorize URL carries a state")
}

/// The next frame must be an `error` with this code (and the provider, when given).
async fn expect_error(ws: &mut WsClient, code: &str, provider: Option<&str>) -> Value {
    let error = ws.expect("error").await;
    assert_eq!(error["code"], code, "{error}");
    if let Some(provider) = provider {
        assert_eq!(error["provider"], provider, "{error}");
    }
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{error}"
    );
    error
}

/// Nothing the provider or the broker keeps secret shows on a page: the authorization code,
/// the tokens the mock would mint for it, the client secret, any PKCE verifier sent so far.
fn assert_no_secrets(page: &Response, mock: &MockProvider, code: &str) {
    let mut secrets = vec![
        code.to_owned(),
        format!("at-{code}"),
        format!("rt-{code}"),
        mock_provider::CLIENT_SECRET.to_owned(),
    ];
    secrets.extend(
        mock.requests()
            .iter()
            .filter_map(|r| r.form.get("code_verifier").cloned()),
    );
    for secret in secrets {
        assert!(
            !page.body.contains(&secret),
            "the page shows {secret:?}: {}",
            page.body
        );
        for (name, value) in &page.headers {
            assert!(!value.contains(&secret), "header {name} shows {secret:?}");
        }
    }
}

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

/// A 400 page: strict headers and the way out.
fn assert_bad_request_page(page: &Response) {
    assert_eq!(page.status, 400, "{}", page.body);
    assert_strict_headers(page);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "an HTML page"
    );
    assert!(
        page.body.contains("dashboard") && page.body.contains("Sign in again"),
        "the page says to start again from the dashboard: {}",
        page.body
    );
}

/// A code for a wrong guess: the shown code with its first character changed.
fn wrong_code(right: &str, n: usize) -> String {
    let alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let first = right.chars().next().unwrap();
    let other = alphabet
        .chars()
        .filter(|c| *c != first)
        .nth(n % 30)
        .unwrap();
    format!("{other}{}", &right[1..])
}

// ---- access denied and provider errors -------------------------------------------------------

#[actix_web::test]
async fn access_denied_shows_a_declined_page_and_tells_the_session() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let state = begun_state(&app, &mut ws, "mock").await;
    let page = app
        .complete("mock", &[("error", "access_denied"), ("state", &state)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_strict_headers(&page);
    assert!(page.body.contains("allow access"), "{}", page.body);
    assert!(page.body.contains("Sign in again"), "{}", page.body);
    expect_error(&mut ws, "access_denied", Some("mock")).await;
    assert!(
        mock.requests().is_empty(),
        "no token request after a refusal"
    );
    assert!(ws.try_recv(QUIET).await.is_none(), "nothing more arrives");
}

#[actix_web::test]
async fn another_provider_error_is_a_502_page_and_a_provider_error_frame() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let state = begun_state(&app, &mut ws, "mock").await;
    let page = app
        .complete(
            "mock",
            &[
                ("error", "server_error"),
                ("error_description", "<script>alert(1)</script>"),
                ("state", &state),
            ],
        )
        .await;
    assert_eq!(page.status, 502, "{}", page.body);
    assert_strict_headers(&page);
    assert!(page.body.contains("Sign in again"), "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "nothing is reflected");
    expect_error(&mut ws, "provider_error", Some("mock")).await;
    assert!(mock.requests().is_empty());
}

// ---- the state -------------------------------------------------------------------------------

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

// ---- the token endpoint fails ----------------------------------------------------------------

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

// ---- the sign-in link ------------------------------------------------------------------------

#[actix_web::test]
async fn unknown_ticket_is_a_400_page_saying_to_start_again() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let page = app.get("/signin/AbCdEfGhIjKlMnOpQrStUvWx").await;
    assert_bad_request_page(&page);
    assert!(page.header("location").is_none());
}

#[actix_web::test]
async fn used_ticket_is_rejected() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let link = signin_link(&mut ws, "mock").await;
    assert_eq!(app.get(&link).await.status, 303);
    let again = app.get(&link).await;
    assert_bad_request_page(&again);
    assert!(again.header("location").is_none());
}

#[actix_web::test]
async fn expired_ticket_is_rejected_and_a_younger_one_still_works() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let old = signin_link(&mut ws, "mock").await;
    app.clock.advance_secs(100);
    let young = signin_link(&mut ws, "mock").await;
    app.clock.advance_secs(21); // `old` is 121 s old (ticket_ttl_secs = 120), `young` 21 s.
    assert_bad_request_page(&app.get(&old).await);
    assert_eq!(app.get(&young).await.status, 303);
}

#[actix_web::test]
async fn malformed_tickets_are_a_400_page_never_a_500() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let long = "a".repeat(100);
    for ticket in [
        "%00",
        long.as_str(),
        "abc-def",
        "abc.def",
        "%F0%9F%A6%80",
        "..%2F..%2Fetc%2Fpasswd",
        "%3Cscript%3E",
        "%FF%FE",
        "abc%20def",
    ] {
        let page = app.get(&format!("/signin/{ticket}")).await;
        assert_eq!(page.status, 400, "/signin/{ticket}: {}", page.body);
        assert_bad_request_page(&page);
        assert!(!page.body.contains("<script>"), "/signin/{ticket}");
    }
}

// ---- nothing secret leaks --------------------------------------------------------------------

#[actix_web::test]
async fn no_page_or_redirect_reveals_a_code_token_secret_or_verifier() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let link = signin_link(&mut ws, "mock").await;
    let redirect = app.get(&link).await;
    assert_eq!(redirect.status, 303);
    assert_strict_headers(&redirect);
    let location = redirect.header("location").unwrap().to_owned();
    let authorize = url::Url::parse(&location).unwrap();
    for key in ["code", "code_verifier", "client_secret", "access_token"] {
        assert!(
            query_value(&authorize, key).is_none(),
            "{key} in {location}"
        );
    }
    assert!(!location.contains(mock_provider::CLIENT_SECRET));
    assert!(
        !location.contains(&ws.session()),
        "no session ID in {location}"
    );

    let state = query_value(&authorize, "state").unwrap();
    let code = "c-leakcheck-Q7Z";
    let page = app
        .complete("mock", &[("code", code), ("state", &state)])
        .await;
    assert_eq!(page.status, 200);
    ws.expect("confirm").await;
    let verifier = mock.requests()[0].form["code_verifier"].clone();
    assert!(!location.contains(&verifier), "no verifier in {location}");
    assert_no_secrets(&page, &mock, code);

    let shown = confirmation_code(&page.body).unwrap();
    ws.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    let signedin = ws.expect("signedin").await;
    let token = signedin["access_token"].as_str().unwrap();
    assert!(!page.body.contains(token));
    assert!(!location.contains(token));
}

// ---- a sign-in completed by someone else -----------------------------------------------------

/// Session A asks for a link; someone else (the victim) opens it and signs in. Returns A's
/// socket, which has received `confirm`, and the page the victim saw.
async fn link_completed_by_someone_else(
    app: &TestApp,
    mock: &MockProvider,
) -> (WsClient, Response) {
    let mut attacker = app.connect().await;
    let link = signin_link(&mut attacker, "mock").await;
    // The victim's browser: a client of its own, no socket.
    let victim = helpers::http_client();
    let redirect = helpers::get(&victim, &link).await;
    assert_eq!(redirect.status, 303);
    let authorize = url::Url::parse(redirect.header("location").unwrap()).unwrap();
    let state = query_value(&authorize, "state").unwrap();
    let page = app
        .complete("mock", &[("code", "c-victim"), ("state", &state)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_no_secrets(&page, mock, "c-victim");
    let confirm = attacker.expect("confirm").await;
    assert_eq!(confirm["provider"], "mock");
    assert!(
        attacker.try_recv(QUIET).await.is_none(),
        "no tokens without the code from the victim's page"
    );
    (attacker, page)
}

#[actix_web::test]
async fn a_swapped_sign_in_yields_no_tokens_and_wrong_codes_end_it() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let (mut attacker, page) = link_completed_by_someone_else(&app, &mock).await;
    let right = confirmation_code(&page.body).unwrap().replace('-', "");
    assert_eq!(right.len(), 8);

    for n in 0..4 {
        attacker
            .send_json(&json!({"type": "confirm", "code": wrong_code(&right, n)}))
            .await;
        expect_error(&mut attacker, "bad_code", None).await;
    }
    attacker
        .send_json(&json!({"type": "confirm", "code": wrong_code(&right, 4)}))
        .await;
    expect_error(&mut attacker, "too_many_attempts", None).await;

    // Nothing is held any more: even the right code gets nothing.
    attacker
        .send_json(&json!({"type": "confirm", "code": right}))
        .await;
    expect_error(&mut attacker, "expired", None).await;
    assert!(attacker.try_recv(QUIET).await.is_none(), "never signedin");
}

#[actix_web::test]
async fn held_tokens_expire_after_the_confirmation_window() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let (mut attacker, page) = link_completed_by_someone_else(&app, &mock).await;
    let right = confirmation_code(&page.body).unwrap();
    app.clock.advance_secs(301); // signin.confirm_ttl_secs = 300
    attacker
        .send_json(&json!({"type": "confirm", "code": right}))
        .await;
    expect_error(&mut attacker, "expired", None).await;
    assert!(attacker.try_recv(QUIET).await.is_none(), "never signedin");
}

#[actix_web::test]
async fn held_tokens_are_released_by_the_right_code_within_the_window() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let (mut ws, page) = link_completed_by_someone_else(&app, &mock).await;
    let right = confirmation_code(&page.body).unwrap().replace('-', "");
    attacker_types_wrong_once(&mut ws, &right).await;
    app.clock.advance_secs(299);
    ws.send_json(&json!({"type": "confirm", "code": right}))
        .await;
    let signedin = ws.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-c-victim");
}

async fn attacker_types_wrong_once(ws: &mut WsClient, right: &str) {
    ws.send_json(&json!({"type": "confirm", "code": wrong_code(right, 0)}))
        .await;
    expect_error(ws, "bad_code", None).await;
}
