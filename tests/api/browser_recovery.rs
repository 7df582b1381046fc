//! The extension page when something is off the happy path: the sign-in window closed before
//! the sign-in (its link is spent: the fallback link mints a fresh one), and the dashboard
//! opened in another window (which takes the session over: this one says so and stays quiet
//! until "Use it here" starts a session of its own),
//! and the dashboard reopened (signed in again through the kept handle, until signed out).

use crate::browser::{
    EXPLAIN, allow_and_read_code, confirm_code_and_see_artists, open_extension,
    sign_in_through_popup, wait_state,
};
use crate::helpers::browser::BROWSER_WAIT;
use crate::helpers::{TestApp, WsClient, demo_only_settings};
use std::time::Duration;

#[actix_web::test]
async fn after_the_window_was_closed_the_fallback_link_mints_a_fresh_link() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let ext = open_extension(&app.url("/")).await;
    let main = ext.window().await;
    let before = ext.windows().await;
    ext.click("#signin").await;
    wait_state(&ext, "waiting").await;
    let first = ext.wait_new_window(&before).await;
    ext.switch_to(first).await;
    ext.wait_for("#allow").await;
    let spent = ext.current_url().await;
    ext.client.close_window().await.unwrap();
    ext.switch_to(main.clone()).await;

    assert_eq!(
        ext.text("#signin-link").await,
        "Get a new sign-in page",
        "the closed window spent that link"
    );
    let known = ext.windows().await;
    ext.click("#signin-link").await;
    let second = ext.wait_new_window(&known).await;
    ext.switch_to(second).await;
    let code = allow_and_read_code(&ext).await;
    assert_ne!(ext.current_url().await, spent);
    ext.client.close_window().await.unwrap();
    ext.switch_to(main).await;
    confirm_code_and_see_artists(&ext, &code).await;
}

#[actix_web::test]
async fn a_dashboard_opened_in_another_window_says_so_and_does_not_take_it_back() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let ext = open_extension(&app.url("/")).await;
    let secret = ext
        .js("return sessionStorage.getItem('oauth-broker:' + location.origin + ':resume');")
        .await;
    let secret = secret.as_str().expect("the page keeps its resume secret");
    let mut other = WsClient::resume(&app.ws_url(), Some(&app.base), secret).await;

    ext.wait_js(
        "the page says the dashboard is open elsewhere",
        "return document.getElementById('error').innerText.includes('another window');",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    ext.save_screenshot("recovery-opened-in-another-window")
        .await;
    // The longest message the page has, in every zone.
    crate::browser_layout::check_layout(&ext, "error-opened-elsewhere", &["#error", "#reclaim"])
        .await;
    // The other window keeps the session: this page does not reconnect and take it back.
    assert!(
        other.try_recv(Duration::from_millis(1500)).await.is_none(),
        "the other connection was not ended"
    );
    assert_eq!(
        ext.js("return window.oauthBrokerPage.state().connected;")
            .await,
        false
    );
    let status = ext.text("#status").await;
    assert!(!status.contains("reconnecting"), "it does not: {status}");

    // Until the person asks for it here: resume secrets are single use (the other window spent
    // this one), so the page starts a session of its own, and the other window keeps its own.
    let before = ext
        .js("return window.oauthBrokerPage.state().session;")
        .await;
    ext.click("#reclaim").await;
    wait_state(&ext, "ready").await;
    let state = ext.js("return window.oauthBrokerPage.state();").await;
    assert_eq!(state["connected"], true, "{state}");
    assert_ne!(state["session"], before, "{state}");
    assert_eq!(ext.text("#error").await, "");
    assert!(
        other.try_recv(Duration::from_millis(500)).await.is_none(),
        "the other window keeps its session"
    );
}

/// The client keeps the sealed refresh handle: reopening the dashboard signs the viewer back in
/// without a click (one renewal), and Sign out forgets it for the next visit too.
#[actix_web::test]
async fn a_reopened_dashboard_is_signed_in_again_until_signed_out() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let ext = open_extension(&app.url("/")).await;
    let main = ext.window().await;
    sign_in_through_popup(&ext, &main).await;

    ext.client.refresh().await.unwrap();
    wait_state(&ext, "signedin").await;
    ext.wait_js(
        "the artists are shown again",
        "return document.querySelector('#result .favourite strong') !== null;",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    assert_eq!(ext.text("#error").await, "", "no error is shown");

    ext.click("#signout").await;
    wait_state(&ext, "ready").await;
    assert_eq!(ext.text("#status").await, "You are signed out.");
    ext.client.refresh().await.unwrap();
    wait_state(&ext, "ready").await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let state = ext.js("return window.oauthBrokerPage.state();").await;
    assert_eq!(state["state"], "ready", "still signed out: {state}");
    assert_eq!(state["signedIn"], false, "{state}");
}
