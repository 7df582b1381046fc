//! Step 5: the extension renews its access token with the sealed handle from `signedin`
//! (RFC 6749 §6). The broker keeps no refresh token: it opens the handle, asks the provider,
//! and seals the (possibly rotated) refresh token into a new handle.
//!
//! Refreshes are counted per session and per client address (`limits.refreshes_per_*`), and
//! refreshes of one handle fly once: concurrent callers on this replica join one flight, the
//! replicas agree through the store on which of them sends the token request, and every caller
//! (also one just behind, for `REFRESH_SHARED_FOR_SECS`) gets the same new access token and
//! handle. A provider that rotates refresh tokens accepts each once (RFC 9700 §4.14.2), so a
//! second request with the same handle would revoke the grant for everyone holding it.

use super::Grant;
use crate::broker::{Broker, REFRESH_SHARED_FOR_SECS};
use crate::limits::{Decision, Limit};
use crate::oauth::oidc::IdTokenError;
use crate::oauth::oidc::id_token::{Expected, IdClaims};
use crate::oauth::{ExchangeError, Provider, TokenClient};
use crate::sealing::SealedRefresh;
use crate::secrets::{AccessToken, IdToken, RefreshHandle, SessionId, SharedRefresh};
use crate::single_flight::{self, Joined};
use crate::telemetry::catalog;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("the handle is not one this broker sealed")]
    Unreadable,
    #[error("the handle's provider is no longer configured")]
    UnknownProvider { provider: String },
    #[error("the provider no longer accepts the grant")]
    ReauthRequired { provider: String },
    #[error("the handle's sign-in is older than signin.refresh_handle_max_age_secs")]
    TooOld { provider: String },
    #[error("too many refreshes")]
    RateLimited { retry_after_secs: u64 },
    #[error("a refresh of this session is still in flight")]
    InFlight,
    #[error("the provider did not renew: {error}")]
    Provider {
        provider: String,
        label: String,
        error: ExchangeError,
    },
    /// An OpenID provider's refresh answered a new ID token that does not validate.
    #[error("the renewed ID token was refused: {error}")]
    IdToken {
        provider: String,
        label: String,
        error: IdTokenError,
    },
}

impl RefreshError {
    pub fn provider(&self) -> Option<&str> {
        match self {
            RefreshError::Unreadable
            | RefreshError::RateLimited { .. }
            | RefreshError::InFlight => None,
            RefreshError::UnknownProvider { provider }
            | RefreshError::ReauthRequired { provider }
            | RefreshError::TooOld { provider }
            | RefreshError::Provider { provider, .. }
            | RefreshError::IdToken { provider, .. } => Some(provider),
        }
    }
}

/// Who asks: the session and its client address, for the limits.
pub struct Caller<'a> {
    pub session: &'a SessionId,
    pub client: &'a str,
}

pub async fn refresh(
    broker: Arc<Broker>,
    tokens: TokenClient,
    caller: Caller<'_>,
    handle: &RefreshHandle,
) -> Result<Grant, RefreshError> {
    let Ok(opened) = broker.sealer.open(handle.expose()) else {
        catalog::refreshed("unknown", "unreadable");
        return Err(RefreshError::Unreadable);
    };
    let Some(provider) = broker.providers.get(&opened.provider).cloned() else {
        return Err(RefreshError::UnknownProvider {
            provider: opened.provider,
        });
    };
    let max_age = broker.settings.signin.refresh_handle_max_age_secs;
    if broker.clock.now_secs().saturating_sub(opened.signed_in_at) > max_age {
        catalog::refreshed(&provider.name, "too_old");
        return Err(RefreshError::TooOld {
            provider: provider.name.clone(),
        });
    }

    // Counted once the handle opened: refusing garbage costs one AEAD open, a refresh costs
    // a token request with our client secret.
    for (limit, subject) in [
        (Limit::RefreshesPerSession, caller.session.expose()),
        (Limit::RefreshesPerClient, caller.client),
    ] {
        if let Decision::Limited { retry_after_secs } = broker.limits.check(limit, subject).await {
            catalog::refresh_refused(limit.name());
            return Err(RefreshError::RateLimited { retry_after_secs });
        }
    }

    let digest = handle_digest(handle);
    let (waiting, led) = match broker.refreshes.join(&digest, broker.clock.now_millis()) {
        Joined::Finished(shared) => {
            catalog::refresh_shared(&provider.name);
            return Outcome::read(&shared, &provider);
        }
        Joined::Wait(waiting) => (waiting, false),
        Joined::Lead(lead, waiting) => {
            // Spawned, not awaited here: the callers waiting on this flight must get its
            // result even if the connection that started it closes meanwhile.
            let broker = broker.clone();
            let provider = provider.clone();
            actix_rt::spawn(async move {
                let (shared, keep) = fly(&broker, &tokens, &provider, opened, &digest).await;
                lead.finish(shared, keep, broker.clock.now_millis());
            });
            (waiting, true)
        }
    };
    // The flight itself is bounded (token request time-out, store waits); this is a backstop.
    let bound = provider.timeout * 3 + Duration::from_secs(5);
    match actix_rt::time::timeout(bound, single_flight::result_of(waiting)).await {
        Ok(Some(shared)) => {
            if !led {
                catalog::refresh_shared(&provider.name);
            }
            Outcome::read(&shared, &provider)
        }
        _ => Err(RefreshError::Provider {
            provider: provider.name.clone(),
            label: provider.label.clone(),
            error: ExchangeError::Timeout,
        }),
    }
}

/// One flight: the result another replica left, or the token request (claimed so that no
/// other replica sends one meanwhile) and its outcome left for the others. Answers the outcome
/// and whether it may answer later callers too.
async fn fly(
    broker: &Broker,
    tokens: &TokenClient,
    provider: &Provider,
    opened: SealedRefresh,
    digest: &str,
) -> (SharedRefresh, bool) {
    let store = &broker.store;
    // A claim outlives the token request it covers; a replica that dies holding one delays
    // the others by this much at most.
    let lease = provider.timeout.as_secs() + 2;
    let deadline = actix_rt::time::Instant::now() + Duration::from_secs(lease + 1);
    loop {
        if let Ok(Some(shared)) = store.shared_refresh(digest).await {
            return (shared, true);
        }
        match store.claim_refresh(digest, lease).await {
            Ok(true) => break,
            // Without the store the replicas cannot agree; refreshing beats refusing.
            Err(_) => break,
            Ok(false) if actix_rt::time::Instant::now() >= deadline => break,
            Ok(false) => actix_rt::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let outcome = request(broker, tokens, provider, opened).await;
    let keep = outcome.is_lasting();
    let shared = outcome.write();
    // Failures reach only the callers waiting now: a later try may well succeed.
    let ttl = if keep { REFRESH_SHARED_FOR_SECS } else { 2 };
    let _ = store.share_refresh(digest, &shared, ttl).await;
    (shared, keep)
}

async fn request(
    broker: &Broker,
    tokens: &TokenClient,
    provider: &Provider,
    opened: SealedRefresh,
) -> Outcome {
    match tokens.refresh(provider, &opened.refresh_token).await {
        Ok(mut token_set) => {
            // A new ID token from a refresh is checked like the first (Core §12.2), without a
            // nonce, which refresh responses do not carry.
            let claims = match (&provider.openid, &token_set.id_token) {
                (Some(openid), Some(id_token)) => {
                    let expected = Expected {
                        client_id: &provider.client_id,
                        nonce: None,
                        now_secs: broker.clock.now_secs(),
                    };
                    match openid
                        .validate(tokens.http(), id_token.expose(), &expected)
                        .await
                    {
                        Ok(claims) => Some(claims),
                        Err(error) => {
                            catalog::refreshed(&provider.name, error.reason());
                            log::warn!(
                                "refresh for provider {}: ID token refused: {error}",
                                provider.name
                            );
                            return Outcome::IdTokenRefused { error };
                        }
                    }
                }
                _ => None,
            };
            catalog::refreshed(&provider.name, "ok");
            // Providers that do not rotate refresh tokens (RFC 6749 §6) omit it: keep using
            // the old one, sealed afresh (under the current key, so a rotation of
            // `secrets.seal_key` moves handles over as they are used).
            let refresh_token = token_set
                .refresh_token
                .take()
                .unwrap_or(opened.refresh_token);
            let handle = broker.sealer.seal_renewed(
                &provider.name,
                &refresh_token,
                broker.clock.now_secs(),
                opened.signed_in_at,
            );
            Outcome::Renewed {
                access_token: token_set.access_token,
                token_type: token_set.token_type,
                expires_in: token_set.expires_in,
                scope: token_set.scope,
                refresh: handle,
                id_token: token_set.id_token.filter(|_| claims.is_some()),
                claims,
            }
        }
        Err(error) if error.needs_reauth() => {
            catalog::refreshed(&provider.name, "reauth");
            Outcome::Reauth
        }
        Err(error) => {
            catalog::refreshed(&provider.name, error.reason());
            log::warn!("refresh for provider {} failed: {error}", provider.name);
            Outcome::Failed { error }
        }
    }
}

/// A flight's outcome as it travels between callers and replicas (sealed in the store).
#[derive(Serialize, Deserialize)]
#[serde(tag = "o", rename_all = "snake_case")]
enum Outcome {
    Renewed {
        access_token: AccessToken,
        token_type: String,
        expires_in: Option<u64>,
        scope: Option<String>,
        refresh: RefreshHandle,
        #[serde(default)]
        id_token: Option<IdToken>,
        #[serde(default)]
        claims: Option<IdClaims>,
    },
    Reauth,
    Failed {
        error: ExchangeError,
    },
    /// A new ID token from the refresh did not validate (OpenID Connect Core §12.2).
    IdTokenRefused {
        error: IdTokenError,
    },
}

impl Outcome {
    /// A renewal answers a second tab just behind; a dead grant stays dead.
    fn is_lasting(&self) -> bool {
        !matches!(
            self,
            Outcome::Failed { .. } | Outcome::IdTokenRefused { .. }
        )
    }

    fn write(&self) -> SharedRefresh {
        SharedRefresh::new(serde_json::to_string(self).expect("outcomes serialise"))
    }

    fn read(shared: &SharedRefresh, provider: &Provider) -> Result<Grant, RefreshError> {
        match serde_json::from_str(shared.expose()) {
            Ok(Outcome::Renewed {
                access_token,
                token_type,
                expires_in,
                scope,
                refresh,
                id_token,
                claims,
            }) => Ok(Grant {
                provider: provider.name.clone(),
                access_token,
                token_type,
                expires_in,
                scope,
                refresh: Some(refresh),
                id_token,
                claims,
            }),
            Ok(Outcome::IdTokenRefused { error }) => Err(RefreshError::IdToken {
                provider: provider.name.clone(),
                label: provider.label.clone(),
                error,
            }),
            Ok(Outcome::Reauth) => Err(RefreshError::ReauthRequired {
                provider: provider.name.clone(),
            }),
            Ok(Outcome::Failed { error }) => Err(RefreshError::Provider {
                provider: provider.name.clone(),
                label: provider.label.clone(),
                error,
            }),
            Err(_) => Err(RefreshError::Provider {
                provider: provider.name.clone(),
                label: provider.label.clone(),
                error: ExchangeError::Malformed,
            }),
        }
    }
}

/// Flights are keyed by a digest of the handle: whoever knows it holds the handle, and the
/// store's keys reveal nothing.
fn handle_digest(handle: &RefreshHandle) -> String {
    Sha256::digest(handle.expose().as_bytes())
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect()
}
