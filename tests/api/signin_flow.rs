//! The whole sign-in path, as the contract's sequence describes it, against a mock provider.

use crate::helpers;
use crate::helpers::mock_provider::{self, Behaviour, MockProvider};
use crate::helpers::{TestApp, confirmation_code, query_value, settings_with};
use oauth_broker::oauth::pkce::s256_challenge;
use serde_json::json;

#[actix_web::test]
async fn hello_names_the_session_and_providers() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let ws = app.connect().await;
    let session = ws.session();
    assert_eq!(session.len(), 20);
    assert!(session.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(ws.hello["providers"], json!(["mock"]));
    assert_eq!(ws.hello["heartbeat_secs"], 1);
    assert!(ws.hello["resume"].as_str().unwrap().len() >= 20);
}

#[actix_web::test]
async fn signin_link_redirects_to_the_provider_with_pkce_and_a_fresh_state() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_json(&json!({"type": "begin", "provider": "mock"}))
        .await;
    let signin = ws.expect("signin").await;
    let link = signin["url"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/signin/", app.base)), "{link}");
    assert!(
        !link.contains(&ws.session()),
        "the link never carries the session ID"
    );
    assert_eq!(signin["expires_in"], 120);
    assert_eq!(signin["provider"], "mock");

    let response = app.get(link).await;
    assert_eq!(response.status, 303);
    helpers::assert_strict_headers(&response);
    let location = url::Url::parse(response.header("location").unwrap()).unwrap();
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}/authorize?", mock.base))
    );
    assert_eq!(
        query_value(&location, "response_type").as_deref(),
        Some("code")
    );
    assert_eq!(
        query_value(&location, "client_id").as_deref(),
        Some(mock_provider::CLIENT_ID)
    );
    assert_eq!(
        query_value(&location, "redirect_uri"),
        Some(format!("{}/complete/mock", app.base))
    );
    assert_eq!(
        query_value(&location, "scope").as_deref(),
        Some("user-top-read")
    );
    assert_eq!(
        query_value(&location, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let state = query_value(&location, "state").unwrap();
    assert_ne!(state, ws.session(), "state is not the session ID");
    assert!(state.len() >= 32);
    assert_eq!(query_value(&location, "code_challenge").unwrap().len(), 43);
}

#[actix_web::test]
async fn tokens_arrive_after_the_code_shown_on_the_page_is_typed() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let authorize = app.start_signin(&mut ws, None).await;
    let state = query_value(&authorize, "state").unwrap();
    let page = app
        .complete("mock", &[("code", "abc"), ("state", &state)])
        .await;
    assert_eq!(page.status, 200);
    helpers::assert_strict_headers(&page);
    let shown = confirmation_code(&page.body).expect("the page shows a code");
    assert!(!page.body.contains("at-abc"), "no token on the page");

    let confirm = ws.expect("confirm").await;
    assert_eq!(confirm["provider"], "mock");
    assert_eq!(confirm["expires_in"], 300);
    ws.send_json(&json!({"type": "confirm", "code": shown.to_lowercase()}))
        .await;
    let signedin = ws.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-abc");
    assert_eq!(signedin["token_type"], "Bearer");
    assert_eq!(signedin["expires_in"], 3600);
    assert_eq!(signedin["scope"], "user-top-read");
    let handle = signedin["refresh"].as_str().unwrap();
    assert!(!handle.contains("rt-abc"), "the refresh token is sealed");

    // The token request carried the client secret (Basic) and the verifier matching the
    // challenge sent to the provider.
    let request = &mock.requests()[0];
    assert_eq!(request.form["grant_type"], "authorization_code");
    assert_eq!(request.form["code"], "abc");
    assert_eq!(
        request.form["redirect_uri"],
        format!("{}/complete/mock", app.base)
    );
    assert_eq!(
        s256_challenge(&request.form["code_verifier"]),
        query_value(&authorize, "code_challenge").unwrap()
    );
    assert!(
        request
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Basic ")
    );
    assert!(!request.form.contains_key("client_secret"));
}

#[actix_web::test]
async fn without_confirmation_codes_tokens_arrive_at_once() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.signin.confirm_code = false;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    let authorize = app.start_signin(&mut ws, Some("mock")).await;
    let state = query_value(&authorize, "state").unwrap();
    let page = app
        .complete("mock", &[("code", "xyz"), ("state", &state)])
        .await;
    assert_eq!(page.status, 200);
    assert!(confirmation_code(&page.body).is_none());
    let signedin = ws.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-xyz");
}

#[actix_web::test]
async fn body_client_auth_sends_the_secret_in_the_form() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.providers.get_mut("mock").unwrap().client_auth =
        Some(oauth_broker::settings::ClientAuth::Body);
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    app.sign_in(&mut ws, "c1").await;
    let request = &mock.requests()[0];
    assert_eq!(request.form["client_id"], mock_provider::CLIENT_ID);
    assert_eq!(request.form["client_secret"], mock_provider::CLIENT_SECRET);
    assert!(request.authorization.is_none());
}

#[actix_web::test]
async fn refresh_gives_a_new_token_and_a_rotated_handle() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let signedin = app.sign_in(&mut ws, "r1").await;
    let handle = signedin["refresh"].as_str().unwrap().to_owned();
    ws.send_json(&json!({"type": "refresh", "refresh": handle}))
        .await;
    let renewed = ws.expect("signedin").await;
    assert_eq!(renewed["access_token"], "at-rt-r1");
    let new_handle = renewed["refresh"].as_str().unwrap();
    assert_ne!(new_handle, handle);
    let request = mock.requests().last().unwrap().clone();
    assert_eq!(request.form["grant_type"], "refresh_token");
    assert_eq!(request.form["refresh_token"], "rt-r1");

    // The rotated handle works too.
    ws.send_json(&json!({"type": "refresh", "refresh": new_handle}))
        .await;
    let again = ws.expect("signedin").await;
    assert_eq!(again["access_token"], "at-rt-r1-rotated");
}

#[actix_web::test]
async fn refresh_without_rotation_keeps_a_working_handle() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let signedin = app.sign_in(&mut ws, "r2").await;
    mock.set(Behaviour::TokensWithoutRefresh);
    ws.send_json(&json!({"type": "refresh", "refresh": signedin["refresh"]}))
        .await;
    let renewed = ws.expect("signedin").await;
    ws.send_json(&json!({"type": "refresh", "refresh": renewed["refresh"]}))
        .await;
    ws.expect("signedin").await;
    assert_eq!(
        mock.requests().last().unwrap().form["refresh_token"],
        "rt-r2"
    );
}

#[actix_web::test]
async fn a_dead_refresh_token_asks_for_a_new_sign_in() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let signedin = app.sign_in(&mut ws, "r3").await;
    mock.set(Behaviour::Status(
        400,
        r#"{"error":"invalid_grant"}"#.into(),
    ));
    ws.send_json(&json!({"type": "refresh", "refresh": signedin["refresh"]}))
        .await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "reauth_required");
    assert_eq!(error["provider"], "mock");
}

#[actix_web::test]
async fn a_forged_or_foreign_handle_asks_for_a_new_sign_in() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    for handle in ["", "v1.", "v1.AAAA", "garbage", &"x".repeat(5000)] {
        ws.send_json(&json!({"type": "refresh", "refresh": handle}))
            .await;
        let error = ws.expect("error").await;
        assert_eq!(error["code"], "reauth_required", "{handle}");
    }
    let other = oauth_broker::sealing::RefreshSealer::random();
    let foreign = other.seal("mock", &oauth_broker::secrets::RefreshToken::new("rt"), 0);
    ws.send_json(&json!({"type": "refresh", "refresh": foreign.expose()}))
        .await;
    assert_eq!(ws.expect("error").await["code"], "reauth_required");
    assert!(mock.requests().is_empty(), "nothing reached the provider");
}
