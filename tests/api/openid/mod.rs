//! OpenID Connect against a mock OpenID Provider with its own keys (a real HTTP server):
//! discovery and readiness, the happy path with `id_token` and `claims` in `signedin`, every
//! way an ID token or the redirect's `iss` can be wrong (each ends the sign-in with a page, an
//! `error` frame and a metric reason, and no token reaches the extension), key rotation, the
//! demo provider speaking OpenID Connect, and refresh validating a new ID token.

mod demo;
mod discovery;
mod happy_path;
mod refresh;
mod refusals;

use crate::helpers::mock_openid::MockOpenId;
use crate::helpers::{Response, TestApp, WAIT, WsClient, fast_heartbeats, query_value};
use oauth_broker::settings::Settings;
use std::time::Instant;

/// One provider `idp` configured with the mock's issuer only; confirmation codes off, so the
/// outcome of the completion is the next frame.
pub(super) fn settings_for(mock: &MockOpenId) -> Settings {
    let mut settings = Settings::default();
    settings
        .providers
        .insert("idp".into(), mock.provider_settings());
    settings.signin.confirm_code = false;
    fast_heartbeats(&mut settings);
    settings
}

/// Polls `/readyz` until it answers `status`, bounded by `WAIT`.
pub(super) async fn wait_for_readyz(app: &TestApp, status: u16) {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = app.get("/readyz").await.status;
        if answer == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {answer}, not {status}, after {WAIT:?}"
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub(super) async fn ready_app(mock: &MockOpenId) -> TestApp {
    let app = TestApp::spawn(settings_for(mock)).await;
    wait_for_readyz(&app, 200).await;
    app
}

/// A sign-in up to the provider's redirect: the socket, the `state`, and the `nonce` (which the
/// mock is told to put in its ID token).
pub(super) struct Attempt {
    pub ws: WsClient,
    pub state: String,
    pub nonce: String,
}

pub(super) async fn begin(app: &TestApp, mock: &MockOpenId) -> Attempt {
    let mut ws = app.connect().await;
    let authorize = app.start_signin(&mut ws, Some("idp")).await;
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/authorize?", mock.issuer)),
        "the discovered authorization endpoint: {authorize}"
    );
    let state = query_value(&authorize, "state").unwrap();
    let nonce = query_value(&authorize, "nonce").expect("an OpenID sign-in sends a nonce");
    mock.set_nonce(&nonce);
    Attempt { ws, state, nonce }
}

/// The provider's redirect back, with `iss` as given.
pub(super) async fn redirect_back(app: &TestApp, attempt: &Attempt, iss: Option<&str>) -> Response {
    let mut query = vec![("code", "code-1"), ("state", attempt.state.as_str())];
    if let Some(iss) = iss {
        query.push(("iss", iss));
    }
    app.complete("idp", &query).await
}

/// The count of failed sign-ins for `idp` with this reason.
pub(super) async fn failures(app: &TestApp, reason: &str) -> u64 {
    let metrics = app.metrics().await;
    metrics
        .lines()
        .find(|l| {
            l.starts_with("oauth_broker_signins_failed_total{")
                && l.contains("provider=\"idp\"")
                && l.contains(&format!("reason=\"{reason}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}
