//! A sign-in that ends without a result: its link expires unopened, or the person never comes
//! back from the provider. Nothing would tell the extension, so each step notes in the store
//! what the session's sign-in waits on and until when ([`awaiting`]); the completion ends the
//! wait ([`ended`]); and the session's connection, wherever it is, looks once that time has
//! passed ([`check`]) and reports the sign-in as expired.
//!
//! The note is one per session, the latest step's: opening a link moves it from the link's
//! expiry to the pending authorization's, and a newer `begin` replaces an older sign-in's, so
//! neither a sign-in that went on nor one that was replaced is ever reported. Taking a due
//! note is atomic in the store, so two connections of one session (a resume racing a
//! half-open socket) or two replicas report it once.

use crate::broker::Broker;
use crate::secrets::SessionId;
use crate::store::{AwaitedCheck, AwaitedSignin, AwaitedStep, StoreError};
use crate::telemetry::catalog;

/// How long after its step's expiry a sign-in is reported. A completion that took its `state`
/// in the last moment ends the wait a few milliseconds later (after the take, before the code
/// exchange); this keeps such a race from reporting a sign-in that is about to succeed.
pub const REPORT_AFTER_MILLIS: u64 = 2_000;

/// A sign-in that ended without a result, for the session that began it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigninExpired {
    pub provider: String,
    /// The name people read (`providers.<name>.label`).
    pub label: String,
    pub step: AwaitedStep,
}

/// What a connection learns when it looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Nothing is awaited any more: stop looking.
    Over,
    /// Look again at this time (milliseconds since the epoch, on the broker's clock).
    LookAgainAt(u64),
    /// Tell the session.
    Expired(SigninExpired),
}

/// Notes that the session's sign-in now waits `ttl_secs` on `step`; answers when to look
/// (milliseconds since the epoch). A note the store cannot take costs only the report, never
/// the sign-in, so a failure here is logged and otherwise ignored.
pub async fn awaiting(
    broker: &Broker,
    session: &SessionId,
    provider: &str,
    step: AwaitedStep,
    ttl_secs: u64,
) -> u64 {
    let now = broker.clock.now_millis();
    let due_millis =
        crate::clock::deadline_millis(now, ttl_secs).saturating_add(REPORT_AFTER_MILLIS);
    let awaited = AwaitedSignin {
        provider: provider.to_owned(),
        step,
        due_millis,
    };
    // Kept past its due time for as long as the session can be away and come back, so a
    // connection that resumes later still finds it and reports it.
    let sessions = &broker.settings.sessions;
    let keep_secs = ttl_secs
        .saturating_add(REPORT_AFTER_MILLIS / 1000 + 1)
        .saturating_add(sessions.resume_grace_secs)
        .saturating_add(sessions.idle_timeout_secs);
    if broker
        .store
        .await_signin(session, &awaited, keep_secs)
        .await
        .is_err()
    {
        log::warn!(
            "sign-in {}: could not note its expiry (store unavailable); it will not be reported",
            session.short()
        );
    }
    due_millis
}

/// The sign-in reached its completion: whatever the outcome, the session hears it from there.
pub async fn ended(broker: &Broker, session: &SessionId) {
    if broker.store.end_awaited_signin(session).await.is_err() {
        log::debug!(
            "sign-in {}: could not clear its expiry note (store unavailable)",
            session.short()
        );
    }
}

/// Looks at the session's awaited sign-in now.
pub async fn check(broker: &Broker, session: &SessionId) -> Result<Check, StoreError> {
    let now = broker.clock.now_millis();
    Ok(match broker.store.take_due_signin(session, now).await? {
        AwaitedCheck::Nothing => Check::Over,
        AwaitedCheck::Until(due) => Check::LookAgainAt(due),
        AwaitedCheck::Due(awaited) => {
            // A provider removed from the configuration since keeps its name for the frame.
            let label = broker
                .providers
                .get(&awaited.provider)
                .map_or_else(|| awaited.provider.clone(), |p| p.label.clone());
            let reason = match awaited.step {
                AwaitedStep::Link => "link_expired",
                AwaitedStep::Provider => "authorization_expired",
            };
            let metric_provider = match broker.providers.get(&awaited.provider) {
                Some(p) => p.name.as_str(),
                None => "unknown",
            };
            catalog::signin_failed(metric_provider, reason);
            log::info!(
                "sign-in {} for {} expired unfinished ({reason})",
                session.short(),
                awaited.provider
            );
            Check::Expired(SigninExpired {
                provider: awaited.provider,
                label,
                step: awaited.step,
            })
        }
    })
}
