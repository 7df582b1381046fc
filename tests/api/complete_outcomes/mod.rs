//! Every outcome of the provider's redirect back (`GET /complete/{provider}`) and of the
//! sign-in link (`GET /signin/{ticket}`): what the page says, with which status and headers,
//! and what the session that began the sign-in hears on its socket.

mod completed_by_someone_else;
mod no_secrets_leak;
mod provider_errors;
mod reload;
mod reload_over_redis;
mod signin_tickets;
mod state;
mod token_endpoint_failures;

use crate::helpers::mock_provider::{self, MockProvider};
use crate::helpers::{Response, TestApp, WsClient, assert_strict_headers, query_value};
use serde_json::Value;
use std::time::Duration;

/// How long a test listens to be sure a frame does not come.
pub(super) const QUIET: Duration = Duration::from_millis(800);

/// `begin`, the sign-in link opened: the `state` the broker sent to the provider.
pub(super) async fn begun_state(app: &TestApp, ws: &mut WsClient, provider: &str) -> String {
    let authorize = app.start_signin(ws, Some(provider)).await;
    query_value(&authorize, "state").expect("the authorize URL carries a state")
}

/// The next frame must be an `error` with this code (and the provider, when given).
pub(super) async fn expect_error(ws: &mut WsClient, code: &str, provider: Option<&str>) -> Value {
    let error = ws.expect("error").await;
    assert_eq!(error["code"], code, "{error}");
    if let Some(provider) = provider {
        assert_eq!(error["provider"], provider, "{error}");
    }
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{error}"
    );
    error
}

/// Nothing the provider or the broker keeps secret shows on a page: the authorization code,
/// the tokens the mock would mint for it, the client secret, any PKCE verifier sent so far.
pub(super) fn assert_no_secrets(page: &Response, mock: &MockProvider, code: &str) {
    let mut secrets = vec![
        code.to_owned(),
        format!("at-{code}"),
        format!("rt-{code}"),
        mock_provider::CLIENT_SECRET.to_owned(),
    ];
    secrets.extend(
        mock.requests()
            .iter()
            .filter_map(|r| r.form.get("code_verifier").cloned()),
    );
    for secret in secrets {
        assert!(
            !page.body.contains(&secret),
            "the page shows {secret:?}: {}",
            page.body
        );
        for (name, value) in &page.headers {
            assert!(!value.contains(&secret), "header {name} shows {secret:?}");
        }
    }
}

/// A 400 page: strict headers and the way out.
pub(super) fn assert_bad_request_page(page: &Response) {
    assert_eq!(page.status, 400, "{}", page.body);
    assert_strict_headers(page);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "an HTML page"
    );
    assert!(
        page.body.contains("dashboard") && page.body.contains("Sign in again"),
        "the page says to start again from the dashboard: {}",
        page.body
    );
}
