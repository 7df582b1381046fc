//! Every URL the broker builds comes from `server.public_url` / `server.callback_url`, never
//! from the request: a forged `Host` or `X-Forwarded-*` header changes nothing. The app runs
//! with actix-web's default app config (transport/mod.rs), whose host and scheme only a URL
//! built from the request would show; this pins that none is.

use super::helpers::mock_provider::MockProvider;
use super::helpers::{TestApp, query_value, read_response, settings_with};
use serde_json::json;

const FORGED: [(&str, &str); 4] = [
    ("Host", "evil.example"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Proto", "https"),
    ("Forwarded", "host=evil.example;proto=https"),
];

#[actix_web::test]
async fn forged_host_headers_change_no_url_the_broker_builds() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;

    let mut request = app.http.get(app.url("/manifest.trex"));
    for header in FORGED {
        request = request.insert_header(header);
    }
    let mut response = request.send().await.expect("manifest answered");
    let manifest = read_response(&mut response).await.expect("manifest read");
    assert_eq!(manifest.status, 200);
    assert!(manifest.body.contains(&app.base), "{}", manifest.body);
    assert!(!manifest.body.contains("evil.example"), "{}", manifest.body);

    let mut ws = app.connect().await;
    ws.send_json(&json!({"type": "begin", "provider": "mock"}))
        .await;
    let link = ws.expect("signin").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(link.starts_with(&format!("{}/signin/", app.base)), "{link}");

    let mut request = app.http.get(link.as_str());
    for header in FORGED {
        request = request.insert_header(header);
    }
    let mut response = request.send().await.expect("link answered");
    let redirect = read_response(&mut response).await.expect("redirect read");
    assert_eq!(redirect.status, 303);
    let location = url::Url::parse(redirect.header("location").unwrap()).unwrap();
    assert_eq!(
        query_value(&location, "redirect_uri"),
        Some(format!("{}/complete/mock", app.base))
    );
    assert!(!location.as_str().contains("evil.example"), "{location}");
}
