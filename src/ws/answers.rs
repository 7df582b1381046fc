//! What each sign-in outcome looks like as a frame: every step's result and every variant of
//! its error enum mapped here once to an `error` code and the message people read, so the
//! same text is never written twice.

use super::protocol::{ErrorCode, ServerMessage};
use crate::signin::Grant;
use crate::signin::begin::{BeginError, LinkIssued};
use crate::signin::complete::{Completed, CompletionError};
use crate::signin::confirm::ConfirmError;
use crate::signin::expiry::SigninExpired;
use crate::signin::refresh::RefreshError;
use crate::store::AwaitedStep;

impl From<Grant> for ServerMessage {
    fn from(grant: Grant) -> Self {
        ServerMessage::Signedin {
            provider: grant.provider,
            access_token: grant.access_token,
            token_type: grant.token_type,
            expires_in: grant.expires_in,
            scope: grant.scope,
            refresh: grant.refresh,
            id_token: grant.id_token,
            claims: grant.claims,
        }
    }
}

impl From<LinkIssued> for ServerMessage {
    fn from(link: LinkIssued) -> Self {
        ServerMessage::Signin {
            provider: link.provider,
            url: link.url,
            expires_in: link.expires_in,
        }
    }
}

/// What the session that began the sign-in is told once the code was exchanged.
pub fn completed(completed: Completed) -> ServerMessage {
    match completed {
        Completed::SignedIn { grant, .. } => grant.into(),
        Completed::AwaitingCode {
            provider,
            expires_in,
            ..
        } => ServerMessage::Confirm {
            provider,
            expires_in,
        },
    }
}

impl From<&BeginError> for ServerMessage {
    fn from(error: &BeginError) -> Self {
        match error {
            BeginError::UnknownProvider { offered } => ServerMessage::error(
                ErrorCode::UnknownProvider,
                format!(
                    "This broker does not offer that provider; it offers: {}.",
                    offered.join(", ")
                ),
            ),
            BeginError::RateLimited {
                provider,
                retry_after_secs,
            } => ServerMessage::provider_error(
                ErrorCode::RateLimited,
                provider,
                format!(
                    "Too many sign-in attempts. Wait {retry_after_secs} seconds, then press Sign in again."
                ),
            ),
            BeginError::Unavailable { provider } => ServerMessage::provider_error(
                ErrorCode::Unavailable,
                provider,
                "The sign-in service is briefly unavailable. Try again in a moment.",
            ),
        }
    }
}

/// The frame for the session whose sign-in a failed completion ended, if it names one.
pub fn completion_failed(error: &CompletionError) -> Option<ServerMessage> {
    let frame = match error {
        CompletionError::ProviderMismatch { started_with, .. } => ServerMessage::provider_error(
            ErrorCode::ProviderError,
            started_with,
            "The sign-in came back from the wrong place. Start again.",
        ),
        CompletionError::Denied { provider, .. } => ServerMessage::provider_error(
            ErrorCode::AccessDenied,
            &provider.name,
            format!(
                "You chose not to allow access at {}. Press Sign in to try again.",
                provider.label
            ),
        ),
        CompletionError::ProviderRefused { provider, .. } => ServerMessage::provider_error(
            ErrorCode::ProviderError,
            &provider.name,
            format!(
                "{} could not complete the sign-in. Try again in a moment.",
                provider.label
            ),
        ),
        CompletionError::MissingCode { provider, .. } => ServerMessage::provider_error(
            ErrorCode::ProviderError,
            &provider.name,
            "The provider sent no authorization code. Start again.",
        ),
        CompletionError::WrongIssuer { provider, .. } => ServerMessage::provider_error(
            ErrorCode::ProviderError,
            &provider.name,
            "The sign-in came back from another identity provider than expected. Start again.",
        ),
        CompletionError::IdToken { provider, .. } => ServerMessage::provider_error(
            ErrorCode::ProviderError,
            &provider.name,
            format!(
                "{}'s answer could not be verified, so it was not used. Try again in a moment.",
                provider.label
            ),
        ),
        CompletionError::Exchange { provider, .. } => ServerMessage::provider_error(
            ErrorCode::ProviderError,
            &provider.name,
            format!(
                "{} did not complete the sign-in. Try again in a moment.",
                provider.label
            ),
        ),
        CompletionError::BadQuery
        | CompletionError::MissingState
        | CompletionError::UnknownState
        | CompletionError::Replayed
        | CompletionError::UnknownProvider
        | CompletionError::Unavailable => return None,
    };
    Some(frame)
}

/// A sign-in of the session ran out before anything came of it.
impl From<&SigninExpired> for ServerMessage {
    fn from(expired: &SigninExpired) -> Self {
        let message = match expired.step {
            AwaitedStep::Link => {
                "The sign-in link was not opened in time, so it no longer works. Press Sign in to get a new one.".to_owned()
            }
            AwaitedStep::Provider => format!(
                "The sign-in at {} was not finished in time. Press Sign in to start again.",
                expired.label
            ),
        };
        ServerMessage::provider_error(ErrorCode::Expired, &expired.provider, message)
    }
}

impl From<&ConfirmError> for ServerMessage {
    fn from(error: &ConfirmError) -> Self {
        match error {
            ConfirmError::NotUsed => ServerMessage::error(
                ErrorCode::InvalidMessage,
                "This broker does not use confirmation codes; tokens arrive on their own.",
            ),
            ConfirmError::RateLimited { retry_after_secs } => ServerMessage::error(
                ErrorCode::RateLimited,
                format!(
                    "Too many codes typed from this network. Wait {retry_after_secs} seconds and type the code again."
                ),
            ),
            ConfirmError::WrongCode { attempts_left } => ServerMessage::error(
                ErrorCode::BadCode,
                format!(
                    "That code does not match the one in the sign-in window. {attempts_left} {} left.",
                    if *attempts_left == 1 { "try" } else { "tries" }
                ),
            ),
            ConfirmError::TooManyAttempts => ServerMessage::error(
                ErrorCode::TooManyAttempts,
                "Too many wrong codes. For your safety this sign-in was cancelled; sign in again.",
            ),
            ConfirmError::NothingHeld => ServerMessage::error(
                ErrorCode::Expired,
                "No sign-in is waiting for a code: it finished, expired or was never started. Sign in again.",
            ),
            ConfirmError::Unavailable => ServerMessage::error(
                ErrorCode::Unavailable,
                "The sign-in service is briefly unavailable. Type the code again in a moment.",
            ),
        }
    }
}

impl From<&RefreshError> for ServerMessage {
    fn from(error: &RefreshError) -> Self {
        match error {
            RefreshError::Unreadable
            | RefreshError::UnknownProvider { .. }
            | RefreshError::ReauthRequired { .. }
            | RefreshError::TooOld { .. } => ServerMessage::Error {
                code: ErrorCode::ReauthRequired,
                message: "Your sign-in can no longer be renewed. Sign in again.".into(),
                provider: error.provider().map(str::to_owned),
            },
            RefreshError::RateLimited { retry_after_secs } => ServerMessage::error(
                ErrorCode::RateLimited,
                format!(
                    "Too many refreshes. Wait {retry_after_secs} seconds, then refresh again; the access token you have may still be valid."
                ),
            ),
            RefreshError::InFlight => ServerMessage::error(
                ErrorCode::RateLimited,
                "A refresh of this session is still in flight: wait for its answer, then refresh again if you still need to.",
            ),
            RefreshError::Provider {
                provider, label, ..
            }
            | RefreshError::IdToken {
                provider, label, ..
            } => ServerMessage::provider_error(
                ErrorCode::ProviderError,
                provider,
                format!("{label} did not renew the sign-in just now. Try again shortly."),
            ),
        }
    }
}

/// A resume secret that was unknown or expired: the session is new.
pub fn resume_failed() -> ServerMessage {
    ServerMessage::error(
        ErrorCode::Expired,
        "Your earlier connection could not be resumed (it was gone too long); this is a new session. If you were signing in, start again.",
    )
}

/// Frames that were not JSON text, or not one the protocol knows.
pub fn binary_refused() -> ServerMessage {
    ServerMessage::error(
        ErrorCode::InvalidMessage,
        "Send JSON text frames, not binary ones.",
    )
}
