//! The token endpoint, like Spotify's `POST /api/token`: the authorization code exchange
//! (RFC 6749 §4.1.3, PKCE verification of RFC 7636 §4.6) and refresh (§6) with rotation.
//!
//! Clients authenticate with HTTP Basic or with `client_id` and `client_secret` in the body
//! (RFC 6749 §2.3.1); errors are the JSON of §5.2.

use super::DemoProvider;
use super::codes::Redemption;
use super::sealed::Kind;
use crate::query::{StrictQuery as Params, form_decode};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Like Spotify's, refresh tokens stop working six months after the user first allowed access,
/// whatever rotations happened since.
const REFRESH_LIFETIME_SECS: u64 = 183 * 24 * 3600;

/// What an authorization code stands for; sealed into the code itself.
#[derive(Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    /// Identifies the code in the record of redeemed codes.
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub code_challenge: Option<String>,
    /// OpenID Connect: the authorization request's `nonce`, for the ID token.
    #[serde(default)]
    pub nonce: Option<String>,
    pub expires_at: u64,
}

/// What an access token stands for.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessGrant {
    pub client_id: String,
    pub scope: String,
    pub expires_at: u64,
}

/// What a refresh token stands for.
#[derive(Debug, Serialize, Deserialize)]
struct RefreshGrant {
    client_id: String,
    scope: String,
    /// When the user allowed access; rotations keep it, so the six months run from there.
    authorized_at: u64,
}

/// Every way a token request fails, each mapped once to its RFC 6749 §5.2 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenError {
    InvalidRequest(&'static str),
    InvalidClient,
    InvalidGrant(&'static str),
    InvalidScope,
    UnsupportedGrantType,
}

impl TokenError {
    fn code(self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidClient => "invalid_client",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::InvalidScope => "invalid_scope",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
        }
    }

    fn description(self) -> &'static str {
        match self {
            TokenError::InvalidRequest(text) | TokenError::InvalidGrant(text) => text,
            TokenError::InvalidClient => "Invalid client",
            TokenError::InvalidScope => "Requested scope exceeds the granted scope",
            TokenError::UnsupportedGrantType => {
                "grant_type must be authorization_code or refresh_token"
            }
        }
    }

    fn respond(self) -> HttpResponse {
        let mut builder = match self {
            // §5.2: a failed client authentication is a 401 with the scheme to use.
            TokenError::InvalidClient => {
                let mut builder = HttpResponse::Unauthorized();
                builder.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"demo\""));
                builder
            }
            _ => HttpResponse::BadRequest(),
        };
        no_store(&mut builder);
        builder.json(serde_json::json!({
            "error": self.code(),
            "error_description": self.description(),
        }))
    }
}

/// `POST /demo/api/token`.
pub async fn token(
    provider: web::Data<DemoProvider>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    match provider.answer_token_request(&req, &body) {
        Ok(tokens) => {
            let mut builder = HttpResponse::build(StatusCode::OK);
            no_store(&mut builder);
            builder.json(tokens)
        }
        Err(error) => {
            log::info!("demo token request rejected: {}", error.code());
            error.respond()
        }
    }
}

impl DemoProvider {
    fn answer_token_request(
        &self,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<serde_json::Value, TokenError> {
        if !req
            .content_type()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        {
            return Err(TokenError::InvalidRequest(
                "The body must be application/x-www-form-urlencoded",
            ));
        }
        let params = Params::parse(body)
            .map_err(|_| TokenError::InvalidRequest("A parameter is repeated"))?;
        self.authenticate_client(req, &params)?;
        match params.get("grant_type") {
            None => Err(TokenError::InvalidRequest("grant_type is missing")),
            Some("authorization_code") => {
                let tokens = self.redeem_code(&params)?;
                log::info!("demo token request granted: authorization_code");
                Ok(tokens)
            }
            Some("refresh_token") => {
                let tokens = self.refresh(&params)?;
                log::info!("demo token request granted: refresh_token");
                Ok(tokens)
            }
            Some(_) => Err(TokenError::UnsupportedGrantType),
        }
    }

    /// HTTP Basic or body credentials; both may be sent only if they agree.
    fn authenticate_client(&self, req: &HttpRequest, params: &Params) -> Result<(), TokenError> {
        let basic = match req.headers().get(header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(basic_credentials(value).ok_or(TokenError::InvalidClient)?),
        };
        let body_id = params.get("client_id");
        let body_secret = params.get("client_secret");
        let (id, secret) = match (&basic, body_id, body_secret) {
            (Some((id, secret)), body_id, body_secret) => {
                if body_id.is_some_and(|b| b != id) || body_secret.is_some_and(|b| b != secret) {
                    return Err(TokenError::InvalidClient);
                }
                (id.as_str(), secret.as_str())
            }
            (None, Some(id), Some(secret)) => (id, secret),
            // A public client (no secret) is not what the broker is; refuse as Spotify refuses
            // a confidential client that forgets its secret.
            (None, _, _) => return Err(TokenError::InvalidClient),
        };
        let secret_digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let secret_ok: bool = secret_digest.ct_eq(&self.client_secret_digest).into();
        if id == self.client_id && secret_ok {
            Ok(())
        } else {
            Err(TokenError::InvalidClient)
        }
    }

    fn redeem_code(&self, params: &Params) -> Result<serde_json::Value, TokenError> {
        let code = params
            .get("code")
            .ok_or(TokenError::InvalidRequest("code is missing"))?;
        let redirect_uri = params
            .get("redirect_uri")
            .ok_or(TokenError::InvalidRequest("redirect_uri is missing"))?;
        let invalid_code = TokenError::InvalidGrant("Invalid authorization code");
        let grant: CodeGrant = self.sealer.open(Kind::Code, code).ok_or(invalid_code)?;
        if grant.client_id != self.client_id {
            return Err(invalid_code);
        }
        let now = self.now();
        if now >= grant.expires_at {
            return Err(TokenError::InvalidGrant("Authorization code expired"));
        }
        // The first attempt consumes the code, even one that fails below: whoever holds a
        // stolen code gets one try at the verifier, not many.
        let redemption = self
            .redeemed_codes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .redeem(&grant.id, grant.expires_at, now);
        match redemption {
            Redemption::First => {}
            Redemption::Replay => {
                return Err(TokenError::InvalidGrant("Authorization code already used"));
            }
            Redemption::Full => {
                log::warn!("demo provider: too many codes in flight to track single use");
                return Err(TokenError::InvalidGrant(
                    "Too many codes in flight, try again",
                ));
            }
        }
        if redirect_uri != grant.redirect_uri {
            return Err(TokenError::InvalidGrant("Invalid redirect URI"));
        }
        match (&grant.code_challenge, params.get("code_verifier")) {
            (None, None) => {}
            (Some(challenge), Some(verifier)) => {
                if !crate::oauth::pkce::verifier_matches(verifier, challenge) {
                    return Err(TokenError::InvalidGrant("code_verifier was incorrect"));
                }
            }
            (Some(_), None) => return Err(TokenError::InvalidRequest("code_verifier required")),
            // RFC 9700 §2.1.1: a verifier without a challenge is refused, against downgrades.
            (None, Some(_)) => {
                return Err(TokenError::InvalidGrant("code_verifier was not expected"));
            }
        }
        Ok(self.issue_tokens(&grant.scope, &grant.scope, now, now, grant.nonce.as_deref()))
    }

    fn refresh(&self, params: &Params) -> Result<serde_json::Value, TokenError> {
        let refresh_token = params
            .get("refresh_token")
            .ok_or(TokenError::InvalidRequest("refresh_token is missing"))?;
        let invalid = TokenError::InvalidGrant("Invalid refresh token");
        let grant: RefreshGrant = self
            .sealer
            .open(Kind::Refresh, refresh_token)
            .ok_or(invalid)?;
        if grant.client_id != self.client_id {
            return Err(invalid);
        }
        let now = self.now();
        if now >= grant.authorized_at.saturating_add(REFRESH_LIFETIME_SECS) {
            return Err(TokenError::InvalidGrant("Refresh token revoked"));
        }
        // §6: a refresh may narrow the access token's scope, never widen it; the new refresh
        // token keeps the original scope.
        let access_scope = match params.get("scope") {
            None => grant.scope.as_str(),
            Some(requested) => {
                let granted: Vec<&str> = grant.scope.split(' ').collect();
                if !requested.split(' ').all(|s| granted.contains(&s)) {
                    return Err(TokenError::InvalidScope);
                }
                requested
            }
        };
        Ok(self.issue_tokens(access_scope, &grant.scope, grant.authorized_at, now, None))
    }

    /// A new access token and a new refresh token: refresh tokens rotate on every use.
    /// Being stateless, an earlier refresh token keeps working until its six months end.
    fn issue_tokens(
        &self,
        access_scope: &str,
        refresh_scope: &str,
        authorized_at: u64,
        now: u64,
        nonce: Option<&str>,
    ) -> serde_json::Value {
        let access_token = self.sealer.seal(
            Kind::Access,
            &AccessGrant {
                client_id: self.client_id.clone(),
                scope: access_scope.to_owned(),
                expires_at: now.saturating_add(self.access_token_ttl_secs),
            },
        );
        let refresh_token = self.sealer.seal(
            Kind::Refresh,
            &RefreshGrant {
                client_id: self.client_id.clone(),
                scope: refresh_scope.to_owned(),
                authorized_at,
            },
        );
        let mut answer = serde_json::json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl_secs,
            "refresh_token": refresh_token,
            "scope": access_scope,
        });
        if let Some(identity) = &self.identity
            && access_scope.split(' ').any(|s| s == "openid")
        {
            let mut claims = serde_json::json!({
                "iss": identity.issuer,
                "sub": "demo-listener",
                "aud": self.client_id,
                "iat": now,
                "exp": now + self.access_token_ttl_secs,
                "name": "Demo Listener",
                "email": "listener@demo.invalid",
            });
            if let Some(nonce) = nonce {
                claims["nonce"] = nonce.into();
            }
            answer["id_token"] = identity.sign(&claims).into();
        }
        answer
    }
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))`, RFC 6749 §2.3.1.
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// RFC 7636 §4.1 (43 to 128 unreserved characters) and §4.6:
/// `BASE64URL(SHA256(verifier)) == challenge`, compared in constant time.
/// RFC 6749 §5.1: token responses, errors included, are never cached.
fn no_store(builder: &mut actix_web::HttpResponseBuilder) {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
}
