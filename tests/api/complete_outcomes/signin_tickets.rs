//! The sign-in link (`GET /signin/{ticket}`): unknown, used, expired or malformed tickets.

use super::assert_bad_request_page;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, settings_with};

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
    let link = ws.begin("mock").await;
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
    let old = ws.begin("mock").await;
    app.clock.advance_secs(100);
    let young = ws.begin("mock").await;
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
