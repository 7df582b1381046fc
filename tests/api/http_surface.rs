//! Every row of the contract's HTTP table, over real HTTP: the extension page and its static
//! files, the manifest, health and readiness (also while draining), metrics, the built-in demo
//! provider end to end, and 404 for anything else.

use crate::helpers;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::own_process::ran_in_own_process;
use crate::helpers::{
    Response, TestApp, WsClient, assert_strict_headers, confirmation_code, demo_only_settings,
    fast_heartbeats, query_value, settings_with,
};
use oauth_broker::settings::Settings;
use serde_json::{Value, json};
use url::Url;

// ---- helpers ---------------------------------------------------------------------------------

/// The JSON inside `<script type="application/json" id="broker-config">`.
fn broker_config(page: &str) -> Value {
    let marker = "id=\"broker-config\">";
    let start = page.find(marker).expect("the page embeds broker-config") + marker.len();
    let end = start + page[start..].find("</script>").expect("the script ends");
    serde_json::from_str(&page[start..end]).expect("broker-config is JSON")
}

/// The `?v=` the page puts on `static/{file}`.
fn asset_version(page: &str, file: &str) -> String {
    let marker = format!("static/{file}?v=");
    let start = page.find(&marker).expect("versioned reference") + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// The value of one series in Prometheus text; 0 when it has not been recorded yet.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().expect("a number"))
        .unwrap_or(0.0)
}

/// Undoes `pages::escape`.
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `name="..."` inside one tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

/// Every `<input type="hidden">` of the page as (name, value).
fn hidden_inputs(page: &str) -> Vec<(String, String)> {
    page.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            (attribute(tag, "type")? == "hidden")
                .then(|| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
                .flatten()
        })
        .collect()
}

async fn post_form(app: &TestApp, url: &str, fields: &[(String, String)]) -> Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut response = app
        .http
        .post(url)
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body(body)
        .await
        .expect("POST answered");
    read(&mut response).await
}

async fn get_with_bearer(app: &TestApp, url: &str, token: &str) -> Response {
    let mut response = app
        .http
        .get(url)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .expect("GET answered");
    read(&mut response).await
}

async fn read<S>(response: &mut awc::ClientResponse<S>) -> Response
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    helpers::read_response(response).await.expect("body")
}

// ---- the extension page, static files, manifest ----------------------------------------------

#[actix_web::test]
async fn the_extension_page_carries_its_config_and_a_strict_csp() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let page = app.get("/").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        page.header("content-type")
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let connect_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("connect-src"))
        .expect("connect-src");
    let ws_origin = app.base.replacen("http", "ws", 1);
    assert!(connect_src.contains(&ws_origin), "{connect_src}");

    let config = broker_config(&page.body);
    assert_eq!(config["wsUrl"], app.ws_url());
    assert_eq!(config["providers"][0]["name"], "mock");
    assert_eq!(config["confirmCode"], true);

    for file in ["app.js", "app.css"] {
        assert!(!asset_version(&page.body, file).is_empty(), "{file}");
    }
    assert!(
        !page.body.contains("{{"),
        "every placeholder is filled: {}",
        page.body
    );
}

#[actix_web::test]
async fn static_files_are_immutable_only_at_the_current_version() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let page = app.get("/").await;
    let version = asset_version(&page.body, "app.js");

    let versioned = app.get(&format!("/static/app.js?v={version}")).await;
    assert_eq!(versioned.status, 200);
    assert!(
        versioned
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/javascript")),
        "{:?}",
        versioned.header("content-type")
    );
    let cache = versioned.header("cache-control").unwrap();
    assert!(cache.contains("immutable"), "{cache}");
    assert!(!versioned.body.is_empty());

    let bare = app.get("/static/app.js").await;
    assert_eq!(bare.status, 200);
    assert_eq!(bare.header("cache-control"), Some("no-cache"));
    assert_eq!(bare.body, versioned.body);

    let stale = app.get("/static/app.js?v=000000000000").await;
    assert_eq!(
        stale.header("cache-control"),
        Some("no-cache"),
        "an old version"
    );

    let css = app.get(&format!("/static/app.css?v={version}")).await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

#[actix_web::test]
async fn unknown_static_files_and_path_traversal_are_404() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    // awc sends these paths as written (http::Uri does not resolve dot segments).
    for path in [
        "/static/nope.js",
        "/static/../Cargo.toml",
        "/static/../../Cargo.toml",
        "/static/..%2FCargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/vendor/../../Cargo.toml",
        "/static/./app.js/../../Cargo.toml",
        "/static/..%5CCargo.toml",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status, 404, "{path}");
        assert!(!response.body.contains("[package]"), "{path} served a file");
    }
}

#[actix_web::test]
async fn the_manifest_points_tableau_at_the_public_url() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let manifest = app.get("/manifest.trex").await;
    assert_eq!(manifest.status, 200);
    assert!(
        manifest
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/xml")),
        "{:?}",
        manifest.header("content-type")
    );
    let xml = manifest.body.trim_start();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.trim_end().ends_with("</manifest>"), "{xml}");
    let start = xml.find("<source-location>").expect("source-location");
    let end = xml
        .find("</source-location>")
        .expect("source-location ends");
    let location = &xml[start..end];
    assert!(
        location.contains(&format!("<url>{}/</url>", app.base)),
        "{location}"
    );
    assert!(!xml.contains("{{"), "the placeholder is filled");
}

// ---- health, readiness, draining -------------------------------------------------------------

#[actix_web::test]
async fn health_and_readiness_answer_200_while_serving() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);
}

#[actix_web::test]
async fn draining_fails_readiness_and_refuses_new_websockets() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    // Before: a socket opens.
    app.connect().await;

    app.handle.broker().start_draining();
    assert_eq!(app.get("/readyz").await.status, 503);
    assert_eq!(app.get("/healthz").await.status, 200, "still alive");
    match WsClient::open(&app.ws_url(), Some(&app.base)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503);
        }
        Err(e) => panic!("refused, but not with 503: {e}"),
        Ok(_) => panic!("a new WebSocket opened while draining"),
    }
}

// ---- metrics ---------------------------------------------------------------------------------

#[actix_web::test]
async fn metrics_count_a_sign_in_and_a_rejected_link() {
    // The recorder is global to the process, and other tests reject sign-in links too: the
    // exact change in `bad_ticket` below holds only with this test alone in its process.
    if ran_in_own_process(concat!(
        module_path!(),
        "::metrics_count_a_sign_in_and_a_rejected_link"
    )) {
        return;
    }
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    // The recorder is global to this test process: a provider name of our own keeps the
    // deltas ours.
    settings
        .providers
        .insert("metricsprobe".into(), mock.provider_settings());
    let app = TestApp::spawn(settings).await;
    let started = "oauth_broker_signins_started_total{provider=\"metricsprobe\"}";
    let completed = "oauth_broker_signins_completed_total{provider=\"metricsprobe\"}";
    let bad_ticket = "oauth_broker_rejected_total{reason=\"bad_ticket\"}";

    let mut ws = app.connect().await;
    let before = app.metrics().await;
    let authorize = app.start_signin(&mut ws, Some("metricsprobe")).await;
    let state = query_value(&authorize, "state").unwrap();
    let page = app
        .complete("metricsprobe", &[("code", "m1"), ("state", &state)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    ws.expect("confirm").await;
    let shown = confirmation_code(&page.body).unwrap();
    ws.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    assert_eq!(ws.expect("signedin").await["provider"], "metricsprobe");
    let after = app.metrics().await;

    assert!(after.contains("# HELP "), "{after}");
    assert_eq!(metric(&after, started) - metric(&before, started), 1.0);
    assert_eq!(metric(&after, completed) - metric(&before, completed), 1.0);
    assert!(
        after.contains("oauth_broker_token_endpoint_seconds_bucket{")
            && after.contains("provider=\"metricsprobe\""),
        "{after}"
    );
    assert!(
        after
            .lines()
            .any(|l| l.starts_with("oauth_broker_sessions_open ")),
        "{after}"
    );
    assert!(
        metric(&after, "oauth_broker_sessions_open") >= 1.0,
        "ours is open"
    );

    let rejected_before = metric(&after, bad_ticket);
    assert_eq!(app.get("/signin/NoSuchTicket").await.status, 400);
    let rejected_after = metric(&app.metrics().await, bad_ticket);
    assert_eq!(rejected_after - rejected_before, 1.0);
}

// ---- the demo provider, end to end without a browser -----------------------------------------

fn demo_app_settings() -> Settings {
    let mut settings = demo_only_settings();
    fast_heartbeats(&mut settings);
    settings
}

/// Begins with `demo`, follows the link to the consent page and submits it with `decision`.
/// Returns the broker's completion page the browser lands on.
async fn demo_consent(app: &TestApp, ws: &mut WsClient, decision: &str) -> Response {
    let authorize = app.start_signin(ws, Some("demo")).await;
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/demo/authorize?", app.base)),
        "{authorize}"
    );
    let state = query_value(&authorize, "state").unwrap();

    let consent = app.get(authorize.as_str()).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert_strict_headers(&consent);
    assert!(
        consent.body.contains("action=\"consent\""),
        "{}",
        consent.body
    );
    assert!(
        consent.body.contains("name=\"decision\" value=\"allow\"")
            && consent.body.contains("name=\"decision\" value=\"deny\""),
        "{}",
        consent.body
    );
    let mut fields = hidden_inputs(&consent.body);
    assert!(!fields.is_empty(), "the form has hidden inputs");
    fields.push(("decision".into(), decision.into()));
    let action = authorize.join("consent").unwrap();
    assert_eq!(action.as_str(), format!("{}/demo/consent", app.base));

    let back = post_form(app, action.as_str(), &fields).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let location = Url::parse(back.header("location").unwrap()).unwrap();
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}/complete/demo?", app.base)),
        "{location}"
    );
    assert_eq!(query_value(&location, "state"), Some(state));
    app.get(location.as_str()).await
}

#[actix_web::test]
async fn the_demo_provider_signs_in_and_serves_top_artists() {
    let app = TestApp::spawn(demo_app_settings()).await;
    let mut ws = app.connect().await;
    let page = demo_consent(&app, &mut ws, "allow").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_strict_headers(&page);
    let shown = confirmation_code(&page.body).expect("the page shows a code");
    ws.expect("confirm").await;
    ws.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    let signedin = ws.expect("signedin").await;
    assert_eq!(signedin["provider"], "demo");
    let token = signedin["access_token"].as_str().unwrap();
    assert!(!page.body.contains(token), "no token on the page");

    let api = format!("{}/demo/v1/me/top/artists?limit=5", app.base);
    let artists = get_with_bearer(&app, &api, token).await;
    assert_eq!(artists.status, 200, "{}", artists.body);
    let body: Value = serde_json::from_str(&artists.body).expect("JSON");
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 5);
    assert!(
        items[0]["name"].as_str().is_some_and(|n| !n.is_empty()),
        "{body}"
    );

    // The API checks the token: a wrong one is refused.
    let forged = get_with_bearer(&app, &api, "not-a-token").await;
    assert_eq!(forged.status, 401);
}

#[actix_web::test]
async fn denying_at_the_demo_provider_tells_the_session_access_denied() {
    let app = TestApp::spawn(demo_app_settings()).await;
    let mut ws = app.connect().await;
    let page = demo_consent(&app, &mut ws, "deny").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_strict_headers(&page);
    assert!(confirmation_code(&page.body).is_none());
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "access_denied");
    assert_eq!(error["provider"], "demo");
}

// ---- everything else -------------------------------------------------------------------------

#[actix_web::test]
async fn unknown_paths_are_404() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    for path in [
        "/nope",
        "/index.html",
        "/static/",
        "/signin",
        "/signin/",
        "/complete",
        "/complete/",
        "/metrics",
        "/demo/authorize",
        "/ws/extra",
        "/healthz/extra",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status, 404, "{path}: {}", response.body);
    }
}
