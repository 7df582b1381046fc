//! A whole OpenID Connect sign-in: `openid` and a `nonce` in the authorize request, the ID
//! token checked, `id_token` and `claims` in `signedin`.

use super::{begin, ready_app, redirect_back};
use crate::helpers::mock_openid::{IdTokenPlan, MockOpenId};
use crate::helpers::query_value;

#[actix_web::test]
async fn the_authorize_request_asks_for_openid_with_a_fresh_nonce() {
    let mock = MockOpenId::start();
    let app = ready_app(&mock).await;
    let mut ws = app.connect().await;
    let first = app.start_signin(&mut ws, Some("idp")).await;
    let second = app.start_signin(&mut ws, Some("idp")).await;
    assert_eq!(
        query_value(&first, "scope").as_deref(),
        Some("openid email")
    );
    let (a, b) = (
        query_value(&first, "nonce").unwrap(),
        query_value(&second, "nonce").unwrap(),
    );
    assert!(a.len() >= 32, "{a}");
    assert_ne!(a, b, "one nonce per authorization");
    assert_ne!(a, query_value(&first, "state").unwrap());
}

#[actix_web::test]
async fn a_valid_id_token_gives_id_token_and_claims_in_signedin() {
    for plan in [IdTokenPlan::Good, IdTokenPlan::GoodEdDsa] {
        let mock = MockOpenId::start();
        mock.plan(plan);
        let app = ready_app(&mock).await;
        let mut attempt = begin(&app, &mock).await;
        let page = redirect_back(&app, &attempt, Some(&mock.issuer)).await;
        assert_eq!(page.status, 200, "{plan:?}: {}", page.body);
        let signedin = attempt.ws.expect("signedin").await;
        assert_eq!(signedin["provider"], "idp");
        assert_eq!(signedin["access_token"], "at-code-1");
        assert_eq!(signedin["claims"]["sub"], "user-4711");
        assert_eq!(signedin["claims"]["email"], "jane@example.com");
        assert_eq!(signedin["claims"]["name"], "Jane Example");
        let id_token = signedin["id_token"].as_str().unwrap();
        assert_eq!(id_token.split('.').count(), 3, "a compact JWS");
        let token_request = &mock.token_requests()[0];
        assert_eq!(token_request["grant_type"], "authorization_code");
        assert!(token_request.contains_key("code_verifier"));
        assert!(!attempt.nonce.is_empty());
    }
}

#[actix_web::test]
async fn page_and_metrics_never_show_the_id_token() {
    let mock = MockOpenId::start();
    let app = ready_app(&mock).await;
    let mut attempt = begin(&app, &mock).await;
    let page = redirect_back(&app, &attempt, Some(&mock.issuer)).await;
    let signedin = attempt.ws.expect("signedin").await;
    let id_token = signedin["id_token"].as_str().unwrap();
    assert!(!page.body.contains(id_token));
    assert!(!app.metrics().await.contains(id_token));
}
