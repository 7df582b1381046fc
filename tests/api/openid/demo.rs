//! The demo provider is an OpenID Provider: discovery and keys under `/demo/`, `iss` in its
//! redirect, a signed ID token the broker validates; and, with `demo.openid_connect = false`,
//! a plain OAuth 2.0 provider.

use super::wait_for_readyz;
use crate::helpers::{TestApp, demo_only_settings, query_value};

/// Allow on the demo consent page; the redirect back to the broker.
async fn consent(app: &TestApp, authorize: &url::Url) -> url::Url {
    let page = app.get(authorize.as_str()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let sealed = page
        .body
        .split("name=\"request\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the consent form carries the sealed request")
        .to_owned();
    let mut response = app
        .http
        .post(app.url("/demo/consent"))
        .send_form(&[("request", sealed.as_str()), ("decision", "allow")])
        .await
        .unwrap();
    let response = crate::helpers::read_response(&mut response).await.unwrap();
    assert_eq!(response.status, 303, "{}", response.body);
    url::Url::parse(response.header("location").unwrap()).unwrap()
}

#[actix_web::test]
async fn the_demo_publishes_discovery_and_keys() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let metadata: serde_json::Value =
        serde_json::from_str(&app.get("/demo/.well-known/openid-configuration").await.body)
            .unwrap();
    assert_eq!(metadata["issuer"], format!("{}/demo", app.base));
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    let jwks: serde_json::Value = serde_json::from_str(&app.get("/demo/jwks").await.body).unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    wait_for_readyz(&app, 200).await;
}

#[actix_web::test]
async fn a_demo_sign_in_runs_the_whole_openid_path_offline() {
    let mut settings = demo_only_settings();
    settings.signin.confirm_code = false;
    let app = TestApp::spawn(settings).await;
    wait_for_readyz(&app, 200).await;
    let mut ws = app.connect().await;
    let authorize = app.start_signin(&mut ws, Some("demo")).await;
    assert!(query_value(&authorize, "nonce").is_some());
    assert!(
        query_value(&authorize, "scope")
            .unwrap()
            .split(' ')
            .any(|s| s == "openid")
    );
    let back = consent(&app, &authorize).await;
    assert_eq!(
        query_value(&back, "iss"),
        Some(format!("{}/demo", app.base)),
        "RFC 9207 iss in the redirect"
    );
    let page = app.get(back.as_str()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let signedin = ws.expect("signedin").await;
    assert_eq!(signedin["claims"]["sub"], "demo-listener");
    assert_eq!(signedin["claims"]["name"], "Demo Listener");
    assert!(signedin["id_token"].as_str().unwrap().split('.').count() == 3);

    // Refresh through the sealed handle: the demo sends a new ID token, validated too.
    ws.send_json(&serde_json::json!({"type": "refresh", "refresh": signedin["refresh"]}))
        .await;
    let renewed = ws.expect("signedin").await;
    assert_eq!(renewed["claims"]["sub"], "demo-listener");
    assert_ne!(renewed["id_token"], signedin["id_token"]);
}

#[actix_web::test]
async fn the_demo_stays_plain_oauth_when_asked() {
    let mut settings = demo_only_settings();
    settings.signin.confirm_code = false;
    settings.demo.openid_connect = false;
    let app = TestApp::spawn(settings).await;
    assert_eq!(app.get("/readyz").await.status, 200);
    assert_eq!(
        app.get("/demo/.well-known/openid-configuration")
            .await
            .status,
        404
    );
    let mut ws = app.connect().await;
    let authorize = app.start_signin(&mut ws, Some("demo")).await;
    assert_eq!(query_value(&authorize, "nonce"), None);
    assert_eq!(
        query_value(&authorize, "scope").as_deref(),
        Some("user-top-read")
    );
    let back = consent(&app, &authorize).await;
    assert_eq!(query_value(&back, "iss"), None);
    let page = app.get(back.as_str()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let signedin = ws.expect("signedin").await;
    assert!(signedin.get("id_token").is_none(), "{signedin}");
    assert!(signedin.get("claims").is_none());
}
