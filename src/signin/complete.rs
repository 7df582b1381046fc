//! Step 3: the provider redirects back to `/complete/{provider}`. The `state` is spent (single
//! use, and it must have been minted for this provider: RFC 9700 §4.4 mix-up defence), then
//! either the provider's refusal ends the attempt, or the code is exchanged with the client
//! secret and the PKCE verifier. With `signin.confirm_code` the tokens are held until the
//! person types the code shown on the page into the extension; otherwise they go to the
//! session at once.
//!
//! A `state` already spent is a reload when the browser that got the first answer sends back
//! its cookie ([`super::receipt`]): the same page again, with no second exchange and nothing
//! for the session; without that cookie it is a replay.
//!
//! For OpenID Connect, the redirect's `iss` must be the issuer's (RFC 9207 §2.4; required when
//! the metadata promises it), and the ID token from the exchange must validate, with this
//! authorization's `nonce` (Core §3.1.3.7), before anything reaches the session.

use super::receipt::{self, NotThisBrowsers, ReceiptCookie, Reloaded};
use super::{Grant, is_opaque_token};
use crate::broker::Broker;
use crate::oauth::oidc::IdTokenError;
use crate::oauth::oidc::id_token::Expected;
use crate::oauth::{ExchangeError, TokenClient};
use crate::query::StrictQuery;
use crate::random;
use crate::secrets::{AuthorizationCode, ConfirmationCode, SessionId, State};
use crate::store::HeldGrant;
use crate::telemetry::catalog;

/// What the redirect back came to.
#[derive(Debug)]
pub enum Outcome {
    /// The code was exchanged: the session is to be told.
    Completed(Box<Completed>),
    /// The browser that got the page asked again: the page only, the session hears nothing.
    Reloaded(Reloaded),
}

/// A completed exchange: what the session is to be told, and what the page shows.
#[derive(Debug)]
pub enum Completed {
    /// Tokens for the session now (`signin.confirm_code` off).
    SignedIn {
        session: SessionId,
        grant: Grant,
        cookie: Option<ReceiptCookie>,
    },
    /// Tokens held for the session until the code shown on the page is typed.
    AwaitingCode {
        session: SessionId,
        provider: String,
        code: ConfirmationCode,
        expires_in: u64,
        cookie: Option<ReceiptCookie>,
    },
}

impl Completed {
    pub fn session(&self) -> &SessionId {
        match self {
            Completed::SignedIn { session, .. } | Completed::AwaitingCode { session, .. } => {
                session
            }
        }
    }

    /// The cookie for a reload of the page, if the receipt could be kept.
    pub fn cookie(&self) -> Option<&ReceiptCookie> {
        match self {
            Completed::SignedIn { cookie, .. } | Completed::AwaitingCode { cookie, .. } => {
                cookie.as_ref()
            }
        }
    }
}

/// Which provider a failed attempt was for, as metrics and pages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderNames {
    pub name: String,
    pub label: String,
}

/// Why a completion failed. Those that name a `session` end a sign-in that session started,
/// so it is told; the others never reached a known attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompletionError {
    #[error("the query repeats or oversizes a parameter")]
    BadQuery,
    #[error("no state")]
    MissingState,
    #[error("the state is unknown, used or expired")]
    UnknownState,
    #[error("the state was answered already, to another browser")]
    Replayed,
    #[error("the state was minted for another provider")]
    ProviderMismatch {
        session: SessionId,
        started_with: String,
    },
    #[error("the state's provider is no longer configured")]
    UnknownProvider,
    #[error("the person declined at the provider")]
    Denied {
        session: SessionId,
        provider: ProviderNames,
    },
    #[error("the provider answered with an error")]
    ProviderRefused {
        session: SessionId,
        provider: ProviderNames,
    },
    #[error("the provider sent no code")]
    MissingCode {
        session: SessionId,
        provider: ProviderNames,
    },
    #[error("the authorization response's iss is missing or not the provider's issuer")]
    WrongIssuer {
        session: SessionId,
        provider: ProviderNames,
    },
    #[error("the ID token was refused: {error}")]
    IdToken {
        session: SessionId,
        provider: ProviderNames,
        error: IdTokenError,
    },
    #[error("the code exchange failed: {error}")]
    Exchange {
        session: SessionId,
        provider: ProviderNames,
        error: ExchangeError,
    },
    #[error("the store is unavailable")]
    Unavailable,
}

impl CompletionError {
    /// The metric reason.
    pub fn reason(&self) -> &'static str {
        match self {
            CompletionError::BadQuery => "bad_query",
            CompletionError::MissingState => "missing_state",
            CompletionError::UnknownState => "unknown_state",
            CompletionError::Replayed => "replayed_completion",
            CompletionError::ProviderMismatch { .. } => "provider_mismatch",
            CompletionError::UnknownProvider => "unknown_provider",
            CompletionError::Denied { .. } => "access_denied",
            CompletionError::ProviderRefused { .. } => "provider_error",
            CompletionError::MissingCode { .. } => "missing_code",
            CompletionError::WrongIssuer { .. } => "iss_mismatch",
            CompletionError::IdToken { error, .. } => error.reason(),
            CompletionError::Exchange { error, .. } => error.reason(),
            CompletionError::Unavailable => "store_unavailable",
        }
    }

    /// The session whose sign-in this ended, which must be told.
    pub fn session(&self) -> Option<&SessionId> {
        match self {
            CompletionError::ProviderMismatch { session, .. }
            | CompletionError::Denied { session, .. }
            | CompletionError::ProviderRefused { session, .. }
            | CompletionError::MissingCode { session, .. }
            | CompletionError::WrongIssuer { session, .. }
            | CompletionError::IdToken { session, .. }
            | CompletionError::Exchange { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Refused before any exchange: a malformed or replayed redirect, not a provider problem.
    fn is_rejection(&self) -> bool {
        matches!(
            self,
            CompletionError::BadQuery
                | CompletionError::MissingState
                | CompletionError::UnknownState
                | CompletionError::Replayed
                | CompletionError::ProviderMismatch { .. }
                | CompletionError::UnknownProvider
                | CompletionError::MissingCode { .. }
        )
    }
}

/// Completes the authorization that `query` (the redirect's query string) answers for the
/// provider named in the path. `cookie` gives the value of the browser's cookie of that name.
pub async fn complete(
    broker: &Broker,
    tokens: &TokenClient,
    provider_in_path: &str,
    query: &str,
    cookie: impl Fn(&str) -> Option<String>,
) -> Result<Outcome, CompletionError> {
    let result = exchange(broker, tokens, provider_in_path, query, cookie).await;
    if let Err(e) = &result {
        record_failure(broker, provider_in_path, e);
    }
    result
}

async fn exchange(
    broker: &Broker,
    tokens: &TokenClient,
    provider_in_path: &str,
    query: &str,
    cookie: impl Fn(&str) -> Option<String>,
) -> Result<Outcome, CompletionError> {
    let query = StrictQuery::parse(query.as_bytes()).map_err(|_| CompletionError::BadQuery)?;
    let state = query.get("state").ok_or(CompletionError::MissingState)?;
    if !is_opaque_token(state) {
        return Err(CompletionError::UnknownState);
    }
    let state = State::new(state);
    let taken = broker
        .store
        .take_pending(&state)
        .await
        .map_err(|_| CompletionError::Unavailable)?;
    let Some(pending) = taken else {
        let sent = cookie(&receipt::cookie_name(broker, &state));
        return match receipt::reload(broker, provider_in_path, &state, sent.as_deref()).await {
            Ok(Ok(reloaded)) => Ok(Outcome::Reloaded(reloaded)),
            Ok(Err(NotThisBrowsers::Unknown)) => Err(CompletionError::UnknownState),
            Ok(Err(NotThisBrowsers::Replayed)) => Err(CompletionError::Replayed),
            Err(_) => Err(CompletionError::Unavailable),
        };
    };
    // From here the session hears how its sign-in ended (or the page says to try again), so
    // it must not also be told that it expired.
    super::expiry::ended(broker, &pending.session).await;
    if pending.provider != provider_in_path {
        return Err(CompletionError::ProviderMismatch {
            session: pending.session,
            started_with: pending.provider,
        });
    }
    let provider = broker
        .providers
        .get(&pending.provider)
        .ok_or(CompletionError::UnknownProvider)?;
    let names = ProviderNames {
        name: provider.name.clone(),
        label: provider.label.clone(),
    };
    let session = pending.session;
    // RFC 9207: checked before the response is believed at all, errors included (§2.4).
    if let Some(openid) = &provider.openid {
        let wrong = match query.get("iss") {
            Some(iss) => iss != openid.issuer,
            None => openid.requires_iss_in_response(),
        };
        if wrong {
            return Err(CompletionError::WrongIssuer {
                session,
                provider: names,
            });
        }
    }
    if let Some(error) = query.get("error") {
        return Err(if error == "access_denied" {
            CompletionError::Denied {
                session,
                provider: names,
            }
        } else {
            CompletionError::ProviderRefused {
                session,
                provider: names,
            }
        });
    }
    let Some(code) = query.get("code") else {
        return Err(CompletionError::MissingCode {
            session,
            provider: names,
        });
    };
    let exchanged = tokens
        .exchange_code(provider, &AuthorizationCode::new(code), &pending.verifier)
        .await;
    let token_set = match exchanged {
        Ok(token_set) => token_set,
        Err(error) => {
            log::warn!(
                "sign-in {} for {}: token exchange failed: {error}",
                session.short(),
                provider.name
            );
            return Err(CompletionError::Exchange {
                session,
                provider: names,
                error,
            });
        }
    };
    let claims = match &provider.openid {
        None => None,
        Some(openid) => {
            let expected = Expected {
                client_id: &provider.client_id,
                nonce: pending.nonce.as_ref().map(|n| n.expose()),
                now_secs: broker.clock.now_secs(),
            };
            let validated = match &token_set.id_token {
                None => Err(IdTokenError::Missing),
                Some(id_token) => {
                    openid
                        .validate(tokens.http(), id_token.expose(), &expected)
                        .await
                }
            };
            match validated {
                Ok(claims) => Some(claims),
                Err(error) => {
                    log::warn!(
                        "sign-in {} for {}: ID token refused: {error}",
                        session.short(),
                        provider.name
                    );
                    return Err(CompletionError::IdToken {
                        session,
                        provider: names,
                        error,
                    });
                }
            }
        }
    };
    let signin = &broker.settings.signin;
    if !signin.confirm_code {
        let cookie = receipt::keep(broker, &state, &session, &provider.name, None).await;
        return Ok(Outcome::Completed(Box::new(Completed::SignedIn {
            grant: Grant::seal_with_identity(broker, &provider.name, token_set, claims),
            session,
            cookie,
        })));
    }
    let code = random::confirm_code();
    let held = HeldGrant::new(&provider.name, token_set, &code, signin.confirm_attempts)
        .with_claims(claims)
        .with_receipt(&state);
    broker
        .store
        .hold_grant(&session, &held, signin.confirm_ttl_secs)
        .await
        .map_err(|_| CompletionError::Unavailable)?;
    let cookie = receipt::keep(broker, &state, &session, &provider.name, Some(&code)).await;
    Ok(Outcome::Completed(Box::new(Completed::AwaitingCode {
        session,
        provider: provider.name.clone(),
        code,
        expires_in: signin.confirm_ttl_secs,
        cookie,
    })))
}

fn record_failure(broker: &Broker, provider_in_path: &str, error: &CompletionError) {
    if matches!(error, CompletionError::Unavailable) {
        return;
    }
    let reason = error.reason();
    if error.is_rejection() {
        catalog::rejected(reason);
    }
    // The name in the path is request input: only configured names become metric labels.
    let provider = match broker.providers.get(provider_in_path) {
        Some(p) => p.name.as_str(),
        None => "unknown",
    };
    catalog::signin_failed(provider, reason);
}
