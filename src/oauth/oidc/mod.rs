//! OpenID Connect on top of the OAuth client: discovery of the issuer's metadata and keys (at
//! start and periodically, `/readyz` 503 until loaded), and validation of ID tokens against
//! them (`id_token`). One [`OpenIdProvider`] per configured provider with an issuer, shared by
//! every worker.

pub mod discovery;
pub mod id_token;

pub use discovery::{DiscoveryError, Metadata};
pub use id_token::{IdClaims, IdTokenError};

use crate::oauth::fetch::{self, FetchError};
use jsonwebtoken::jwk::JwkSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// An unknown `kid` may mean the issuer rotated its keys: the set is fetched again, but at
/// most this often (seconds, on the broker's clock), so tokens with made-up `kid`s cannot make
/// the broker hammer the issuer.
pub const KEY_REFETCH_INTERVAL_SECS: u64 = 60;

/// Metadata and keys are fetched again this often, to follow rotations and moved endpoints.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub struct Loaded {
    pub metadata: Metadata,
    pub keys: JwkSet,
}

#[derive(Debug)]
pub struct OpenIdProvider {
    /// Exactly as configured (or the preset's, filled): `iss` must equal it (Core §3.1.3.7).
    pub issuer: String,
    /// Bound on every discovery and key request.
    pub timeout: Duration,
    loaded: RwLock<Option<Arc<Loaded>>>,
    /// When an unknown `kid` last made it fetch the key set (clock seconds).
    last_refetch: Mutex<Option<u64>>,
}

impl OpenIdProvider {
    pub fn new(issuer: String, timeout: Duration) -> Self {
        Self {
            issuer,
            timeout,
            loaded: RwLock::new(None),
            last_refetch: Mutex::new(None),
        }
    }

    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    /// What discovery found, once it has.
    pub fn loaded(&self) -> Option<Arc<Loaded>> {
        self.loaded.read().expect("not poisoned").clone()
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded().is_some()
    }

    /// Fetches the metadata, checks it names this issuer, then fetches its keys.
    pub async fn load(&self, http: &awc::Client) -> Result<(), DiscoveryError> {
        let metadata: Metadata = fetch::get_json(http, &self.discovery_url(), self.timeout)
            .await
            .map_err(DiscoveryError::Metadata)?;
        metadata.check(&self.issuer)?;
        let keys = self
            .fetch_keys(http, &metadata.jwks_uri)
            .await
            .map_err(DiscoveryError::Keys)?;
        *self.loaded.write().expect("not poisoned") = Some(Arc::new(Loaded { metadata, keys }));
        Ok(())
    }

    /// Metadata and keys known without asking (the built-in demo provider's, from this same
    /// process), so it is ready at once.
    pub fn install(&self, metadata: Metadata, keys: JwkSet) {
        *self.loaded.write().expect("not poisoned") = Some(Arc::new(Loaded { metadata, keys }));
    }

    async fn fetch_keys(&self, http: &awc::Client, url: &str) -> Result<JwkSet, FetchError> {
        fetch::get_json(http, url, self.timeout).await
    }

    /// Fetches the key set again after an unknown `kid`, unless an unknown `kid` did so less
    /// than [`KEY_REFETCH_INTERVAL_SECS`] ago. True when a new set was loaded.
    pub async fn refetch_keys(&self, http: &awc::Client, now_secs: u64) -> bool {
        let Some(loaded) = self.loaded() else {
            return false;
        };
        {
            let mut last = self.last_refetch.lock().expect("not poisoned");
            if last.is_some_and(|t| now_secs < t + KEY_REFETCH_INTERVAL_SECS) {
                return false;
            }
            *last = Some(now_secs);
        }
        match self.fetch_keys(http, &loaded.metadata.jwks_uri).await {
            Ok(keys) => {
                let metadata = loaded.metadata.clone();
                *self.loaded.write().expect("not poisoned") =
                    Some(Arc::new(Loaded { metadata, keys }));
                true
            }
            Err(e) => {
                log::warn!("OpenID keys of {}: {e}", self.issuer);
                false
            }
        }
    }

    /// Validates an ID token, fetching the keys again (rate-limited) when it names a `kid`
    /// the loaded set does not have.
    pub async fn validate(
        &self,
        http: &awc::Client,
        token: &str,
        expected: &id_token::Expected<'_>,
    ) -> Result<IdClaims, IdTokenError> {
        let loaded = self.loaded().ok_or(IdTokenError::NotLoaded)?;
        match id_token::validate(token, &self.issuer, expected, &loaded.keys) {
            Err(IdTokenError::UnknownKey) if self.refetch_keys(http, expected.now_secs).await => {
                let loaded = self.loaded().ok_or(IdTokenError::NotLoaded)?;
                id_token::validate(token, &self.issuer, expected, &loaded.keys)
            }
            other => other,
        }
    }

    /// Whether the authorization response must carry `iss` (RFC 9207 §3: when the metadata
    /// says `authorization_response_iss_parameter_supported`).
    pub fn requires_iss_in_response(&self) -> bool {
        self.loaded()
            .is_some_and(|l| l.metadata.authorization_response_iss_parameter_supported)
    }
}

/// Loads every OpenID provider's metadata now, and again every [`REFRESH_INTERVAL`]; a failed
/// load is retried with back-off (0.5 s doubling to 30 s), so a provider down at start is
/// picked up as soon as it answers. Runs until the system stops.
pub async fn keep_loaded(provider: Arc<OpenIdProvider>, name: String) {
    let http = crate::oauth::exchange::provider_http_client();
    let mut backoff = Duration::from_millis(500);
    if provider.is_loaded() {
        actix_rt::time::sleep(REFRESH_INTERVAL).await;
    }
    loop {
        match provider.load(&http).await {
            Ok(()) => {
                log::info!(
                    "OpenID metadata of provider {name} loaded from {}",
                    provider.issuer
                );
                backoff = Duration::from_millis(500);
                actix_rt::time::sleep(REFRESH_INTERVAL).await;
            }
            Err(e) => {
                log::warn!(
                    "OpenID discovery for provider {name} ({}): {e}; retrying in {:?}",
                    provider.discovery_url(),
                    backoff
                );
                actix_rt::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
