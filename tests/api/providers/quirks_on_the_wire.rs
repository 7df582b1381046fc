//! Presets as the provider sees them. Each test takes a real preset, points only its URLs at
//! the mock provider, and checks the authorize redirect and the token request: Spotify exactly
//! as before, Dropbox's extra parameter, Strava's comma-separated scopes with no PKCE and the
//! client secret in the body.

use crate::helpers::mock_provider::{CLIENT_ID, CLIENT_SECRET, MockProvider};
use crate::helpers::{TestApp, fast_heartbeats, query_value};
use base64::Engine;
use oauth_broker::oauth::pkce::s256_challenge;
use oauth_broker::settings::{ProviderSettings, Settings};
use secrecy::SecretString;
use std::collections::BTreeMap;

/// One provider `name` using preset `name`, with only its URLs moved to the mock.
fn preset_at_mock(mock: &MockProvider, name: &str) -> Settings {
    let mut settings = Settings::default();
    settings.providers.insert(
        name.into(),
        ProviderSettings {
            client_id: CLIENT_ID.into(),
            client_secret: Some(SecretString::from(CLIENT_SECRET)),
            authorize_url: Some(format!("{}/authorize", mock.base)),
            token_url: Some(format!("{}/token", mock.base)),
            api_url: Some(format!("{}/v1", mock.base)),
            timeout_secs: 2,
            ..ProviderSettings::default()
        },
    );
    fast_heartbeats(&mut settings);
    settings
}

/// The authorize redirect's query as a map (each name once), and the token request the code
/// exchange made.
async fn sign_in_through(
    app: &TestApp,
    mock: &MockProvider,
    name: &str,
) -> (
    BTreeMap<String, String>,
    crate::helpers::mock_provider::TokenRequest,
) {
    let mut ws = app.connect().await;
    let authorize = app.start_signin(&mut ws, Some(name)).await;
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/authorize?", mock.base)),
        "{authorize}"
    );
    let mut query = BTreeMap::new();
    for (k, v) in authorize.query_pairs() {
        assert!(
            query.insert(k.to_string(), v.to_string()).is_none(),
            "{k} appears once"
        );
    }
    let state = query_value(&authorize, "state").unwrap();
    let page = app
        .complete(name, &[("code", "the-code"), ("state", &state)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    (query, requests.into_iter().next().unwrap())
}

fn keys(map: &BTreeMap<String, String>) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

#[actix_web::test]
async fn spotify_preset_sends_exactly_its_parameters() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(preset_at_mock(&mock, "spotify")).await;
    let (query, token) = sign_in_through(&app, &mock, "spotify").await;

    assert_eq!(
        keys(&query),
        [
            "client_id",
            "code_challenge",
            "code_challenge_method",
            "redirect_uri",
            "response_type",
            "scope",
            "state"
        ]
    );
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(
        query["redirect_uri"],
        format!("{}/complete/spotify", app.base)
    );
    assert_eq!(query["scope"], "user-top-read");
    assert_eq!(query["code_challenge_method"], "S256");

    let expected_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    assert_eq!(
        token.authorization.as_deref(),
        Some(expected_basic.as_str())
    );
    let mut form_keys: Vec<&str> = token.form.keys().map(String::as_str).collect();
    form_keys.sort();
    assert_eq!(
        form_keys,
        ["code", "code_verifier", "grant_type", "redirect_uri"]
    );
    assert_eq!(token.form["grant_type"], "authorization_code");
    assert_eq!(token.form["code"], "the-code");
    assert_eq!(
        s256_challenge(&token.form["code_verifier"]),
        query["code_challenge"],
        "the verifier of this attempt's challenge"
    );
}

#[actix_web::test]
async fn dropbox_preset_adds_its_extra_authorize_parameter() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(preset_at_mock(&mock, "dropbox")).await;
    let (query, token) = sign_in_through(&app, &mock, "dropbox").await;
    assert_eq!(query["token_access_type"], "offline");
    assert_eq!(query["scope"], "account_info.read");
    assert!(query.contains_key("code_challenge"));
    assert!(token.authorization.unwrap().starts_with("Basic "));
}

#[actix_web::test]
async fn configuration_replaces_one_of_a_presets_extra_parameters() {
    let mock = MockProvider::start();
    let mut settings = preset_at_mock(&mock, "dropbox");
    settings
        .providers
        .get_mut("dropbox")
        .unwrap()
        .extra_authorize_params
        .insert("token_access_type".into(), "online".into());
    let app = TestApp::spawn(settings).await;
    let (query, _) = sign_in_through(&app, &mock, "dropbox").await;
    assert_eq!(query["token_access_type"], "online");
}

#[actix_web::test]
async fn strava_preset_joins_scopes_with_commas_without_pkce_and_sends_the_secret_in_the_body() {
    let mock = MockProvider::start();
    let mut settings = preset_at_mock(&mock, "strava");
    settings.providers.get_mut("strava").unwrap().scopes =
        Some(vec!["read".into(), "activity:read".into()]);
    let app = TestApp::spawn(settings).await;
    let (query, token) = sign_in_through(&app, &mock, "strava").await;
    assert_eq!(query["scope"], "read,activity:read");
    assert!(!query.contains_key("code_challenge"), "{query:?}");
    assert!(!query.contains_key("code_challenge_method"));
    assert_eq!(token.authorization, None);
    assert_eq!(token.form["client_id"], CLIENT_ID);
    assert_eq!(token.form["client_secret"], CLIENT_SECRET);
    assert!(!token.form.contains_key("code_verifier"));
}

#[actix_web::test]
async fn configuration_overrides_a_presets_separator_pkce_and_client_auth() {
    let mock = MockProvider::start();
    let mut settings = preset_at_mock(&mock, "strava");
    let strava = settings.providers.get_mut("strava").unwrap();
    strava.scopes = Some(vec!["read".into(), "activity:read".into()]);
    strava.scope_separator = Some(" ".into());
    strava.pkce = Some(true);
    strava.client_auth = Some(oauth_broker::settings::ClientAuth::Basic);
    let app = TestApp::spawn(settings).await;
    let (query, token) = sign_in_through(&app, &mock, "strava").await;
    assert_eq!(query["scope"], "read activity:read");
    assert!(query.contains_key("code_challenge"));
    assert!(token.authorization.unwrap().starts_with("Basic "));
    assert!(token.form.contains_key("code_verifier"));
}
