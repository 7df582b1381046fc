//! The extension page as a dashboard zone shows it: every state (connecting, ready, signing in
//! with the link, waiting for the code, signed in, error, offline) at 800x600, 300x250 and
//! 200x120, each saved as `target/browser-screenshots/layout-{state}-{w}x{h}.png` and checked:
//! nothing wider than the zone, the state's controls shown and inside the zone without
//! scrolling, no text cut off inside a button or field. Also: the heading is the provider's name,
//! and what the page knows about Tableau sits in a closed details element, not a footer.

use crate::browser::{EXPLAIN, allow_and_read_code, open_extension, replica_env, wait_state};
use crate::helpers::browser::{BROWSER_WAIT, Browser};
use crate::helpers::processes::{Replica, free_port};
use serde_json::json;

/// Zone sizes: a large pane, the small tile the issue names, and the smallest we support.
const SIZES: &[(u32, u32)] = &[(800, 600), (300, 250), (200, 120)];

/// Sets the page's viewport to `width` x `height` and checks that it took.
async fn set_viewport(browser: &Browser, width: u32, height: u32) {
    browser.emulate_viewport(Some((width, height)));
    let got = browser.js("return [innerWidth, innerHeight];").await;
    assert_eq!(
        got,
        json!([width, height]),
        "the viewport is {width}x{height}"
    );
}

/// What is wrong with the layout right now: `controls` (CSS selectors) must be shown and lie
/// inside the viewport at scroll 0; nothing may be wider than the viewport (nor, in the tiny
/// zone, where a scroll bar would take a tenth of the width, taller); no button or field may
/// cut off its own text.
const LAYOUT_PROBLEMS: &str = r#"
const controls = arguments[0];
window.scrollTo(0, 0);
const problems = [];
const root = document.documentElement;
if (root.scrollWidth > root.clientWidth) {
  problems.push(`wider than the zone: scrollWidth ${root.scrollWidth} > clientWidth ${root.clientWidth}`);
}
for (const css of controls) {
  const node = document.querySelector(css);
  const box = node && node.getBoundingClientRect();
  if (!box || box.width === 0 || box.height === 0) {
    problems.push(`${css} is not shown`);
  } else if (box.left < 0 || box.top < 0 || box.right > innerWidth + 0.5 || box.bottom > innerHeight + 0.5) {
    problems.push(`${css} is outside the ${innerWidth}x${innerHeight} zone: ` +
      `${Math.round(box.left)},${Math.round(box.top)} to ${Math.round(box.right)},${Math.round(box.bottom)}`);
  }
}
if (innerHeight <= 120 && root.scrollHeight > root.clientHeight) {
  problems.push(`taller than the tiny zone: scrollHeight ${root.scrollHeight} > clientHeight ${root.clientHeight}`);
}
for (const node of document.querySelectorAll("button, .button, input, select")) {
  if (node.offsetParent !== null && node.scrollWidth > node.clientWidth + 1) {
    problems.push(`#${node.id} cuts off its text (${node.scrollWidth} > ${node.clientWidth})`);
  }
}
return problems;
"#;

/// Waits for `state`, then at each size: screenshot and the layout checks for `controls`.
async fn check_every_size(browser: &Browser, state: &str, controls: &[&str]) {
    wait_state(browser, state_attribute(state)).await;
    check_layout(browser, state, controls).await;
}

/// At each size: a screenshot `layout-{name}-{w}x{h}.png`, then the layout checks for
/// `controls`; the viewport is the window's again at the end.
pub(crate) async fn check_layout(browser: &Browser, name: &str, controls: &[&str]) {
    let state = name;
    for &(width, height) in SIZES {
        set_viewport(browser, width, height).await;
        // One frame for the layout to follow the new size.
        browser
            .js("return new Promise((r) => requestAnimationFrame(() => r(true)));")
            .await;
        browser
            .save_screenshot(&format!("layout-{state}-{width}x{height}"))
            .await;
        let problems = browser
            .client
            .execute(LAYOUT_PROBLEMS, vec![json!(controls)])
            .await
            .unwrap();
        assert_eq!(
            problems,
            json!([]),
            "{state} at {width}x{height}: {problems}; page: {}",
            browser.js(EXPLAIN).await
        );
    }
    browser.emulate_viewport(None);
}

/// The screenshot names say what the person sees; the page's `data-state` is shorter.
fn state_attribute(state: &str) -> &str {
    match state {
        "signing-in-with-link" => "waiting",
        "waiting-for-code" => "code",
        "signed-in" => "signedin",
        other => other,
    }
}

/// Presses Sign in with windows blocked and returns the link the page shows instead.
async fn press_signin_for_link(ext: &Browser) -> String {
    ext.click("#signin").await;
    wait_state(ext, "waiting").await;
    ext.wait_js(
        "the sign-in link is shown",
        "return document.getElementById('signin-link').getAttribute('href');",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await
    .as_str()
    .unwrap()
    .to_owned()
}

#[actix_web::test]
async fn every_state_fits_a_large_a_small_and_a_tiny_zone() {
    let port = free_port();
    let env = replica_env(port, None);
    let mut broker = Replica::start_on(port, &env);
    let ext = open_extension(&format!("{}/", broker.base)).await;

    // Plain words: the service's name, in the heading and the title.
    assert_eq!(ext.text("h1").await, "Demo music service");
    assert_eq!(ext.js("return document.title;").await, "Demo music service");
    let chrome = ext
        .js("return { oauth: document.body.innerText.includes('OAuth'), \
             footer: document.querySelector('footer') !== null, \
             mode_in_closed_details: document.querySelector('details:not([open]) #mode') !== null };")
        .await;
    assert_eq!(
        chrome,
        json!({ "oauth": false, "footer": false, "mode_in_closed_details": true }),
        "no jargon, no diagnostic footer"
    );
    check_every_size(&ext, "ready", &["#signin"]).await;

    // Windows blocked (Tableau Desktop): the link is shown, followed in a "system browser".
    ext.js("window.open = function () { return null; }; return true;")
        .await;
    let href = press_signin_for_link(&ext).await;
    check_every_size(&ext, "signing-in-with-link", &["#signin-link"]).await;
    let system = Browser::start("system browser").await;
    system.goto(&href).await;
    let code = allow_and_read_code(&system).await;

    check_every_size(&ext, "waiting-for-code", &["#code", "#code-submit"]).await;
    ext.type_into("#code", &code).await;
    ext.click("#code-submit").await;
    ext.wait_js(
        "the favourite artist is shown",
        "return document.querySelector('#result .favourite strong') !== null;",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    check_every_size(&ext, "signed-in", &["#signout", "#result .favourite"]).await;

    // Signed out, then the broker goes away: offline, saying it reconnects.
    ext.click("#signout").await;
    wait_state(&ext, "ready").await;
    broker.kill();
    check_every_size(&ext, "offline", &["#status"]).await;
    assert!(
        ext.text("#status").await.contains("reconnecting"),
        "{}",
        ext.js(EXPLAIN).await
    );
    let _broker = Replica::start_on(port, &env);
    wait_state(&ext, "ready").await;

    // Deny in the sign-in window: the error, and Sign in again, both in view.
    let href = press_signin_for_link(&ext).await;
    system.goto(&href).await;
    system.click("#deny").await;
    check_every_size(&ext, "error", &["#error", "#signin"]).await;
    assert_eq!(
        ext.js("return window.oauthBrokerPage.state().error;").await,
        "access_denied"
    );
}

/// A page whose broker address answers nothing stays connecting, and says it keeps trying.
#[actix_web::test]
async fn connecting_fits_every_zone_and_says_it_keeps_trying() {
    let port = free_port();
    let mut env = replica_env(port, None);
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    env.insert("BROKER__SERVER__PUBLIC_URL".to_owned(), nowhere.clone());
    env.insert("BROKER__SERVER__CALLBACK_URL".to_owned(), nowhere);
    let broker = Replica::start_on(port, &env);
    let ext = Browser::start("extension").await;
    ext.goto(&format!("{}/", broker.base)).await;
    ext.wait_js(
        "the page says it keeps trying",
        "return document.getElementById('status').innerText.includes('Trying again');",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    check_every_size(&ext, "connecting", &["#status", "#signin"]).await;
    assert_eq!(
        ext.js("return document.getElementById('signin').disabled;")
            .await,
        true,
        "nothing to press before the broker answers"
    );
}
