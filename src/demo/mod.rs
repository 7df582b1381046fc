//! The demo provider: a stand-in OAuth 2.0 provider served by the broker itself under `/demo/`,
//! so a whole sign-in works on a machine with no Spotify account.
//!
//! It behaves like Spotify's endpoints, and strictly, so it catches broker mistakes rather than
//! forgiving them: exact redirect URIs, PKCE with S256 only, single-use codes that live 60
//! seconds, rotated refresh tokens, and no repeated parameters.
//!
//! - `consent`: `GET /demo/authorize` (the consent page) and `POST /demo/consent` (Allow/Deny,
//!   back to the broker with a code or `access_denied`);
//! - `token`: `POST /demo/api/token` (code exchange and refresh);
//! - `api`: `GET /demo/v1/me/top/artists`, with CORS for the extension page;
//! - `sealed`: the stateless sealing (the broker's one AEAD helper, `crate::sealing`) behind
//!   every consent request, code and token;
//! - `codes`: the per-process record that makes codes single use;
//! - `identity`: the OpenID Provider side (discovery, key set, signed ID tokens, `iss` in its
//!   redirect), on unless `demo.openid_connect = false`.
//!
//! Query strings and form bodies are read by the broker's strict parser (`crate::query`), and
//! PKCE is checked by `crate::oauth::pkce`, the same code the broker's own side uses.

mod api;
mod codes;
mod consent;
mod identity;
mod sealed;
mod token;

#[cfg(test)]
mod tests;

use crate::clock::SharedClock;
use actix_web::web;
use codes::RedeemedCodes;
use sealed::Sealer;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Mutex;

/// The application name the consent page shows, as Spotify shows a registered app's name.
const CLIENT_NAME: &str = "oauth-broker demo";

/// The demo provider's configuration and its one piece of process state (redeemed codes).
pub struct DemoProvider {
    client_id: String,
    /// SHA-256 of the client secret: compared in constant time, and equal-length whatever the
    /// secret's length, so a comparison reveals nothing about it.
    client_secret_digest: [u8; 32],
    redirect_uris: Vec<String>,
    access_token_ttl_secs: u64,
    clock: SharedClock,
    sealer: Sealer,
    redeemed_codes: Mutex<RedeemedCodes>,
    /// OpenID Connect: issuer and signing key; `None` for a plain OAuth 2.0 demo.
    identity: Option<identity::DemoIdentity>,
    /// Origins whose pages may read the demo API's answers (CORS): the broker's
    /// `sessions.allowed_origins`, so the demo behaves like an API that lists its clients.
    api_origins: Vec<String>,
}

impl DemoProvider {
    /// `client_id` / `client_secret`: what the broker's `providers.<name>` table configures for
    /// it; `redirect_uris`: the exact redirect URIs accepted; `access_token_ttl_secs`: lifetime
    /// of issued access tokens (3600 by default).
    pub fn new(
        client_id: String,
        client_secret: String,
        redirect_uris: Vec<String>,
        access_token_ttl_secs: u64,
        clock: SharedClock,
    ) -> Self {
        let sealer = Sealer::from_client_secret(&client_secret);
        let client_secret_digest = Sha256::digest(client_secret.as_bytes()).into();
        Self {
            client_id,
            client_secret_digest,
            redirect_uris,
            access_token_ttl_secs,
            clock,
            sealer,
            redeemed_codes: Mutex::new(RedeemedCodes::default()),
            identity: None,
            api_origins: Vec::new(),
        }
    }

    /// Lets pages of these origins (`scheme://host[:port]`) read the demo API's answers.
    pub fn with_api_origins(mut self, origins: Vec<String>) -> Self {
        self.api_origins = origins;
        self
    }

    /// Whether a page of `origin` may read the demo API's answers.
    pub fn api_allows(&self, origin: &str) -> bool {
        self.api_origins.iter().any(|allowed| allowed == origin)
    }

    /// Its metadata and key set as the broker's OpenID client reads them, for the broker in this
    /// same process to install without a request to itself.
    pub fn openid_documents(
        &self,
    ) -> Option<(crate::oauth::oidc::Metadata, jsonwebtoken::jwk::JwkSet)> {
        let identity = self.identity.as_ref()?;
        let metadata = serde_json::from_value(identity.metadata()).ok()?;
        let keys = serde_json::from_value(identity.jwks()).ok()?;
        Some((metadata, keys))
    }

    /// Makes it an OpenID Provider with this issuer (`{callback_url}/demo`).
    pub fn with_openid(mut self, issuer: String) -> Self {
        self.identity = Some(identity::DemoIdentity::new(issuer));
        self
    }

    fn now(&self) -> u64 {
        self.clock.now_secs()
    }

    fn is_registered_redirect_uri(&self, redirect_uri: &str) -> bool {
        self.redirect_uris.iter().any(|uri| uri == redirect_uri)
    }
}

impl fmt::Debug for DemoProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoProvider")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("redirect_uris", &self.redirect_uris)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .finish_non_exhaustive()
    }
}

/// Registers the routes under `/demo`; expects `web::Data<DemoProvider>` in app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/demo")
            .route("/authorize", web::get().to(consent::authorize))
            .route("/consent", web::post().to(consent::decide))
            .route("/api/token", web::post().to(token::token))
            .route(
                "/.well-known/openid-configuration",
                web::get().to(identity::metadata),
            )
            .route("/jwks", web::get().to(identity::jwks))
            .configure(api::configure),
    );
}
