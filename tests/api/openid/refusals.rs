//! Each way an OpenID sign-in can be wrong ends it the same way: a page, an `error` frame
//! `provider_error` for the session, the reason in the metrics, and no token for anyone.

use super::{Attempt, begin, failures, ready_app, redirect_back};
use crate::helpers::TestApp;
use crate::helpers::mock_openid::{IdTokenPlan, MockOpenId};

/// Completes with the mock answering `plan` and checks the whole refusal.
async fn refused(plan: IdTokenPlan, iss: Option<&str>, status: u16, reason: &str) {
    let mock = MockOpenId::start();
    mock.plan(plan);
    let app = ready_app(&mock).await;
    let mut attempt = begin(&app, &mock).await;
    let before = failures(&app, reason).await;
    let iss = iss.map(|i| {
        if i == "ISSUER" {
            mock.issuer.clone()
        } else {
            i.to_owned()
        }
    });
    let page = redirect_back(&app, &attempt, iss.as_deref()).await;
    assert_refused(&app, &mut attempt, &page, status, reason, before).await;
}

async fn assert_refused(
    app: &TestApp,
    attempt: &mut Attempt,
    page: &crate::helpers::Response,
    status: u16,
    reason: &str,
    before: u64,
) {
    assert_eq!(page.status, status, "{reason}: {}", page.body);
    assert!(
        page.body.contains("Sign in again"),
        "{reason}: {}",
        page.body
    );
    assert!(!page.body.contains("at-code-1"));
    let frame = attempt.ws.expect("error").await;
    assert_eq!(frame["code"], "provider_error", "{reason}: {frame}");
    assert_eq!(frame["provider"], "idp");
    assert_eq!(failures(app, reason).await, before + 1, "{reason}");
    assert!(
        attempt
            .ws
            .try_recv(std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "nothing else reaches the session"
    );
}

#[actix_web::test]
async fn a_bad_signature_is_refused() {
    refused(
        IdTokenPlan::BadSignature,
        Some("ISSUER"),
        502,
        "id_token_signature",
    )
    .await;
}

#[actix_web::test]
async fn a_wrong_audience_is_refused() {
    refused(
        IdTokenPlan::WrongAudience,
        Some("ISSUER"),
        502,
        "id_token_audience",
    )
    .await;
}

#[actix_web::test]
async fn a_wrong_nonce_is_refused() {
    refused(
        IdTokenPlan::WrongNonce,
        Some("ISSUER"),
        502,
        "id_token_nonce",
    )
    .await;
}

#[actix_web::test]
async fn a_missing_nonce_is_refused() {
    refused(IdTokenPlan::NoNonce, Some("ISSUER"), 502, "id_token_nonce").await;
}

#[actix_web::test]
async fn an_expired_id_token_is_refused() {
    refused(
        IdTokenPlan::Expired,
        Some("ISSUER"),
        502,
        "id_token_expired",
    )
    .await;
}

#[actix_web::test]
async fn an_id_token_from_another_issuer_is_refused() {
    refused(
        IdTokenPlan::WrongIssuer,
        Some("ISSUER"),
        502,
        "id_token_issuer",
    )
    .await;
}

#[actix_web::test]
async fn a_token_response_without_id_token_is_refused() {
    refused(IdTokenPlan::Absent, Some("ISSUER"), 502, "id_token_missing").await;
}

#[actix_web::test]
async fn a_wrong_iss_in_the_redirect_is_refused_before_any_exchange() {
    let mock = MockOpenId::start();
    let app = ready_app(&mock).await;
    let mut attempt = begin(&app, &mock).await;
    let before = failures(&app, "iss_mismatch").await;
    let page = redirect_back(&app, &attempt, Some("https://attacker.example.com")).await;
    assert_refused(&app, &mut attempt, &page, 400, "iss_mismatch", before).await;
    assert!(mock.token_requests().is_empty(), "no code exchange");
}

#[actix_web::test]
async fn a_missing_iss_is_refused_when_the_metadata_promises_it() {
    let mock = MockOpenId::start();
    let app = ready_app(&mock).await;
    let mut attempt = begin(&app, &mock).await;
    let before = failures(&app, "iss_mismatch").await;
    let page = redirect_back(&app, &attempt, None).await;
    assert_refused(&app, &mut attempt, &page, 400, "iss_mismatch", before).await;
    assert!(mock.token_requests().is_empty());
}

#[actix_web::test]
async fn an_unknown_kid_is_refused_then_accepted_once_the_key_is_rotated_in() {
    let mock = MockOpenId::start();
    mock.plan(IdTokenPlan::UnpublishedKey);
    let app = ready_app(&mock).await;
    let loaded = mock.jwks_requests();

    // An unknown kid: the key set is fetched again, but the key is not in it yet.
    let mut attempt = begin(&app, &mock).await;
    let before = failures(&app, "id_token_unknown_key").await;
    let page = redirect_back(&app, &attempt, Some(&mock.issuer)).await;
    assert_refused(
        &app,
        &mut attempt,
        &page,
        502,
        "id_token_unknown_key",
        before,
    )
    .await;
    assert_eq!(mock.jwks_requests(), loaded + 1, "refetched once");

    // The provider publishes it; within the minute the broker does not ask again.
    mock.rotate_in_new_key();
    let mut attempt = begin(&app, &mock).await;
    let page = redirect_back(&app, &attempt, Some(&mock.issuer)).await;
    assert_refused(
        &app,
        &mut attempt,
        &page,
        502,
        "id_token_unknown_key",
        before + 1,
    )
    .await;
    assert_eq!(mock.jwks_requests(), loaded + 1, "at most once a minute");

    // A minute later it does, finds the new key, and the sign-in succeeds.
    app.clock
        .advance_secs(oauth_broker::oauth::oidc::KEY_REFETCH_INTERVAL_SECS);
    let mut attempt = begin(&app, &mock).await;
    let page = redirect_back(&app, &attempt, Some(&mock.issuer)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let signedin = attempt.ws.expect("signedin").await;
    assert_eq!(signedin["claims"]["sub"], "user-4711");
    assert_eq!(mock.jwks_requests(), loaded + 2);
}
