//! The demo provider end to end through its routes, one test per property of the contract.

use super::{DemoProvider, configure};
use crate::clock::{AdjustableClock, SharedClock};
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use actix_web::{App, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use url::Url;

const CLIENT_ID: &str = "demo-client";
const SECRET: &str = "demo-secret";
const REDIRECT_URI: &str = "http://127.0.0.1:8080/complete/demo";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const TTL: u64 = 3600;

struct Fixture {
    provider: web::Data<DemoProvider>,
    clock: Arc<AdjustableClock>,
}

fn fixture() -> Fixture {
    let clock = Arc::new(AdjustableClock::default());
    let shared: SharedClock = clock.clone();
    let provider = DemoProvider::new(
        CLIENT_ID.into(),
        SECRET.into(),
        vec![REDIRECT_URI.into()],
        TTL,
        shared,
    )
    .with_api_origins(vec![PAGE_ORIGIN.into()]);
    Fixture {
        provider: web::Data::new(provider),
        clock,
    }
}

macro_rules! app {
    ($fixture:expr) => {
        init_service(
            App::new()
                .app_data($fixture.provider.clone())
                .configure(configure),
        )
        .await
    };
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn authorize_uri(pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://x/demo/authorize").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    format!("/demo/authorize?{}", url.query().unwrap())
}

fn good_authorize_pairs(challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", CLIENT_ID.into()),
        ("redirect_uri", REDIRECT_URI.into()),
        ("scope", "user-top-read".into()),
        ("state", "st<ate>&1".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

fn borrowed<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn header_of(response: &ServiceResponse, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

async fn body_text(response: ServiceResponse) -> String {
    String::from_utf8(read_body(response).await.to_vec()).unwrap()
}

async fn body_json(response: ServiceResponse) -> serde_json::Value {
    serde_json::from_slice(&read_body(response).await).unwrap()
}

fn location_params(response: &ServiceResponse) -> (Url, HashMap<String, String>) {
    let location = response.headers().get(header::LOCATION).unwrap();
    let url = Url::parse(location.to_str().unwrap()).unwrap();
    let params = url.query_pairs().into_owned().collect();
    (url, params)
}

/// The sealed request from the consent page's hidden field.
fn sealed_request(html: &str) -> String {
    let start = html.find("name=\"request\" value=\"").unwrap() + 22;
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

fn consent_request(sealed: &str, decision: &str) -> TestRequest {
    TestRequest::post()
        .uri("/demo/consent")
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(form(&[("request", sealed), ("decision", decision)]))
}

fn token_request(pairs: &[(&str, &str)]) -> TestRequest {
    TestRequest::post()
        .uri("/demo/api/token")
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(form(pairs))
}

fn code_exchange(code: &str, verifier: &str) -> TestRequest {
    token_request(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
    ])
    .insert_header((header::AUTHORIZATION, basic(CLIENT_ID, SECRET)))
}

/// Authorize, then Allow: the code the provider sends back.
macro_rules! obtain_code {
    ($app:expr) => {{
        let pairs = good_authorize_pairs(&challenge(VERIFIER));
        let page = call_service(
            &$app,
            TestRequest::get()
                .uri(&authorize_uri(&borrowed(&pairs)))
                .to_request(),
        )
        .await;
        assert_eq!(page.status(), StatusCode::OK);
        let sealed = sealed_request(&body_text(page).await);
        let back = call_service(&$app, consent_request(&sealed, "allow").to_request()).await;
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        location_params(&back).1["code"].clone()
    }};
}

/// The origin of a page allowed to read the demo API (the broker's `sessions.allowed_origins`).
const PAGE_ORIGIN: &str = "http://localhost:8080";

fn api_request(token: &str) -> TestRequest {
    TestRequest::get()
        .uri("/demo/v1/me/top/artists?limit=5")
        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
        .insert_header((header::ORIGIN, PAGE_ORIGIN))
}

#[actix_web::test]
async fn the_whole_sign_in_works() {
    let fx = fixture();
    let app = app!(fx);

    let pairs = good_authorize_pairs(&challenge(VERIFIER));
    let page = call_service(
        &app,
        TestRequest::get()
            .uri(&authorize_uri(&borrowed(&pairs)))
            .to_request(),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header_of(&page, header::CACHE_CONTROL), "no-store");
    let csp = header_of(&page, header::CONTENT_SECURITY_POLICY).to_owned();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:8080"),
        "{csp}"
    );
    let html = body_text(page).await;
    assert!(html.contains("wants to read your top artists"));
    assert!(html.contains("<strong>oauth-broker demo</strong>"));
    assert!(html.contains("<form method=\"post\" action=\"consent\">"));
    assert!(html.contains("value=\"allow\" id=\"allow\" class=\"primary\">Allow</button>"));
    assert!(html.contains("value=\"deny\" id=\"deny\">Deny</button>"));

    let back = call_service(
        &app,
        consent_request(&sealed_request(&html), "allow").to_request(),
    )
    .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let (url, params) = location_params(&back);
    assert_eq!(url.as_str().split('?').next().unwrap(), REDIRECT_URI);
    assert_eq!(params["state"], "st<ate>&1");
    let code = params["code"].clone();

    let tokens = call_service(&app, code_exchange(&code, VERIFIER).to_request()).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    assert_eq!(header_of(&tokens, header::CACHE_CONTROL), "no-store");
    let tokens = body_json(tokens).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], TTL);
    assert_eq!(tokens["scope"], "user-top-read");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Refresh, with credentials in the body this time: both tokens are new.
    let refreshed = call_service(
        &app,
        token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ])
        .to_request(),
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = body_json(refreshed).await;
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
    assert_ne!(refreshed["access_token"], tokens["access_token"]);
    assert_eq!(refreshed["scope"], "user-top-read");

    let artists = call_service(
        &app,
        api_request(refreshed["access_token"].as_str().unwrap()).to_request(),
    )
    .await;
    assert_eq!(artists.status(), StatusCode::OK);
    assert_eq!(
        header_of(&artists, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        PAGE_ORIGIN
    );
    let artists = body_json(artists).await;
    assert_eq!(artists["items"].as_array().unwrap().len(), 5);
    assert_eq!(artists["limit"], 5);
    assert_eq!(artists["offset"], 0);
    assert!(artists["total"].as_u64().unwrap() >= 5);
    assert_eq!(artists["items"][0]["type"], "artist");
    assert!(
        artists["items"][0]["external_urls"]["spotify"]
            .as_str()
            .unwrap()
            .starts_with("https://example.invalid/artist/")
    );
}

#[actix_web::test]
async fn deny_sends_access_denied_back() {
    let fx = fixture();
    let app = app!(fx);
    let pairs = good_authorize_pairs(&challenge(VERIFIER));
    let page = call_service(
        &app,
        TestRequest::get()
            .uri(&authorize_uri(&borrowed(&pairs)))
            .to_request(),
    )
    .await;
    let sealed = sealed_request(&body_text(page).await);
    let back = call_service(&app, consent_request(&sealed, "deny").to_request()).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let (_, params) = location_params(&back);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st<ate>&1");
    assert!(!params.contains_key("code"));
}

#[actix_web::test]
async fn an_unregistered_redirect_uri_gets_a_page_not_a_redirect() {
    let fx = fixture();
    let app = app!(fx);
    for (name, value) in [
        ("redirect_uri", "http://127.0.0.1:8080/complete/evil"),
        ("client_id", "someone-else"),
    ] {
        let mut pairs = good_authorize_pairs(&challenge(VERIFIER));
        pairs.retain(|(k, _)| *k != name);
        pairs.push((name, value.into()));
        let response = call_service(
            &app,
            TestRequest::get()
                .uri(&authorize_uri(&borrowed(&pairs)))
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(response.headers().get(header::LOCATION).is_none());
        assert!(body_text(response).await.contains("not registered"));
    }
}

#[actix_web::test]
async fn repeated_or_missing_parameters_get_a_page() {
    let fx = fixture();
    let app = app!(fx);
    let mut repeated = good_authorize_pairs(&challenge(VERIFIER));
    repeated.push(("state", "other".into()));
    let mut missing = good_authorize_pairs(&challenge(VERIFIER));
    missing.retain(|(k, _)| *k != "state");
    for pairs in [repeated, missing] {
        let response = call_service(
            &app,
            TestRequest::get()
                .uri(&authorize_uri(&borrowed(&pairs)))
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get(header::LOCATION).is_none());
    }
}

#[actix_web::test]
async fn bad_parameters_are_redirected_back_as_errors() {
    let fx = fixture();
    let app = app!(fx);
    let cases = [
        ("response_type", "token", "unsupported_response_type"),
        ("code_challenge_method", "plain", "invalid_request"),
        ("code_challenge", "too-short", "invalid_request"),
        ("scope", "two  spaces", "invalid_scope"),
    ];
    for (name, value, error) in cases {
        let mut pairs = good_authorize_pairs(&challenge(VERIFIER));
        pairs.retain(|(k, _)| *k != name);
        pairs.push((name, value.into()));
        let response = call_service(
            &app,
            TestRequest::get()
                .uri(&authorize_uri(&borrowed(&pairs)))
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name}");
        let (_, params) = location_params(&response);
        assert_eq!(params["error"], error, "{name}");
        assert_eq!(params["state"], "st<ate>&1");
    }
}

#[actix_web::test]
async fn a_tampered_consent_form_is_refused() {
    let fx = fixture();
    let app = app!(fx);
    let pairs = good_authorize_pairs(&challenge(VERIFIER));
    let page = call_service(
        &app,
        TestRequest::get()
            .uri(&authorize_uri(&borrowed(&pairs)))
            .to_request(),
    )
    .await;
    let sealed = sealed_request(&body_text(page).await);
    let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let tampered = URL_SAFE_NO_PAD.encode(raw);
    let response = call_service(&app, consent_request(&tampered, "allow").to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());

    fx.clock.advance_secs(601);
    let response = call_service(&app, consent_request(&sealed, "allow").to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(response).await.contains("expired"));
}

#[actix_web::test]
async fn a_wrong_verifier_is_invalid_grant() {
    let fx = fixture();
    let app = app!(fx);
    let code = obtain_code!(app);
    let other_verifier = "A".repeat(43);
    let response = call_service(&app, code_exchange(&code, &other_verifier).to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = body_json(response).await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "code_verifier was incorrect");
    // The failed attempt consumed the code: a thief gets one guess.
    let response = call_service(&app, code_exchange(&code, VERIFIER).to_request()).await;
    assert_eq!(body_json(response).await["error"], "invalid_grant");
}

#[actix_web::test]
async fn a_replayed_code_is_invalid_grant() {
    let fx = fixture();
    let app = app!(fx);
    let code = obtain_code!(app);
    let first = call_service(&app, code_exchange(&code, VERIFIER).to_request()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let replay = call_service(&app, code_exchange(&code, VERIFIER).to_request()).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let body = body_json(replay).await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "Authorization code already used");
}

#[actix_web::test]
async fn an_expired_code_is_invalid_grant() {
    let fx = fixture();
    let app = app!(fx);
    let code = obtain_code!(app);
    fx.clock.advance_secs(61);
    let response = call_service(&app, code_exchange(&code, VERIFIER).to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = body_json(response).await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "Authorization code expired");
}

#[actix_web::test]
async fn a_different_redirect_uri_at_exchange_is_invalid_grant() {
    let fx = fixture();
    let app = app!(fx);
    let code = obtain_code!(app);
    let response = call_service(
        &app,
        token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8080/complete/other"),
            ("code_verifier", VERIFIER),
        ])
        .insert_header((header::AUTHORIZATION, basic(CLIENT_ID, SECRET)))
        .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(response).await["error"], "invalid_grant");
}

#[actix_web::test]
async fn a_wrong_secret_is_invalid_client() {
    let fx = fixture();
    let app = app!(fx);
    let code = obtain_code!(app);
    let attempts = [
        token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .insert_header((header::AUTHORIZATION, basic(CLIENT_ID, "wrong"))),
        token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ]),
        // Basic and body both present and disagreeing.
        token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "other"),
        ])
        .insert_header((header::AUTHORIZATION, basic(CLIENT_ID, SECRET))),
        // No credentials at all.
        token_request(&[("grant_type", "authorization_code"), ("code", &code)]),
    ];
    for attempt in attempts {
        let response = call_service(&app, attempt.to_request()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(header_of(&response, header::WWW_AUTHENTICATE).starts_with("Basic"));
        assert_eq!(body_json(response).await["error"], "invalid_client");
    }
    // Client failures do not consume the code.
    let response = call_service(&app, code_exchange(&code, VERIFIER).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[actix_web::test]
async fn token_request_errors_follow_rfc_6749() {
    let fx = fixture();
    let app = app!(fx);
    let auth = (header::AUTHORIZATION, basic(CLIENT_ID, SECRET));
    let cases = [
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (vec![("code", "x")], "invalid_request"),
        (
            vec![("grant_type", "refresh_token"), ("refresh_token", "forged")],
            "invalid_grant",
        ),
        (vec![("grant_type", "refresh_token")], "invalid_request"),
    ];
    for (pairs, error) in cases {
        let response = call_service(
            &app,
            token_request(&pairs)
                .insert_header(auth.clone())
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(header_of(&response, header::CACHE_CONTROL), "no-store");
        let body = body_json(response).await;
        assert_eq!(body["error"], error);
        assert!(body["error_description"].is_string());
    }
}

#[actix_web::test]
async fn an_expired_access_token_is_401() {
    let fx = fixture();
    let app = app!(fx);
    let code = obtain_code!(app);
    let tokens =
        body_json(call_service(&app, code_exchange(&code, VERIFIER).to_request()).await).await;
    let access = tokens["access_token"].as_str().unwrap();
    fx.clock.advance_secs(TTL + 1);
    let response = call_service(&app, api_request(access).to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header_of(&response, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        PAGE_ORIGIN
    );
    let body = body_json(response).await;
    assert_eq!(body["error"]["status"], 401);
    assert_eq!(body["error"]["message"], "The access token expired");

    // A refresh token is not an access token.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let response = call_service(&app, api_request(refresh).to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        body_json(response).await["error"]["message"],
        "Invalid access token"
    );
}

#[actix_web::test]
async fn cors_preflight_is_answered() {
    let fx = fixture();
    let app = app!(fx);
    let response = call_service(
        &app,
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/demo/v1/me/top/artists")
            .insert_header((header::ORIGIN, PAGE_ORIGIN))
            .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "GET"))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header_of(&response, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        PAGE_ORIGIN
    );
    assert_eq!(header_of(&response, header::VARY), "Origin");
    assert_eq!(
        header_of(&response, header::ACCESS_CONTROL_ALLOW_METHODS),
        "GET, OPTIONS"
    );
    assert_eq!(
        header_of(&response, header::ACCESS_CONTROL_ALLOW_HEADERS),
        "Authorization, Content-Type"
    );
    assert_eq!(header_of(&response, header::ACCESS_CONTROL_MAX_AGE), "600");

    // Without a token: 401, still readable by an allowed page.
    let response = call_service(
        &app,
        TestRequest::get()
            .uri("/demo/v1/me/top/artists")
            .insert_header((header::ORIGIN, PAGE_ORIGIN))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header_of(&response, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        PAGE_ORIGIN
    );
}

#[actix_web::test]
async fn pages_of_other_origins_cannot_read_the_api() {
    let fx = fixture();
    let app = app!(fx);
    for origin in [
        Some("https://elsewhere.example"),
        Some("http://localhost:8081"),
        Some("null"),
        None,
    ] {
        let mut request = TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/demo/v1/me/top/artists")
            .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "GET"));
        if let Some(origin) = origin {
            request = request.insert_header((header::ORIGIN, origin));
        }
        let response = call_service(&app, request.to_request()).await;
        assert!(
            response
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "{origin:?}"
        );
        assert_eq!(header_of(&response, header::VARY), "Origin");
    }
}
