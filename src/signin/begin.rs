//! Step 1: a session asks for a sign-in link. A one-time ticket (never the session ID) is
//! stored for `signin.ticket_ttl_secs` and the link carries it.

use crate::broker::Broker;
use crate::limits::{Decision, Limit};
use crate::random;
use crate::secrets::{SessionId, SigninLink};
use crate::store::{AwaitedStep, SigninTicket};
use crate::telemetry::catalog;

/// The link to open in a new window.
#[derive(Debug)]
pub struct LinkIssued {
    pub provider: String,
    pub url: SigninLink,
    pub expires_in: u64,
    /// When to look whether the link expired unused ([`super::expiry::check`]).
    pub check_expiry_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeginError {
    #[error("no such provider")]
    UnknownProvider { offered: Vec<String> },
    #[error("too many sign-in links")]
    RateLimited {
        provider: String,
        retry_after_secs: u64,
    },
    #[error("the store is unavailable")]
    Unavailable { provider: String },
}

/// `requested` is the provider the extension named, or `None` for the first configured one.
pub async fn begin(
    broker: &Broker,
    session: &SessionId,
    client: &str,
    requested: Option<&str>,
) -> Result<LinkIssued, BeginError> {
    let provider = match requested {
        Some(name) => broker.providers.get(name),
        None => broker.providers.default_provider(),
    };
    let Some(provider) = provider else {
        return Err(BeginError::UnknownProvider {
            offered: broker.providers.names(),
        });
    };
    let name = provider.name.clone();
    for (limit, subject) in [
        (Limit::LinksPerSession, session.expose()),
        (Limit::LinksPerClient, client),
    ] {
        if let Decision::Limited { retry_after_secs } = broker.limits.check(limit, subject).await {
            return Err(BeginError::RateLimited {
                provider: name,
                retry_after_secs,
            });
        }
    }
    let ticket = random::ticket();
    let record = SigninTicket {
        session: session.clone(),
        provider: name.clone(),
    };
    let ttl = broker.settings.signin.ticket_ttl_secs;
    if broker
        .store
        .put_ticket(&ticket, &record, ttl)
        .await
        .is_err()
    {
        return Err(BeginError::Unavailable { provider: name });
    }
    catalog::signin_started(&name);
    let check_expiry_at =
        super::expiry::awaiting(broker, session, &name, AwaitedStep::Link, ttl).await;
    Ok(LinkIssued {
        url: SigninLink::new(format!(
            "{}/signin/{}",
            broker.callback_base,
            ticket.expose()
        )),
        provider: name,
        expires_in: ttl,
        check_expiry_at,
    })
}
