//! The extension page in a real headless Chromium, driven through chromium-driver (WebDriver),
//! against the broker and its built-in demo provider: the whole sign-in as a person does it.
//!
//! Each test starts its own browser(s) and broker; the guards kill every process on drop, so a
//! failing test leaves nothing behind. The final state of each test is saved as a PNG under
//! `target/browser-screenshots/`.

use crate::helpers;
use crate::helpers::SEAL_KEY;
use crate::helpers::browser::{BROWSER_WAIT, Browser};
use crate::helpers::processes::{RedisServer, Replica, free_port};
use crate::helpers::{TestApp, demo_only_settings};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The demo provider's artists (src/demo/api.rs); the page shows the first five.
const ARTISTS: &[&str] = &[
    "Marigold Static",
    "Quiet Harbor Collective",
    "Juniper and the Tidewalkers",
    "Neon Orchard",
    "Saffron Radio",
];

/// What the page says about itself, for failure messages.
pub(crate) const EXPLAIN: &str = "return JSON.stringify({ hook: window.oauthBrokerPage ? window.oauthBrokerPage.state() : null, \
     state: document.body.dataset.state, status: document.getElementById('status').innerText, \
     error: document.getElementById('error').innerText, url: location.href });";

/// A browser on the extension page, connected and ready to sign in.
pub(crate) async fn open_extension(url: &str) -> Browser {
    let browser = Browser::start("extension").await;
    browser.goto(url).await;
    wait_state(&browser, "ready").await;
    assert_eq!(
        browser.text("#signin").await,
        "Sign in to Demo music service",
        "the button names the demo provider"
    );
    browser
}

pub(crate) async fn wait_state(browser: &Browser, state: &str) {
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

async fn page_state(browser: &Browser) -> Value {
    browser.js("return window.oauthBrokerPage.state();").await
}

/// In the current window (the consent page), presses Allow and returns the confirmation code
/// the completion page shows.
pub(crate) async fn allow_and_read_code(browser: &Browser) -> String {
    browser.wait_for("#allow").await;
    assert!(
        browser.current_url().await.contains("/demo/authorize?"),
        "the sign-in window shows the demo consent page"
    );
    browser.click("#allow").await;
    let code = browser.text("#confirm-code").await;
    assert!(
        browser.current_url().await.contains("/complete/demo?"),
        "Allow leads back to the broker's completion page"
    );
    let compact: String = code.chars().filter(|c| *c != '-').collect();
    assert!(
        compact.len() >= 6 && compact.chars().all(|c| c.is_ascii_alphanumeric()),
        "a readable code: {code:?}"
    );
    code
}

/// Types the code into the extension and waits until it shows the artists.
pub(crate) async fn confirm_code_and_see_artists(ext: &Browser, code: &str) {
    wait_state(ext, "code").await;
    ext.type_into("#code", code).await;
    ext.click("#code-submit").await;
    wait_state(ext, "signedin").await;
    ext.wait_js(
        "the artists are shown",
        "return document.querySelector('#result .favourite strong') !== null;",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    let result = ext.text("#result").await;
    assert!(
        ARTISTS.iter().any(|a| result.contains(a)),
        "an artist from the demo's list: {result:?}"
    );
    assert_eq!(
        ext.text("#status").await,
        "Signed in to Demo music service."
    );
    assert_eq!(ext.text("#error").await, "", "no error is shown");
    assert_eq!(page_state(ext).await["signedIn"], true);
}

/// Presses Sign in and returns the window it opened (the extension's window stays `main`).
async fn press_signin_and_follow_popup(ext: &Browser) -> fantoccini::wd::WindowHandle {
    let before = ext.windows().await;
    ext.click("#signin").await;
    wait_state(ext, "waiting").await;
    let popup = ext.wait_new_window(&before).await;
    ext.switch_to(popup.clone()).await;
    popup
}

/// A whole sign-in through the window the page opens, back in `main` at the end.
pub(crate) async fn sign_in_through_popup(ext: &Browser, main: &fantoccini::wd::WindowHandle) {
    press_signin_and_follow_popup(ext).await;
    let code = allow_and_read_code(ext).await;
    ext.client.close_window().await.unwrap();
    ext.switch_to(main.clone()).await;
    confirm_code_and_see_artists(ext, &code).await;
}

// ---- 1. the ordinary sign-in ---------------------------------------------------------------

#[actix_web::test]
async fn signs_in_through_the_window_it_opens_and_shows_the_artist() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let ext = open_extension(&app.url("/")).await;
    let mut console = ext.console();
    let main = ext.window().await;
    // In the page's "About" details (closed): not a footer every viewer reads.
    let mode = ext
        .js("return document.querySelector('details #mode').textContent;")
        .await;
    let mode = mode.as_str().unwrap_or_default();
    assert!(
        mode.starts_with("Tableau's Extensions API library did not load (static/vendor/"),
        "the page says the library is missing rather than claiming to be outside Tableau: {mode}"
    );

    press_signin_and_follow_popup(&ext).await;
    assert_eq!(
        ext.js("return window.opener === null;").await,
        true,
        "the sign-in window has no link back to the extension"
    );
    let code = allow_and_read_code(&ext).await;
    ext.save_screenshot("1-completion-page-with-code").await;

    ext.switch_to(main).await;
    wait_state(&ext, "code").await;
    ext.save_screenshot("1-extension-asks-for-the-code").await;
    confirm_code_and_see_artists(&ext, &code).await;
    ext.save_screenshot("1-signed-in").await;

    // Nothing went wrong on the way: no script error, no CSP violation, no failed request other
    // than Tableau's library, which is not shipped (the page runs standalone without it).
    console.extend(ext.console());
    let problems: Vec<_> = console
        .iter()
        .filter(|(level, message)| {
            level == "SEVERE"
                && !message.contains("/static/vendor/")
                && !message.contains("/favicon.ico")
        })
        .collect();
    assert!(problems.is_empty(), "console errors: {problems:#?}");
    eprintln!("console: {console:#?}");
}

// ---- 2. the sign-in window in another browser profile (Tableau Desktop) ---------------------

#[actix_web::test]
async fn signs_in_with_the_window_in_a_separate_browser_profile() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let ext = open_extension(&app.url("/")).await;
    // Tableau Desktop opens the window in the system browser, with no way back; a blocked popup
    // is the same for the page: it shows the link instead.
    ext.js("window.open = function () { return null; }; return true;")
        .await;
    ext.click("#signin").await;
    wait_state(&ext, "waiting").await;
    let href = ext
        .wait_js(
            "the sign-in link is shown",
            "return document.getElementById('signin-link').getAttribute('href');",
            BROWSER_WAIT,
            EXPLAIN,
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(href.starts_with(&app.url("/signin/")), "{href}");
    assert_eq!(ext.windows().await.len(), 1, "no window was opened");
    assert_eq!(ext.text("#signin-link").await, "Open the sign-in page");
    ext.save_screenshot("2-extension-shows-the-link").await;

    let system = Browser::start("system browser").await;
    system.goto(&href).await;
    assert_eq!(
        system
            .js("return document.cookie === '' && window.opener === null;")
            .await,
        true,
        "the system browser shares nothing with the extension"
    );
    let code = allow_and_read_code(&system).await;
    system.save_screenshot("2-system-browser-completion").await;

    // The link was single use: opening it again says to start over.
    system.goto(&href).await;
    let again = system.body_text().await;
    assert!(again.contains("press Sign in again"), "{again}");

    confirm_code_and_see_artists(&ext, &code).await;
    ext.save_screenshot("2-signed-in-from-separate-browser")
        .await;
}

// ---- 3. Deny ---------------------------------------------------------------------------------

#[actix_web::test]
async fn deny_is_reported_and_sign_in_works_again() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let ext = open_extension(&app.url("/")).await;
    let main = ext.window().await;

    press_signin_and_follow_popup(&ext).await;
    ext.click("#deny").await;
    ext.wait_js(
        "the completion page reports the refusal",
        "return document.body.innerText.includes(\"You didn't allow access\");",
        BROWSER_WAIT,
        "return document.body.innerText;",
    )
    .await;
    ext.client.close_window().await.unwrap();
    ext.switch_to(main.clone()).await;

    wait_state(&ext, "error").await;
    assert_eq!(page_state(&ext).await["error"], "access_denied");
    let error = ext.text("#error").await;
    assert!(
        error.contains("Access was declined") && error.contains("Sign in"),
        "{error}"
    );
    assert_eq!(
        ext.js("return document.getElementById('signin').disabled;")
            .await,
        false,
        "Sign in can be pressed again"
    );
    ext.save_screenshot("3-denied").await;

    sign_in_through_popup(&ext, &main).await;
    ext.save_screenshot("3-signed-in-after-deny").await;
}

// ---- 4. the broker restarts mid sign-in -------------------------------------------------------

pub(crate) fn replica_env(port: u16, redis: Option<&RedisServer>) -> HashMap<String, String> {
    let base = format!("http://127.0.0.1:{port}");
    let mut env = HashMap::new();
    env.insert("BROKER__SERVER__PUBLIC_URL".to_owned(), base.clone());
    env.insert("BROKER__SERVER__CALLBACK_URL".to_owned(), base);
    env.insert("BROKER__SECRETS__SEAL_KEY".to_owned(), SEAL_KEY.to_owned());
    if let Some(redis) = redis {
        env.insert("BROKER__STORE__REDIS_URL".to_owned(), redis.url());
    }
    env
}

/// SIGKILLs the broker (no close frames, no clean-up) and waits until the page notices.
async fn kill_broker(ext: &Browser, mut broker: Replica) {
    broker.kill();
    ext.wait_js(
        "the page notices the broker is gone",
        "return window.oauthBrokerPage.state().connected === false;",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    let status = ext.text("#status").await;
    assert!(
        status.contains("reconnecting") || status.contains("Trying again"),
        "the page says it is reconnecting: {status}"
    );
}

async fn wait_reconnected(ext: &Browser) {
    ext.wait_js(
        "the page reconnects",
        "return window.oauthBrokerPage.state().connected === true;",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
}

#[actix_web::test]
async fn a_broker_restart_mid_signin_says_to_start_again_and_sign_in_works_after() {
    let port = free_port();
    let env = replica_env(port, None);
    let broker = Replica::start_on(port, &env);
    let ext = open_extension(&format!("{}/", broker.base)).await;
    let main = ext.window().await;
    let popup = press_signin_and_follow_popup(&ext).await;
    ext.wait_for("#allow").await;
    ext.switch_to(main.clone()).await;

    kill_broker(&ext, broker).await;
    let broker = Replica::start_on(port, &env);
    wait_reconnected(&ext).await;

    // One process keeps sign-ins in memory: the session could not be resumed, the page says so.
    wait_state(&ext, "ready").await;
    assert_eq!(page_state(&ext).await["error"], "session_lost");
    let error = ext.text("#error").await;
    assert!(
        error.contains("was reset") && error.contains("Please sign in again"),
        "{error}"
    );
    assert_eq!(
        ext.js("return document.getElementById('signin').disabled;")
            .await,
        false
    );
    ext.save_screenshot("4-restart-says-start-again").await;

    // The consent page opened before the restart leads to a page saying to start again.
    ext.switch_to(popup).await;
    ext.click("#allow").await;
    ext.wait_js(
        "the old sign-in window says to start again",
        "return document.body.innerText.includes('press Sign in again');",
        BROWSER_WAIT,
        "return document.body.innerText;",
    )
    .await;
    ext.save_screenshot("4-old-window-after-restart").await;
    ext.client.close_window().await.unwrap();
    ext.switch_to(main.clone()).await;

    sign_in_through_popup(&ext, &main).await;
    ext.save_screenshot("4-signed-in-after-restart").await;

    // A restart while signed in costs nothing: the token lives in the page, and the broker's
    // "could not resume" notice is not shown as a sign-in error.
    kill_broker(&ext, broker).await;
    let _broker = Replica::start_on(port, &env);
    wait_reconnected(&ext).await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let state = page_state(&ext).await;
    assert_eq!(state["state"], "signedin", "{state}");
    assert_eq!(state["error"], "", "{state}");
    assert_eq!(ext.text("#error").await, "");
    assert_eq!(
        ext.text("#status").await,
        "Signed in to Demo music service."
    );
    ext.save_screenshot("4-still-signed-in-after-second-restart")
        .await;
}

/// With Redis the session and its pending sign-in outlive the process, so the sign-in finishes
/// after the restart. Redis is kept from answering while the broker comes back, so the page
/// reconnects before the new process has its store connection: the window every real restart
/// has, made wide enough to hit each time.
#[actix_web::test]
async fn with_redis_a_broker_restart_mid_signin_still_completes() {
    let redis = RedisServer::start();
    let port = free_port();
    let env = replica_env(port, Some(&redis));
    let broker = Replica::start_on(port, &env);
    let ext = open_extension(&format!("{}/", broker.base)).await;
    let main = ext.window().await;
    let session = page_state(&ext).await["session"].clone();
    let popup = press_signin_and_follow_popup(&ext).await;
    ext.wait_for("#allow").await;
    ext.switch_to(main.clone()).await;

    kill_broker(&ext, broker).await;
    redis.pause();
    let broker = Replica::spawn_on(port, &env);
    // The page keeps trying meanwhile.
    actix_rt::time::sleep(Duration::from_millis(1500)).await;
    redis.resume();
    let ready = format!("{}/readyz", broker.base);
    let deadline = Instant::now() + BROWSER_WAIT;
    while helpers::processes::http_status(&ready) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "the broker is not ready: {}",
            broker.log()
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    wait_reconnected(&ext).await;

    // Resumed: the same session, still waiting, nothing to apologise for.
    let state = page_state(&ext).await;
    assert_eq!(state["session"], session, "{state}\n{}", broker.log());
    assert_eq!(state["state"], "waiting", "{state}");
    assert_eq!(state["error"], "", "{state}");

    ext.switch_to(popup).await;
    let code = allow_and_read_code(&ext).await;
    ext.client.close_window().await.unwrap();
    ext.switch_to(main).await;
    confirm_code_and_see_artists(&ext, &code).await;
    ext.save_screenshot("4-redis-signed-in-across-restart")
        .await;
}

// ---- 5. refresh before expiry ---------------------------------------------------------------

fn refreshes_ok(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("oauth_broker_refreshes_total{"))
        .filter(|l| l.contains("provider=\"demo\"") && l.contains("outcome=\"ok\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[actix_web::test]
async fn a_token_near_expiry_is_refreshed_without_the_user() {
    let mut settings = demo_only_settings();
    // The page renews at expires_in - max(30 s, 10 %): about 5 s after signing in.
    settings.demo.access_token_ttl_secs = 35;
    let app = TestApp::spawn(settings).await;
    let ext = open_extension(&app.url("/")).await;
    let main = ext.window().await;
    sign_in_through_popup(&ext, &main).await;

    let first = page_state(&ext).await;
    let first_expiry = first["tokenExpiresAt"].as_f64().unwrap();
    let before = refreshes_ok(&app.metrics().await);

    // No clicks from here on.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = page_state(&ext).await;
        if state["tokenExpiresAt"].as_f64().unwrap_or(0.0) > first_expiry {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no refreshed token within 20 s: {state}"
        );
        actix_rt::time::sleep(Duration::from_millis(250)).await;
    }
    let after = refreshes_ok(&app.metrics().await);
    assert!(after > before, "the broker refreshed ({before} -> {after})");

    let state = page_state(&ext).await;
    assert_eq!(state["state"], "signedin", "{state}");
    assert_eq!(state["signedIn"], true);
    assert_eq!(state["error"], "", "{state}");
    // The renewed token works: the page loaded the artists again with it.
    ext.wait_js(
        "the artists are shown with the new token",
        "return document.querySelector('#result .favourite strong') !== null;",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    assert_eq!(
        ext.text("#status").await,
        "Signed in to Demo music service."
    );
    ext.save_screenshot("5-refreshed-without-user").await;
}
