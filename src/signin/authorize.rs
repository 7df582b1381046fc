//! Step 2: the sign-in link is opened. The ticket is spent (single use), a fresh `state` and
//! PKCE verifier are stored as the pending authorization for `signin.state_ttl_secs`, and the
//! browser is sent to the provider's authorize URL (RFC 6749 §4.1.1, RFC 7636, RFC 9700 §2.1).
//! For OpenID Connect a fresh `nonce` is stored with them too (Core §3.1.2.1).

use super::is_opaque_token;
use crate::broker::Broker;
use crate::oauth::authorize::authorize_url;
use crate::oauth::pkce;
use crate::random;
use crate::secrets::Ticket;
use crate::store::{AwaitedStep, PendingAuthorization};
use crate::telemetry::catalog;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Malformed, unknown, already used or expired; or its provider is no longer configured.
    #[error("the sign-in link is not valid")]
    NotValid,
    #[error("the store is unavailable")]
    Unavailable,
}

impl LinkError {
    pub fn reason(self) -> &'static str {
        match self {
            LinkError::NotValid => "bad_ticket",
            LinkError::Unavailable => "store_unavailable",
        }
    }
}

/// The provider's authorize URL for the ticket in the link.
pub async fn authorize(broker: &Broker, ticket: &str) -> Result<Url, LinkError> {
    let result = start_authorization(broker, ticket).await;
    if let Err(LinkError::NotValid) = result {
        catalog::rejected(LinkError::NotValid.reason());
    }
    result
}

async fn start_authorization(broker: &Broker, ticket: &str) -> Result<Url, LinkError> {
    if !is_opaque_token(ticket) {
        return Err(LinkError::NotValid);
    }
    let record = broker
        .store
        .take_ticket(&Ticket::new(ticket))
        .await
        .map_err(|_| LinkError::Unavailable)?
        .ok_or(LinkError::NotValid)?;
    let provider = broker
        .providers
        .get(&record.provider)
        .ok_or(LinkError::NotValid)?;
    // An OpenID provider whose metadata is not loaded yet could not check the ID token.
    if !provider.is_ready() {
        return Err(LinkError::Unavailable);
    }
    let state = random::state();
    let (challenge, verifier) = pkce::new_random_s256();
    let nonce = provider.openid.as_ref().map(|_| random::nonce());
    let url = authorize_url(provider, &state, &challenge, nonce.as_ref())
        .ok_or(LinkError::Unavailable)?;
    let session = record.session.clone();
    let pending = PendingAuthorization {
        session: record.session,
        provider: provider.name.clone(),
        verifier,
        nonce,
    };
    let ttl = broker.settings.signin.state_ttl_secs;
    broker
        .store
        .put_pending(&state, pending, ttl)
        .await
        .map_err(|_| LinkError::Unavailable)?;
    // The link is spent: the sign-in now waits for the person to come back from the provider.
    super::expiry::awaiting(broker, &session, &provider.name, AwaitedStep::Provider, ttl).await;
    Ok(url)
}
