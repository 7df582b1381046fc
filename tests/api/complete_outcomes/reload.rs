//! Reloading the completion page: the browser that got it (recognised by the `HttpOnly`
//! cookie its first answer set) sees the same code while the tokens wait, with no second code
//! exchange, and that the sign-in is done once the code was typed. The same URL without that
//! cookie is a replay: 400, and no session hears anything.

use super::{QUIET, assert_bad_request_page, begun_state};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{
    Response, TestApp, WsClient, assert_strict_headers, confirmation_code, read_response,
    settings_with,
};
use serde_json::json;

/// A completion whose page showed a code: the page's URL, the cookie it set (`name=value`)
/// and the code.
pub(super) struct Answered {
    pub(super) url: String,
    pub(super) cookie: String,
    pub(super) code: String,
}

pub(super) async fn answered(app: &TestApp, ws: &mut WsClient, code: &str) -> Answered {
    let state = begun_state(app, ws, "mock").await;
    let url = app.url(&format!("/complete/mock?code={code}&state={state}"));
    let page = app.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let set_cookie = page.header("set-cookie").expect("the page sets a cookie");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let shown = confirmation_code(&page.body).expect("the page shows a code");
    ws.expect("confirm").await;
    Answered {
        url,
        cookie,
        code: shown,
    }
}

/// GET with a `Cookie` header, as the browser sends it on a reload.
pub(super) async fn get_with_cookie(app: &TestApp, url: &str, cookie: &str) -> Response {
    let mut response = app
        .http
        .get(url)
        .insert_header(("Cookie", cookie))
        .send()
        .await
        .expect("answered");
    read_response(&mut response).await.expect("body")
}

#[actix_web::test]
async fn the_cookie_is_http_only_for_complete_only_and_comes_back_after_a_redirect() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let state = begun_state(&app, &mut ws, "mock").await;
    let page = app
        .complete("mock", &[("code", "c1"), ("state", &state)])
        .await;
    let cookie = page.header("set-cookie").expect("a cookie");
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
    assert!(attributes.contains(&"Path=/complete/"), "{cookie}");
    assert!(attributes.contains(&"SameSite=Lax"), "{cookie}");
    assert!(
        attributes.iter().any(|a| a.starts_with("Max-Age=")),
        "{cookie}"
    );
    assert!(!attributes.contains(&"Secure"), "plain HTTP here: {cookie}");
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert!(
        !value.contains(&state) && !page.body.contains(value),
        "{cookie}"
    );
}

#[actix_web::test]
async fn a_reload_shows_the_same_code_without_a_second_exchange_or_frame() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let first = answered(&app, &mut ws, "reload").await;

    for _ in 0..2 {
        let again = get_with_cookie(&app, &first.url, &first.cookie).await;
        assert_eq!(again.status, 200, "{}", again.body);
        assert_strict_headers(&again);
        assert_eq!(confirmation_code(&again.body), Some(first.code.clone()));
        assert!(
            again.body.contains("http-equiv=\"refresh\""),
            "it asks again"
        );
        assert!(!again.body.contains("<script"), "no script");
        assert!(
            again.header("set-cookie").is_none(),
            "nothing new to remember"
        );
    }
    assert_eq!(
        mock.requests().len(),
        1,
        "one code exchange, however many reloads"
    );
    assert!(
        ws.try_recv(QUIET).await.is_none(),
        "the session hears nothing more"
    );

    // The code from the reloaded page is the one that works.
    ws.send_json(&json!({"type": "confirm", "code": first.code}))
        .await;
    assert_eq!(ws.expect("signedin").await["access_token"], "at-reload");
}

#[actix_web::test]
async fn once_the_code_was_typed_a_reload_says_the_signin_is_done() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let first = answered(&app, &mut ws, "typed").await;
    ws.send_json(&json!({"type": "confirm", "code": first.code}))
        .await;
    ws.expect("signedin").await;

    let done = get_with_cookie(&app, &first.url, &first.cookie).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_strict_headers(&done);
    assert!(done.body.contains("signed in"), "{}", done.body);
    assert!(done.body.contains("close this window"), "{}", done.body);
    assert_eq!(confirmation_code(&done.body), None, "no code any more");
    assert!(
        !done.body.contains("http-equiv"),
        "nothing left to wait for"
    );
    assert_eq!(mock.requests().len(), 1);
}

#[actix_web::test]
async fn the_same_url_without_its_cookie_is_a_replay_that_reaches_no_session() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let first = answered(&app, &mut ws, "replay").await;
    let name = first.cookie.split_once('=').unwrap().0;
    let other = answered(&app, &mut app.connect().await, "other").await;

    let attempts = [
        String::new(),
        format!("{name}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        // Another completion's cookie, renamed: bound to its own state, it opens nothing here.
        format!("{name}={}", other.cookie.split_once('=').unwrap().1),
    ];
    for cookie in attempts {
        let replay = get_with_cookie(&app, &first.url, &cookie).await;
        assert_bad_request_page(&replay);
        assert_eq!(confirmation_code(&replay.body), None, "cookie {cookie:?}");
    }
    assert_eq!(mock.requests().len(), 2, "no exchange for a replay");
    assert!(
        ws.try_recv(QUIET).await.is_none(),
        "no session hears a replay"
    );
    // The genuine browser still gets its page.
    let genuine = get_with_cookie(&app, &first.url, &first.cookie).await;
    assert_eq!(confirmation_code(&genuine.body), Some(first.code));
}

#[actix_web::test]
async fn a_reload_after_the_code_ran_out_says_to_sign_in_again() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let first = answered(&app, &mut ws, "late").await;
    app.clock.advance_secs(301); // signin.confirm_ttl_secs = 300
    let over = get_with_cookie(&app, &first.url, &first.cookie).await;
    assert_eq!(over.status, 200, "{}", over.body);
    assert_eq!(confirmation_code(&over.body), None);
    assert!(over.body.contains("Sign in again"), "{}", over.body);
    assert!(!over.body.contains("http-equiv"), "{}", over.body);
}

#[actix_web::test]
async fn without_confirmation_codes_a_reload_says_the_signin_is_done() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.signin.confirm_code = false;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    let state = begun_state(&app, &mut ws, "mock").await;
    let url = app.url(&format!("/complete/mock?code=direct&state={state}"));
    let page = app.get(&url).await;
    let cookie = page
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    ws.expect("signedin").await;
    let again = get_with_cookie(&app, &url, &cookie).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.contains("close this window"), "{}", again.body);
    assert_eq!(mock.requests().len(), 1);
    assert!(ws.try_recv(QUIET).await.is_none(), "delivered once");
}
