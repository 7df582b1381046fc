//! No page or redirect reveals a code, a token, the client secret or a PKCE verifier.

use super::assert_no_secrets;
use crate::helpers::mock_provider::{self, MockProvider};
use crate::helpers::{
    TestApp, assert_strict_headers, confirmation_code, query_value, settings_with,
};
use serde_json::json;

#[actix_web::test]
async fn no_page_or_redirect_reveals_a_code_token_secret_or_verifier() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let link = ws.begin("mock").await;
    let redirect = app.get(&link).await;
    assert_eq!(redirect.status, 303);
    assert_strict_headers(&redirect);
    let location = redirect.header("location").unwrap().to_owned();
    let authorize = url::Url::parse(&location).unwrap();
    for key in ["code", "code_verifier", "client_secret", "access_token"] {
        assert!(
            query_value(&authorize, key).is_none(),
            "{key} in {location}"
        );
    }
    assert!(!location.contains(mock_provider::CLIENT_SECRET));
    assert!(
        !location.contains(&ws.session()),
        "no session ID in {location}"
    );

    let state = query_value(&authorize, "state").unwrap();
    let code = "c-leakcheck-Q7Z";
    let page = app
        .complete("mock", &[("code", code), ("state", &state)])
        .await;
    assert_eq!(page.status, 200);
    ws.expect("confirm").await;
    let verifier = mock.requests()[0].form["code_verifier"].clone();
    assert!(!location.contains(&verifier), "no verifier in {location}");
    assert_no_secrets(&page, &mock, code);

    let shown = confirmation_code(&page.body).unwrap();
    ws.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    let signedin = ws.expect("signedin").await;
    let token = signedin["access_token"].as_str().unwrap();
    assert!(!page.body.contains(token));
    assert!(!location.contains(token));
}
