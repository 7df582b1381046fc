//! The JavaScript client (`/static/oauth-broker-client.js`) in headless Chromium, used only
//! through its documented API by `examples/minimal-extension/index.html`, served from another
//! origin (allowed through `sessions.allowed_origins`): sign-in with the demo provider, the
//! confirmation code through `onConfirmCode`, the demo API through `broker.fetch`, renewal by
//! `accessToken`, a blocked window through `onLink`, and a sign-in that survives a broker
//! restart with Redis. Screenshots go to `target/browser-screenshots/`.

use crate::browser::{allow_and_read_code, replica_env};
use crate::helpers::browser::{BROWSER_WAIT, Browser};
use crate::helpers::processes::{RedisServer, Replica, free_port};
use crate::helpers::static_site::StaticSite;
use crate::helpers::{TestApp, demo_only_settings};
use serde_json::Value;
use std::path::Path;

const EXPLAIN: &str = "return JSON.stringify({ state: document.body.dataset.state, \
     status: document.getElementById('status').innerText, \
     problem: document.getElementById('problem').innerText, url: location.href });";

fn example_site() -> StaticSite {
    StaticSite::serve(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal-extension"))
}

/// The example page in a browser, its client connected to `broker`.
async fn open_example(site: &StaticSite, broker: &str) -> Browser {
    let browser = Browser::start("minimal extension").await;
    browser
        .goto(&format!("{}/?broker={broker}", site.origin))
        .await;
    wait_state(&browser, "ready").await;
    browser
}

async fn wait_state(browser: &Browser, state: &str) {
    let script = format!(
        "return document.body.dataset.state === {};",
        serde_json::json!(state)
    );
    browser
        .wait_js(
            &format!("the page is {state}"),
            &script,
            BROWSER_WAIT,
            EXPLAIN,
        )
        .await;
}

/// Runs a promise-returning expression in the page and waits for its value.
async fn await_js(browser: &Browser, what: &str, expression: &str) -> Value {
    browser
        .js(&format!(
            "window.__done = undefined; Promise.resolve({expression}).then(\
             (v) => window.__done = {{ ok: v }}, (e) => window.__done = {{ error: String(e && e.code || e) }}); return true;"
        ))
        .await;
    let done = browser
        .wait_js(
            what,
            "return window.__done === undefined ? false : JSON.stringify(window.__done);",
            BROWSER_WAIT,
            EXPLAIN,
        )
        .await;
    serde_json::from_str(done.as_str().unwrap()).unwrap()
}

async fn type_code_and_see_artists(ext: &Browser, code: &str) {
    ext.wait_js(
        "the page asks for the code (onConfirmCode)",
        "return !document.getElementById('code-form').hidden;",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    ext.type_into("#code", code).await;
    ext.click("#code-form button").await;
    wait_state(ext, "signedin").await;
    let artists = ext
        .js("return document.querySelectorAll('#artists li').length;")
        .await;
    assert_eq!(
        artists, 5,
        "the demo API's five artists, fetched cross-origin"
    );
}

fn allow_page_origin(site: &StaticSite) -> oauth_broker::settings::Settings {
    let mut settings = demo_only_settings();
    settings.sessions.allowed_origins = vec![site.origin.clone()];
    // Inside the client's renewal margin (a minute): every accessToken call renews.
    settings.demo.access_token_ttl_secs = 30;
    settings
}

#[actix_web::test]
async fn a_page_on_another_origin_signs_in_fetches_and_renews_through_the_client() {
    let site = example_site();
    let app = TestApp::spawn(allow_page_origin(&site)).await;
    let ext = open_example(&site, &app.base).await;
    let main = ext.window().await;
    let before = ext.windows().await;
    ext.click("#signin").await;
    let popup = ext.wait_new_window(&before).await;
    ext.switch_to(popup).await;
    assert_eq!(
        ext.js("return window.opener === null;").await,
        true,
        "the sign-in window has no link back to the page"
    );
    let code = allow_and_read_code(&ext).await;
    ext.client.close_window().await.unwrap();
    ext.switch_to(main).await;
    type_code_and_see_artists(&ext, &code).await;
    ext.save_screenshot("client-1-signed-in-from-another-origin")
        .await;

    let first = await_js(&ext, "a token", "window.example.client.accessToken('demo')").await;
    let second = await_js(
        &ext,
        "a renewed token",
        "window.example.client.accessToken('demo')",
    )
    .await;
    assert!(first["ok"].is_string(), "{first}");
    assert!(second["ok"].is_string(), "{second}");
    assert_ne!(first, second, "a token in its last minute is renewed");
    let status = await_js(
        &ext,
        "the API with the renewed token",
        "window.example.client.fetch('demo', window.example.client.url + '/demo/v1/me/top/artists').then((r) => r.status)",
    )
    .await;
    assert_eq!(status["ok"], 200, "{status}");
}

#[actix_web::test]
async fn a_blocked_window_goes_through_on_link() {
    let site = example_site();
    let app = TestApp::spawn(allow_page_origin(&site)).await;
    let ext = open_example(&site, &app.base).await;
    ext.js("window.open = function () { return null; }; return true;")
        .await;
    ext.click("#signin").await;
    let href = ext
        .wait_js(
            "the link is shown (onLink)",
            "return document.getElementById('link').hidden ? false : document.getElementById('link-a').href;",
            BROWSER_WAIT,
            EXPLAIN,
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(href.starts_with(&app.url("/signin/")), "{href}");
    assert_eq!(ext.windows().await.len(), 1, "no window was opened");
    ext.save_screenshot("client-2-blocked-window-shows-the-link")
        .await;

    let elsewhere = Browser::start("system browser").await;
    elsewhere.goto(&href).await;
    let code = allow_and_read_code(&elsewhere).await;
    type_code_and_see_artists(&ext, &code).await;
}

#[actix_web::test]
async fn a_sign_in_survives_a_broker_restart_with_redis() {
    let site = example_site();
    let redis = RedisServer::start();
    let port = free_port();
    let mut env = replica_env(port, Some(&redis));
    env.insert(
        "BROKER__SESSIONS__ALLOWED_ORIGINS".into(),
        site.origin.clone(),
    );
    let mut broker = Replica::start_on(port, &env);
    let ext = open_example(&site, &broker.base).await;
    let main = ext.window().await;
    let before = ext.windows().await;
    ext.click("#signin").await;
    let popup = ext.wait_new_window(&before).await;
    ext.switch_to(popup.clone()).await;
    ext.wait_for("#allow").await;
    ext.switch_to(main.clone()).await;

    broker.kill();
    wait_state(&ext, "offline").await;
    let broker = Replica::start_on(port, &env);
    ext.wait_js(
        "the client reconnects",
        "return window.example.client.state === 'ready';",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;

    ext.switch_to(popup).await;
    let code = allow_and_read_code(&ext).await;
    ext.client.close_window().await.unwrap();
    ext.switch_to(main).await;
    type_code_and_see_artists(&ext, &code).await;
    ext.save_screenshot("client-3-signed-in-across-a-restart")
        .await;
    drop(broker);
}
