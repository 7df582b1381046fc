//! The sign-in sequence, one file per step, each a plain async function over the shared
//! [`Broker`] that returns a typed outcome. None of them knows about sockets or HTTP: the
//! connection actor and the routes translate between the wire and these.
//!
//! 1. [`begin`]: a session asks for a sign-in link; a one-time ticket is minted for it.
//! 2. [`authorize`]: the link is opened; the ticket is spent, a fresh `state` and PKCE
//!    verifier are stored, and the browser goes to the provider.
//! 3. [`complete`]: the provider redirects back; the `state` is spent, the code exchanged, and
//!    the tokens are for the session (or held until the person types the code shown).
//! 4. [`confirm`]: the person types that code into the extension; the held tokens go out.
//! 5. [`refresh`]: the extension renews its access token with its sealed handle.
//!
//! Beside them, [`expiry`]: a sign-in whose link or pending authorization runs out unused is
//! reported to the session that began it, so no extension waits for ever; and [`receipt`]:
//! the completion page's browser may reload it and see the same code.
//!
//! Each step has one error enum; the web layer maps each variant once to what people see.

pub mod authorize;
pub mod begin;
pub mod complete;
pub mod confirm;
pub mod expiry;
pub mod receipt;
pub mod refresh;

use crate::broker::Broker;
use crate::oauth::TokenSet;
use crate::oauth::oidc::IdClaims;
use crate::secrets::{AccessToken, IdToken, RefreshHandle};

/// Tokens for the extension, as a `signedin` frame carries them: the refresh token only
/// sealed into a handle, so the broker keeps none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub provider: String,
    pub access_token: AccessToken,
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
    pub refresh: Option<RefreshHandle>,
    /// OpenID Connect only, and only once validated.
    pub id_token: Option<IdToken>,
    pub claims: Option<IdClaims>,
}

impl Grant {
    pub fn seal(broker: &Broker, provider: &str, tokens: TokenSet) -> Self {
        Self::seal_with_identity(broker, provider, tokens, None)
    }

    /// With the claims of the validated ID token in `tokens`; an ID token nobody validated
    /// (`claims` `None`) never reaches the extension.
    pub fn seal_with_identity(
        broker: &Broker,
        provider: &str,
        tokens: TokenSet,
        claims: Option<IdClaims>,
    ) -> Self {
        let refresh = tokens
            .refresh_token
            .as_ref()
            .map(|rt| broker.sealer.seal(provider, rt, broker.clock.now_secs()));
        Self {
            provider: provider.to_owned(),
            access_token: tokens.access_token,
            token_type: tokens.token_type,
            expires_in: tokens.expires_in,
            scope: tokens.scope,
            refresh,
            id_token: tokens.id_token.filter(|_| claims.is_some()),
            claims,
        }
    }
}

/// Tickets, states and resume secrets are 32 alphanumerics; anything else is not ours and is
/// refused before the store is asked.
pub(crate) fn is_opaque_token(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.chars().all(|c| c.is_ascii_alphanumeric())
}
