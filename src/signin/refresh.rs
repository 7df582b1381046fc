//! Step 5: the extension renews its access token with the sealed handle from `signedin`
//! (RFC 6749 §6). The broker keeps no refresh token: it opens the handle, asks the provider,
//! and seals the (possibly rotated) refresh token into a new handle.

use super::Grant;
use crate::broker::Broker;
use crate::oauth::oidc::IdTokenError;
use crate::oauth::oidc::id_token::Expected;
use crate::oauth::{ExchangeError, TokenClient};
use crate::secrets::RefreshHandle;
use crate::telemetry::catalog;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("the handle is not one this broker sealed")]
    Unreadable,
    #[error("the handle's provider is no longer configured")]
    UnknownProvider { provider: String },
    #[error("the provider no longer accepts the grant")]
    ReauthRequired { provider: String },
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
            RefreshError::Unreadable => None,
            RefreshError::UnknownProvider { provider }
            | RefreshError::ReauthRequired { provider }
            | RefreshError::Provider { provider, .. }
            | RefreshError::IdToken { provider, .. } => Some(provider),
        }
    }
}

pub async fn refresh(
    broker: &Broker,
    tokens: &TokenClient,
    handle: &RefreshHandle,
) -> Result<Grant, RefreshError> {
    let Ok(opened) = broker.sealer.open(handle.expose()) else {
        catalog::refreshed("unknown", "unreadable");
        return Err(RefreshError::Unreadable);
    };
    let Some(provider) = broker.providers.get(&opened.provider) else {
        return Err(RefreshError::UnknownProvider {
            provider: opened.provider,
        });
    };
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
                            return Err(RefreshError::IdToken {
                                provider: provider.name.clone(),
                                label: provider.label.clone(),
                                error,
                            });
                        }
                    }
                }
                _ => None,
            };
            catalog::refreshed(&provider.name, "ok");
            // Providers that do not rotate refresh tokens (RFC 6749 §6) omit it: keep using
            // the old one, sealed afresh.
            token_set.refresh_token.get_or_insert(opened.refresh_token);
            Ok(Grant::seal_with_identity(
                broker,
                &provider.name,
                token_set,
                claims,
            ))
        }
        Err(error) if error.needs_reauth() => {
            catalog::refreshed(&provider.name, "reauth");
            Err(RefreshError::ReauthRequired {
                provider: provider.name.clone(),
            })
        }
        Err(error) => {
            catalog::refreshed(&provider.name, error.reason());
            log::warn!("refresh for provider {} failed: {error}", provider.name);
            Err(RefreshError::Provider {
                provider: provider.name.clone(),
                label: provider.label.clone(),
                error,
            })
        }
    }
}
