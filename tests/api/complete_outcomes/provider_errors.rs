//! Access denied and other errors the provider sends back: the page, and what the session
//! hears.

use super::{QUIET, begun_state, expect_error};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, assert_strict_headers, settings_with};

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
