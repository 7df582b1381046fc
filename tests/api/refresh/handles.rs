//! Handles across a rotation of `secrets.seal_key` (old keys in `secrets.previous_seal_keys`
//! open, the new key seals: nobody is signed out) and past `signin.refresh_handle_max_age_secs`
//! (`reauth_required`, without asking the provider).

use super::{handle_for, refresh, sealed_settings};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{SEAL_KEY, TestApp};
use secrecy::SecretString;

const NEW_KEY: &str = "bq6mPq0bUj8z1Hy4n8Zb8m0i2QvX6cT9wqJb2d1fK3Y=";

#[actix_web::test]
async fn after_a_key_rotation_old_handles_open_and_come_back_sealed_under_the_new_key() {
    let mock = MockProvider::start();
    let before = TestApp::spawn(sealed_settings(&mock)).await;
    let mut ws = before.connect().await;
    let signedin = before.sign_in(&mut ws, "rotate").await;
    let old_handle = signedin["refresh"].as_str().unwrap().to_owned();

    let mut settings = sealed_settings(&mock);
    settings.secrets.seal_key = Some(SecretString::from(NEW_KEY));
    settings.secrets.previous_seal_keys = vec![SecretString::from(SEAL_KEY)];
    let rotated = TestApp::spawn(settings).await;
    let mut ws = rotated.connect().await;
    let renewed = refresh(&mut ws, &old_handle).await;
    assert_eq!(
        renewed["type"], "signedin",
        "an old handle still works: {renewed}"
    );
    assert_eq!(renewed["access_token"], "at-rt-rotate");
    let new_handle = renewed["refresh"].as_str().unwrap().to_owned();

    // Sealed under the new key: the broker before the rotation cannot open it...
    let mut old_ws = before.connect().await;
    let refused = refresh(&mut old_ws, &new_handle).await;
    assert_eq!(refused["code"], "reauth_required", "{refused}");
    // ...and once the old key is dropped from the list, the new handle still works.
    let mut settings = sealed_settings(&mock);
    settings.secrets.seal_key = Some(SecretString::from(NEW_KEY));
    let retired = TestApp::spawn(settings).await;
    let mut ws = retired.connect().await;
    let again = refresh(&mut ws, &new_handle).await;
    assert_eq!(again["type"], "signedin", "{again}");
    let stale = refresh(&mut ws, &handle_for(&retired, "mock", "rt-never-renewed")).await;
    assert_eq!(stale["code"], "reauth_required", "old key retired: {stale}");
}

#[actix_web::test]
async fn a_handle_older_than_its_maximum_age_needs_a_new_sign_in_even_after_refreshes() {
    let mock = MockProvider::start();
    let mut settings = sealed_settings(&mock);
    settings.signin.refresh_handle_max_age_secs = 1000;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    let signedin = app.sign_in(&mut ws, "aging").await;

    app.clock.advance_secs(600);
    let renewed = refresh(&mut ws, signedin["refresh"].as_str().unwrap()).await;
    assert_eq!(renewed["type"], "signedin", "{renewed}");
    let requests = mock.refresh_requests();

    // The renewed handle is as old as the sign-in, not as its refresh.
    app.clock.advance_secs(401);
    let refused = refresh(&mut ws, renewed["refresh"].as_str().unwrap()).await;
    assert_eq!(refused["code"], "reauth_required", "{refused}");
    assert_eq!(refused["provider"], "mock");
    assert_eq!(
        mock.refresh_requests(),
        requests,
        "the provider was not asked"
    );
}
