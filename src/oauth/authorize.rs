//! The authorization request (RFC 6749 §4.1.1 with PKCE): where `/signin/{ticket}` sends the
//! browser.

use super::provider::Provider;
use crate::secrets::{Nonce, State};
use url::Url;

/// Builds the provider's authorize URL. The `state` is the fresh single-use value of this
/// attempt, never the session ID; the redirect URI is the configured one, never the request's;
/// `code_challenge` is the S256 challenge of this attempt's verifier; `nonce` (OpenID Connect)
/// binds the ID token to this attempt. `None` while a discovered endpoint is not loaded.
pub fn authorize_url(
    provider: &Provider,
    state: &State,
    code_challenge: &str,
    nonce: Option<&Nonce>,
) -> Option<Url> {
    let mut url = provider.authorize_endpoint()?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", &provider.redirect_uri)
            .append_pair("state", state.expose());
        if !provider.scopes.is_empty() {
            query.append_pair("scope", &provider.scope_param());
        }
        if provider.pkce {
            query
                .append_pair("code_challenge", code_challenge)
                .append_pair("code_challenge_method", "S256");
        }
        if let Some(nonce) = nonce {
            query.append_pair("nonce", nonce.expose());
        }
        for (key, value) in &provider.extra_authorize_params {
            query.append_pair(key, value);
        }
    }
    Some(url)
}
