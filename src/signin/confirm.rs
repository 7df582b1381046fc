//! Step 4: the person types the code shown on the completion page into the extension. The
//! right code releases the held tokens once; each wrong one uses an attempt, and the last
//! ends the sign-in (so a stolen session cannot guess its way in).
//!
//! Only a code typed while a grant is held counts against the address's budget
//! (`limits.confirm_attempts_per_client`): junk `confirm` frames with nothing to guess at cost
//! nothing, so they cannot use up the budget of honest users behind the same address.

use super::Grant;
use crate::broker::Broker;
use crate::limits::{Decision, Limit};
use crate::secrets::{ConfirmationCode, SessionId};
use crate::store::ConfirmOutcome;
use crate::telemetry::catalog;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    #[error("confirmation codes are off")]
    NotUsed,
    #[error("too many codes typed from this address")]
    RateLimited { retry_after_secs: u64 },
    #[error("wrong code")]
    WrongCode { attempts_left: u32 },
    #[error("too many wrong codes")]
    TooManyAttempts,
    #[error("no sign-in is waiting for a code")]
    NothingHeld,
    #[error("the store is unavailable")]
    Unavailable,
}

pub async fn confirm(
    broker: &Broker,
    session: &SessionId,
    client: &str,
    code: &ConfirmationCode,
) -> Result<Grant, ConfirmError> {
    if !broker.settings.signin.confirm_code {
        return Err(ConfirmError::NotUsed);
    }
    let held = broker
        .store
        .holds_grant(session)
        .await
        .map_err(|_| ConfirmError::Unavailable)?;
    if !held {
        return Err(ConfirmError::NothingHeld);
    }
    if let Decision::Limited { retry_after_secs } =
        broker.limits.check(Limit::ConfirmsPerClient, client).await
    {
        return Err(ConfirmError::RateLimited { retry_after_secs });
    }
    let outcome = broker
        .store
        .confirm(session, code.expose())
        .await
        .map_err(|_| ConfirmError::Unavailable)?;
    match outcome {
        ConfirmOutcome::Granted(held) => {
            catalog::signin_completed(&held.provider);
            if let Some(state) = &held.receipt {
                super::receipt::note_delivered(broker, state).await;
            }
            Ok(Grant::seal_with_identity(
                broker,
                &held.provider,
                held.tokens(),
                held.claims.clone(),
            ))
        }
        ConfirmOutcome::WrongCode { attempts_left } => {
            catalog::rejected("bad_code");
            Err(ConfirmError::WrongCode { attempts_left })
        }
        ConfirmOutcome::TooManyAttempts => {
            catalog::signin_failed("any", "too_many_attempts");
            Err(ConfirmError::TooManyAttempts)
        }
        ConfirmOutcome::NothingHeld => Err(ConfirmError::NothingHeld),
    }
}
