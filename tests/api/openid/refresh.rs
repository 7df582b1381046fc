//! Refresh for an OpenID provider: a new ID token in the refresh response is validated like
//! the first (without a nonce), and a bad one ends in an `error` frame, not in tokens.

use super::{begin, ready_app, redirect_back};
use crate::helpers::mock_openid::{IdTokenPlan, MockOpenId};
use serde_json::json;

#[actix_web::test]
async fn a_refresh_with_a_valid_new_id_token_gives_its_claims() {
    let mock = MockOpenId::start();
    let app = ready_app(&mock).await;
    let mut attempt = begin(&app, &mock).await;
    redirect_back(&app, &attempt, Some(&mock.issuer)).await;
    let signedin = attempt.ws.expect("signedin").await;
    attempt
        .ws
        .send_json(&json!({"type": "refresh", "refresh": signedin["refresh"]}))
        .await;
    let renewed = attempt.ws.expect("signedin").await;
    assert_eq!(renewed["access_token"], "at-rt-code-1");
    assert_eq!(renewed["claims"]["sub"], "user-4711");
    let refresh_request = mock.token_requests().pop().unwrap();
    assert_eq!(refresh_request["grant_type"], "refresh_token");
}

#[actix_web::test]
async fn a_refresh_whose_new_id_token_does_not_validate_gives_no_tokens() {
    let mock = MockOpenId::start();
    let app = ready_app(&mock).await;
    let mut attempt = begin(&app, &mock).await;
    redirect_back(&app, &attempt, Some(&mock.issuer)).await;
    let signedin = attempt.ws.expect("signedin").await;
    mock.plan(IdTokenPlan::WrongAudience);
    attempt
        .ws
        .send_json(&json!({"type": "refresh", "refresh": signedin["refresh"]}))
        .await;
    let frame = attempt.ws.expect("error").await;
    assert_eq!(frame["code"], "provider_error");
    assert_eq!(frame["provider"], "idp");
}
