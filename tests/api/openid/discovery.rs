//! Discovery at start: a provider whose metadata cannot be read keeps `/readyz` at 503 and its
//! sign-in links unusable; once it answers, the broker picks it up (retrying with back-off)
//! and becomes ready, without a restart.

use super::{begin, redirect_back, settings_for, wait_for_readyz};
use crate::helpers::TestApp;
use crate::helpers::mock_openid::MockOpenId;
use serde_json::json;

#[actix_web::test]
async fn discovery_down_at_start_is_not_ready_then_ready_when_it_answers() {
    let mock = MockOpenId::start();
    mock.set_discovery_up(false);
    let app = TestApp::spawn(settings_for(&mock)).await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert!(ready.body.contains("OpenID Connect"), "{}", ready.body);
    assert_eq!(app.get("/healthz").await.status, 200, "alive all the same");

    // A sign-in link opened meanwhile gets a page saying to try again, not a redirect.
    let mut ws = app.connect().await;
    ws.send_json(&json!({"type": "begin", "provider": "idp"}))
        .await;
    let link = ws.expect("signin").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = app.get(&link).await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.header("location").is_none());

    mock.set_discovery_up(true);
    wait_for_readyz(&app, 200).await;
    let mut attempt = begin(&app, &mock).await;
    let page = redirect_back(&app, &attempt, Some(&mock.issuer)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    attempt.ws.expect("signedin").await;
}

#[actix_web::test]
async fn metadata_naming_another_issuer_is_never_loaded() {
    let mock = MockOpenId::start();
    let mut settings = settings_for(&mock);
    // The same server, named with a trailing slash: its metadata's issuer differs by that
    // slash, which Discovery §4.3 says must be refused.
    settings.providers.get_mut("idp").unwrap().issuer = Some(format!("{}/", mock.issuer));
    let app = TestApp::spawn(settings).await;
    actix_rt::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(app.get("/readyz").await.status, 503);
}
