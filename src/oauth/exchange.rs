//! The token endpoint: authorization code exchange (RFC 6749 §4.1.3 with the PKCE verifier)
//! and refresh (§6). Every request is bounded by the provider's timeout, body size included,
//! and never follows redirects, so a slow or odd provider cannot hold a worker.

use super::provider::Provider;
use crate::secrets::{AccessToken, AuthorizationCode, IdToken, PkceVerifier, RefreshToken};
use crate::settings::ClientAuth;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Token responses are small; a provider sending more is broken or hostile.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: AccessToken,
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
    pub refresh_token: Option<RefreshToken>,
    /// OpenID Connect: not trusted until `oauth::oidc` has validated it.
    pub id_token: Option<IdToken>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<AccessToken>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    scope: Option<String>,
    refresh_token: Option<RefreshToken>,
    id_token: Option<IdToken>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
}

/// Serialisable so that one refresh's failure reaches the callers it was shared with, on any
/// replica.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExchangeError {
    /// The provider refused the grant (`invalid_grant`, `invalid_client`, ...), RFC 6749 §5.2.
    #[error("the provider refused the request ({error})")]
    Rejected { status: u16, error: String },
    #[error("the provider's token endpoint failed with HTTP {status}")]
    ServerError { status: u16 },
    #[error("the provider's token endpoint did not answer in time")]
    Timeout,
    #[error("the provider's token endpoint could not be reached")]
    Unreachable,
    #[error("the provider's token endpoint answered something that is not a token response")]
    Malformed,
}

impl ExchangeError {
    /// A short stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ExchangeError::Rejected { .. } => "rejected",
            ExchangeError::ServerError { .. } => "server_error",
            ExchangeError::Timeout => "timeout",
            ExchangeError::Unreachable => "unreachable",
            ExchangeError::Malformed => "malformed",
        }
    }

    /// Whether the grant itself is dead, so only a new sign-in helps (for refresh).
    pub fn needs_reauth(&self) -> bool {
        matches!(self, ExchangeError::Rejected { error, .. } if error == "invalid_grant" || error == "invalid_token")
    }
}

/// Talks to token endpoints. One per worker thread: awc's client is not `Send`.
#[derive(Clone)]
pub struct TokenClient {
    http: awc::Client,
}

impl Default for TokenClient {
    fn default() -> Self {
        Self::new()
    }
}

/// The HTTP client for a provider's endpoints (token, discovery, keys): never follows a
/// redirect (a token request must reach exactly the configured URL), names the broker.
pub fn provider_http_client() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .add_default_header((
            "User-Agent",
            concat!("oauth-broker/", env!("CARGO_PKG_VERSION")),
        ))
        .finish()
}

impl TokenClient {
    pub fn new() -> Self {
        Self {
            http: provider_http_client(),
        }
    }

    /// The same bounded client, for the issuer's key set when an ID token names a new key.
    pub fn http(&self) -> &awc::Client {
        &self.http
    }

    pub async fn exchange_code(
        &self,
        provider: &Provider,
        code: &AuthorizationCode,
        verifier: &PkceVerifier,
    ) -> Result<TokenSet, ExchangeError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", &provider.redirect_uri),
        ];
        if provider.pkce {
            form.push(("code_verifier", verifier.expose()));
        }
        self.request(provider, form).await
    }

    pub async fn refresh(
        &self,
        provider: &Provider,
        refresh_token: &RefreshToken,
    ) -> Result<TokenSet, ExchangeError> {
        let form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        self.request(provider, form).await
    }

    async fn request(
        &self,
        provider: &Provider,
        mut form: Vec<(&str, &str)>,
    ) -> Result<TokenSet, ExchangeError> {
        let started = Instant::now();
        let secret = provider.client_secret.expose_secret();
        let Some(token_url) = provider.token_endpoint() else {
            return Err(ExchangeError::Unreachable);
        };
        let mut request = self
            .http
            .post(token_url.as_str())
            .timeout(provider.timeout)
            .insert_header(("Accept", "application/json"));
        match provider.client_auth {
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: form-urlencode both parts before Basic encoding.
                let id = form_urlencode(&provider.client_id);
                let secret = form_urlencode(secret);
                request = request.basic_auth(id, secret);
            }
            ClientAuth::Body => {
                form.push(("client_id", &provider.client_id));
                form.push(("client_secret", secret));
            }
        }
        let outcome = actix_rt::time::timeout(provider.timeout, async {
            // The wait for a slot counts against the same bound as the request itself.
            let _slot = provider
                .token_requests
                .acquire()
                .await
                .map_err(|_| ExchangeError::Unreachable)?;
            let mut response = request.send_form(&form).await.map_err(|e| match e {
                awc::error::SendRequestError::Timeout => ExchangeError::Timeout,
                _ => ExchangeError::Unreachable,
            })?;
            let status = response.status();
            let body = response
                .body()
                .limit(MAX_TOKEN_RESPONSE_BYTES)
                .await
                .map_err(|e| match e {
                    awc::error::PayloadError::Io(ref io)
                        if io.kind() == std::io::ErrorKind::TimedOut =>
                    {
                        ExchangeError::Timeout
                    }
                    _ => ExchangeError::Malformed,
                })?;
            interpret(status.as_u16(), &body)
        })
        .await
        .unwrap_or(Err(ExchangeError::Timeout));
        crate::telemetry::catalog::token_endpoint_latency(
            &provider.name,
            started.elapsed().as_secs_f64(),
        );
        outcome
    }
}

fn form_urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn interpret(status: u16, body: &[u8]) -> Result<TokenSet, ExchangeError> {
    match status {
        200..=299 => {
            let parsed: TokenResponse =
                serde_json::from_slice(body).map_err(|_| ExchangeError::Malformed)?;
            let access_token = parsed
                .access_token
                .filter(|t| !t.is_empty())
                .ok_or(ExchangeError::Malformed)?;
            Ok(TokenSet {
                access_token,
                token_type: parsed.token_type.unwrap_or_else(|| "Bearer".to_owned()),
                expires_in: parsed.expires_in.as_ref().and_then(number_or_string),
                scope: parsed.scope,
                refresh_token: parsed.refresh_token.filter(|t| !t.is_empty()),
                id_token: parsed.id_token.filter(|t| !t.is_empty()),
            })
        }
        400..=499 => {
            let error = serde_json::from_slice::<ErrorResponse>(body)
                .map(|e| sanitize_error_code(&e.error))
                .unwrap_or_else(|_| "unknown".to_owned());
            Err(ExchangeError::Rejected { status, error })
        }
        _ => Err(ExchangeError::ServerError { status }),
    }
}

/// Some providers send `expires_in` as a string.
fn number_or_string(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Error codes go to logs and metrics labels: keep them to RFC 6749's character set and short.
fn sanitize_error_code(code: &str) -> String {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect();
    if clean.is_empty() {
        "unknown".to_owned()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_response_parses() {
        let set = interpret(
            200,
            br#"{"access_token":"at","token_type":"Bearer","expires_in":"3600","scope":"a b","refresh_token":"rt"}"#,
        )
        .unwrap();
        assert_eq!(set.access_token.expose(), "at");
        assert_eq!(set.expires_in, Some(3600));
        assert_eq!(set.refresh_token.unwrap().expose(), "rt");
    }

    #[test]
    fn garbage_and_missing_tokens_are_malformed() {
        assert_eq!(interpret(200, b"<html>"), Err(ExchangeError::Malformed));
        assert_eq!(interpret(200, b"{}"), Err(ExchangeError::Malformed));
        assert_eq!(
            interpret(200, br#"{"access_token":""}"#),
            Err(ExchangeError::Malformed)
        );
    }

    #[test]
    fn errors_are_classified() {
        let e = interpret(400, br#"{"error":"invalid_grant"}"#).unwrap_err();
        assert!(e.needs_reauth());
        assert_eq!(
            interpret(401, b"nope").unwrap_err(),
            ExchangeError::Rejected {
                status: 401,
                error: "unknown".into()
            }
        );
        assert_eq!(
            interpret(503, b"").unwrap_err(),
            ExchangeError::ServerError { status: 503 }
        );
        let odd = interpret(400, br#"{"error":"<script>\n"}"#).unwrap_err();
        assert_eq!(
            odd,
            ExchangeError::Rejected {
                status: 400,
                error: "script".into()
            }
        );
    }
}
