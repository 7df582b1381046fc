//! The completion page in a real headless Chromium: the browser reloads it (as a person does,
//! or as the provider's redirect opened twice does) and still sees its confirmation code, and
//! once the code was typed into the dashboard the page says so, by its own refresh and on a
//! reload. The session is a plain WebSocket client here; the sign-in window is the browser.

use crate::browser::allow_and_read_code;
use crate::helpers::browser::{BROWSER_WAIT, Browser};
use crate::helpers::{TestApp, demo_only_settings};
use serde_json::json;
use std::time::Duration;

const EXPLAIN: &str = "return location.href + ' :: ' + document.body.innerText;";

#[actix_web::test]
async fn a_real_reload_keeps_the_code_and_the_page_says_when_it_was_typed() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let mut ws = app.connect().await;
    let link = ws.begin("demo").await;
    let browser = Browser::start("sign-in window").await;
    browser.goto(&link).await;
    let code = allow_and_read_code(&browser).await;
    ws.expect("confirm").await;
    assert_eq!(
        browser.js("return document.cookie;").await,
        json!(""),
        "the cookie is HttpOnly: no script reads it"
    );

    browser.client.refresh().await.expect("the page reloads");
    assert_eq!(
        browser.text("#confirm-code").await,
        code,
        "the reloaded page shows the same code"
    );
    assert!(
        browser.current_url().await.contains("/complete/demo?"),
        "still the completion URL"
    );
    assert!(
        ws.try_recv(Duration::from_millis(800)).await.is_none(),
        "a reload tells the session nothing"
    );

    ws.send_json(&json!({"type": "confirm", "code": code}))
        .await;
    ws.expect("signedin").await;
    // Without anyone touching it, the page's own refresh brings the news.
    browser
        .wait_js(
            "the page says the sign-in is done",
            "return document.body.innerText.includes('close this window') \
             && !document.getElementById('confirm-code');",
            BROWSER_WAIT,
            EXPLAIN,
        )
        .await;
    browser.client.refresh().await.expect("the page reloads");
    let text = browser.body_text().await;
    assert!(text.contains("You're signed in"), "{text}");
    browser
        .save_screenshot("completion-done-after-reload")
        .await;
}
