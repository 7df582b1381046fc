//! A sign-in link opened and completed by someone else: no tokens without the code shown on
//! their page, and wrong codes or the confirmation window end it.

use super::{QUIET, assert_no_secrets, expect_error};
use crate::helpers;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{Response, TestApp, WsClient, confirmation_code, query_value, settings_with};
use serde_json::json;

/// A code for a wrong guess: the shown code with its first character changed.
fn wrong_code(right: &str, n: usize) -> String {
    let alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let first = right.chars().next().unwrap();
    let other = alphabet
        .chars()
        .filter(|c| *c != first)
        .nth(n % 30)
        .unwrap();
    format!("{other}{}", &right[1..])
}

/// Session A asks for a link; someone else (the victim) opens it and signs in. Returns A's
/// socket, which has received `confirm`, and the page the victim saw.
async fn link_completed_by_someone_else(
    app: &TestApp,
    mock: &MockProvider,
) -> (WsClient, Response) {
    let mut attacker = app.connect().await;
    let link = attacker.begin("mock").await;
    // The victim's browser: a client of its own, no socket.
    let victim = helpers::http_client();
    let redirect = helpers::get(&victim, &link).await;
    assert_eq!(redirect.status, 303);
    let authorize = url::Url::parse(redirect.header("location").unwrap()).unwrap();
    let state = query_value(&authorize, "state").unwrap();
    let page = app
        .complete("mock", &[("code", "c-victim"), ("state", &state)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_no_secrets(&page, mock, "c-victim");
    let confirm = attacker.expect("confirm").await;
    assert_eq!(confirm["provider"], "mock");
    assert!(
        attacker.try_recv(QUIET).await.is_none(),
        "no tokens without the code from the victim's page"
    );
    (attacker, page)
}

#[actix_web::test]
async fn a_swapped_sign_in_yields_no_tokens_and_wrong_codes_end_it() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let (mut attacker, page) = link_completed_by_someone_else(&app, &mock).await;
    let right = confirmation_code(&page.body).unwrap().replace('-', "");
    assert_eq!(right.len(), 8);

    for n in 0..4 {
        attacker
            .send_json(&json!({"type": "confirm", "code": wrong_code(&right, n)}))
            .await;
        expect_error(&mut attacker, "bad_code", None).await;
    }
    attacker
        .send_json(&json!({"type": "confirm", "code": wrong_code(&right, 4)}))
        .await;
    expect_error(&mut attacker, "too_many_attempts", None).await;

    // Nothing is held any more: even the right code gets nothing.
    attacker
        .send_json(&json!({"type": "confirm", "code": right}))
        .await;
    expect_error(&mut attacker, "expired", None).await;
    assert!(attacker.try_recv(QUIET).await.is_none(), "never signedin");
}

#[actix_web::test]
async fn held_tokens_expire_after_the_confirmation_window() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let (mut attacker, page) = link_completed_by_someone_else(&app, &mock).await;
    let right = confirmation_code(&page.body).unwrap();
    app.clock.advance_secs(301); // signin.confirm_ttl_secs = 300
    attacker
        .send_json(&json!({"type": "confirm", "code": right}))
        .await;
    expect_error(&mut attacker, "expired", None).await;
    assert!(attacker.try_recv(QUIET).await.is_none(), "never signedin");
}

#[actix_web::test]
async fn held_tokens_are_released_by_the_right_code_within_the_window() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let (mut ws, page) = link_completed_by_someone_else(&app, &mock).await;
    let right = confirmation_code(&page.body).unwrap().replace('-', "");
    attacker_types_wrong_once(&mut ws, &right).await;
    app.clock.advance_secs(299);
    ws.send_json(&json!({"type": "confirm", "code": right}))
        .await;
    let signedin = ws.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-c-victim");
}

async fn attacker_types_wrong_once(ws: &mut WsClient, right: &str) {
    ws.send_json(&json!({"type": "confirm", "code": wrong_code(right, 0)}))
        .await;
    expect_error(ws, "bad_code", None).await;
}

#[actix_web::test]
async fn the_code_page_warns_against_handing_the_code_to_anyone() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let (_attacker, page) = link_completed_by_someone_else(&app, &mock).await;
    assert!(
        page.body
            .contains("only into the dashboard where you pressed Sign in yourself, just now"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("If anyone asks you for this code"),
        "{}",
        page.body
    );
}
