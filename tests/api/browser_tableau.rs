//! The extension page inside "Tableau": a stand-in for Tableau's Extensions API library
//! (served from another origin through `extension.tableau_api_url`, as a CDN would) that
//! records what the page asks of it. The page calls `initializeAsync` with a `configure`
//! callback; Configure lets a dashboard author pick the provider, saved in the extension's
//! settings (the name only), and the page uses it from then on.

use crate::helpers::browser::{BROWSER_WAIT, Browser};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::static_site::StaticSite;
use crate::helpers::{TestApp, demo_only_settings};

/// Tableau's library as far as the page uses it; settings persist in `sessionStorage`, as
/// Tableau keeps them in the workbook.
const FAKE_TABLEAU: &str = r#"(function () {
  const key = "fake-tableau-settings";
  const store = JSON.parse(sessionStorage.getItem(key) || "{}");
  window.fakeTableau = { initOptions: null, saved: null };
  window.tableau = { extensions: {
    initializeAsync(options) { window.fakeTableau.initOptions = options || null; return Promise.resolve(); },
    dashboardContent: { dashboard: { name: "Sales overview" } },
    settings: {
      get: (k) => store[k],
      set: (k, v) => { store[k] = String(v); },
      getAll: () => Object.assign({}, store),
      saveAsync: () => {
        sessionStorage.setItem(key, JSON.stringify(store));
        window.fakeTableau.saved = Object.assign({}, store);
        return Promise.resolve(Object.assign({}, store));
      },
    },
  } };
})();"#;

const EXPLAIN: &str = "return JSON.stringify({ page: window.oauthBrokerPage && window.oauthBrokerPage.state(), \
     mode: document.getElementById('mode').textContent, fake: window.fakeTableau || null });";

#[actix_web::test]
async fn configure_lets_the_dashboard_author_pick_the_provider_and_it_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tableau.extensions.1.latest.min.js"),
        FAKE_TABLEAU,
    )
    .unwrap();
    let cdn = StaticSite::serve(dir.path().to_owned());
    let mock = MockProvider::start();
    let mut settings = demo_only_settings();
    settings
        .providers
        .insert("mock".into(), mock.provider_settings());
    settings.extension.tableau_api_url =
        format!("{}/tableau.extensions.1.latest.min.js", cdn.origin);
    let app = TestApp::spawn(settings).await;

    let ext = Browser::start("extension in Tableau").await;
    ext.goto(&app.url("/")).await;
    ext.wait_js(
        "the page runs in Tableau",
        "return document.getElementById('mode').textContent === 'Running in Tableau · Sales overview';",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    assert_eq!(
        ext.js("return typeof window.fakeTableau.initOptions.configure;")
            .await,
        "function",
        "initializeAsync is given a configure callback"
    );
    assert_eq!(
        ext.js("return window.oauthBrokerPage.state().provider;")
            .await,
        "demo",
        "the first provider until the author chooses"
    );

    // Two providers and no choice made yet: viewers pick one, in view in every zone.
    crate::browser_layout::check_layout(&ext, "ready-with-a-choice", &["#provider", "#signin"])
        .await;

    ext.js("window.fakeTableau.initOptions.configure(); return true;")
        .await;
    ext.wait_js(
        "the Configure panel is shown",
        "return !document.getElementById('panel-configure').hidden;",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    ext.save_screenshot("tableau-1-configure").await;
    // Configure takes the zone, however small: the choice and Save in view.
    crate::browser_layout::check_layout(
        &ext,
        "configure",
        &["#configure-provider", "#configure-save"],
    )
    .await;
    ext.js("document.getElementById('configure-provider').value = 'mock'; return true;")
        .await;
    ext.click("#configure-save").await;
    ext.wait_js(
        "the choice is saved in the extension's settings",
        "return window.fakeTableau.saved !== null && document.getElementById('panel-configure').hidden;",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    assert_eq!(
        ext.js("return JSON.stringify(window.fakeTableau.saved);")
            .await,
        r#"{"provider":"mock"}"#,
        "the provider's name and nothing else"
    );
    assert_eq!(
        ext.js("return window.oauthBrokerPage.state().provider;")
            .await,
        "mock"
    );
    assert_eq!(
        ext.js("return document.getElementById('provider-row').hidden;")
            .await,
        true,
        "viewers are not asked to choose what the author chose"
    );

    // Reopened (the workbook keeps the settings): the author's choice holds.
    ext.client.refresh().await.unwrap();
    ext.wait_js(
        "the saved provider is used after a reload",
        "return window.oauthBrokerPage && window.oauthBrokerPage.state().dashboardProvider === 'mock' \
         && window.oauthBrokerPage.state().provider === 'mock';",
        BROWSER_WAIT,
        EXPLAIN,
    )
    .await;
    ext.save_screenshot("tableau-2-configured-provider").await;
}
