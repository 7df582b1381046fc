//! The sign-in bookkeeping behind one interface: one-time tickets, pending authorizations
//! (`state` with its PKCE verifier), grants held for a confirmation code, resumable sessions,
//! and the frames routed to a session that it has not acknowledged yet (kept for a resume,
//! wherever it lands).
//!
//! Two records exist for the person rather than for the protocol: the sign-in a session is
//! waiting on ([`AwaitedSignin`], so that one which ends without a result is reported), and the
//! receipt of a completion page ([`CompletionReceipt`], so that its browser can reload it).
//!
//! Every record expires, and every "take" is single use: of two callers racing for one ticket
//! or one `state`, exactly one gets it. The in-memory store serves one replica; the Redis store
//! (chosen at start-up by `store.redis_url`) lets any replica serve any request, and records
//! which replica holds each connected session so a result is announced to that one only.

pub mod memory;
mod redis_connection;
mod redis_scripts;
pub mod redis_store;
mod redis_target;
mod replica_routes;

use crate::oauth::TokenSet;
use crate::oauth::oidc::IdClaims;
use crate::secrets::{
    AccessToken, ConfirmationCode, IdToken, Nonce, PkceVerifier, RefreshToken, ResumeSecret,
    SessionId, SharedRefresh, State, Ticket,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub use memory::MemoryStore;
pub use redis_store::{RedisStore, RedisTarget, StoreEvent};

/// What `/signin/{ticket}` needs: who asked, and for which provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigninTicket {
    pub session: SessionId,
    pub provider: String,
}

/// An authorization in flight, keyed by its `state`.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub session: SessionId,
    pub provider: String,
    pub verifier: PkceVerifier,
    /// OpenID Connect: the `nonce` the ID token must carry back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<Nonce>,
}

/// Tokens waiting for the person to type the confirmation code into the extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldGrant {
    pub provider: String,
    pub access_token: AccessToken,
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
    pub refresh_token: Option<RefreshToken>,
    /// OpenID Connect: the validated ID token and what the extension is told of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<IdToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<IdClaims>,
    /// The code shown on the completion page, normalised (upper case, no separators).
    pub code: ConfirmationCode,
    pub attempts_left: u32,
    /// The `state` whose completion page showed the code: its receipt notes the confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<State>,
}

impl HeldGrant {
    pub fn new(provider: &str, tokens: TokenSet, code: &ConfirmationCode, attempts: u32) -> Self {
        Self {
            provider: provider.to_owned(),
            access_token: tokens.access_token,
            token_type: tokens.token_type,
            expires_in: tokens.expires_in,
            scope: tokens.scope,
            refresh_token: tokens.refresh_token,
            id_token: tokens.id_token,
            claims: None,
            code: code.clone(),
            attempts_left: attempts,
            receipt: None,
        }
    }

    pub fn with_receipt(mut self, state: &State) -> Self {
        self.receipt = Some(state.clone());
        self
    }

    pub fn with_claims(mut self, claims: Option<IdClaims>) -> Self {
        self.claims = claims;
        self
    }

    pub fn tokens(&self) -> TokenSet {
        TokenSet {
            access_token: self.access_token.clone(),
            token_type: self.token_type.clone(),
            expires_in: self.expires_in,
            scope: self.scope.clone(),
            refresh_token: self.refresh_token.clone(),
            id_token: self.id_token.clone(),
        }
    }
}

/// A sign-in a session began and that has produced nothing yet: which step it waits on and
/// when that step is over unless something happens. One per session, the latest step's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitedSignin {
    pub provider: String,
    pub step: AwaitedStep,
    /// Milliseconds since the epoch, on the broker's clock.
    pub due_millis: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwaitedStep {
    /// The sign-in link was handed out and not opened yet.
    Link,
    /// The link was opened; the person has not come back from the provider yet.
    Provider,
}

/// What a look at a session's awaited sign-in found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwaitedCheck {
    /// Nothing is awaited: the sign-in ended (or none was begun).
    Nothing,
    /// Still awaited, until then (milliseconds since the epoch).
    Until(u64),
    /// It was due: taken, so exactly one caller reports it.
    Due(AwaitedSignin),
}

/// What a completion page showed, kept by `state` so that the browser that got it can reload
/// it (and only that one: the cookie's digest must match).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionReceipt {
    pub session: SessionId,
    pub provider: String,
    /// Keyed digest of the cookie value the first answer set.
    pub cookie_digest: String,
    /// The code the page showed (none when confirmation codes are off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ConfirmationCode>,
    /// When the held tokens stop waiting for the code (milliseconds since the epoch).
    pub code_due_millis: u64,
    /// The tokens reached the session (the code was typed, or no code was needed).
    pub delivered: bool,
}

/// The answer to a typed confirmation code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Granted(Box<HeldGrant>),
    WrongCode { attempts_left: u32 },
    TooManyAttempts,
    NothingHeld,
}

/// A frame routed to a session through the hub, kept until the client acknowledges its `id`.
#[derive(Clone, PartialEq, Eq)]
pub struct UnackedFrame {
    pub id: String,
    /// The serialised frame, `id` included; it may carry tokens.
    pub json: String,
    /// Whether it was written to a connection already (a resume then sends it again).
    pub sent: bool,
}

impl std::fmt::Debug for UnackedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnackedFrame")
            .field("id", &self.id)
            .field("json", &"[redacted]")
            .field("sent", &self.sent)
            .finish()
    }
}

/// What refreshing a connected session's record of where it is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationRefresh {
    /// It named this connection, and lives on.
    Kept,
    /// It had vanished (lost in a failover, expired during an outage) and names this
    /// connection again: results parked meanwhile went unannounced.
    Restored,
    /// It names another connection: the session was resumed there.
    Elsewhere,
}

/// Unacknowledged frames kept per session. A session is sent a handful at most (a `confirm`
/// and a `signedin` per sign-in); more means a client that never acknowledges, or abuse.
pub const MAX_UNACKED_PER_SESSION: usize = 32;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("the shared store is unreachable")]
    Unavailable,
}

/// Constant-time comparison of a typed code with the held one, after normalising what people
/// type (lower case, spaces, hyphens).
pub fn code_matches(held: &ConfirmationCode, typed: &str) -> bool {
    use subtle::ConstantTimeEq;
    let typed = normalise_code(typed);
    let held = held.expose().as_bytes();
    held.len() == typed.len() && bool::from(held.ct_eq(typed.as_bytes()))
}

pub fn normalise_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .take(64)
        .collect()
}

/// The store the app was started with.
#[derive(Clone)]
pub enum SigninStore {
    Memory(Arc<MemoryStore>),
    Redis(Arc<RedisStore>),
}

impl SigninStore {
    pub async fn put_ticket(
        &self,
        ticket: &Ticket,
        value: &SigninTicket,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.put_ticket(ticket, value.clone(), ttl_secs);
                Ok(())
            }
            SigninStore::Redis(r) => r.put_ticket(ticket, value, ttl_secs).await,
        }
    }

    pub async fn take_ticket(&self, ticket: &Ticket) -> Result<Option<SigninTicket>, StoreError> {
        match self {
            SigninStore::Memory(m) => Ok(m.take_ticket(ticket)),
            SigninStore::Redis(r) => r.take_ticket(ticket).await,
        }
    }

    pub async fn put_pending(
        &self,
        state: &State,
        value: PendingAuthorization,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.put_pending(state, value, ttl_secs);
                Ok(())
            }
            SigninStore::Redis(r) => r.put_pending(state, &value, ttl_secs).await,
        }
    }

    pub async fn take_pending(
        &self,
        state: &State,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        match self {
            SigninStore::Memory(m) => Ok(m.take_pending(state)),
            SigninStore::Redis(r) => r.take_pending(state).await,
        }
    }

    /// Holds a grant for a session, replacing any earlier one (the latest sign-in wins).
    pub async fn hold_grant(
        &self,
        session: &SessionId,
        grant: &HeldGrant,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.hold_grant(session, grant.clone(), ttl_secs);
                Ok(())
            }
            SigninStore::Redis(r) => r.hold_grant(session, grant, ttl_secs).await,
        }
    }

    /// Whether a grant waits for this session's confirmation code (without touching it).
    pub async fn holds_grant(&self, session: &SessionId) -> Result<bool, StoreError> {
        match self {
            SigninStore::Memory(m) => Ok(m.holds_grant(session)),
            SigninStore::Redis(r) => r.holds_grant(session).await,
        }
    }

    /// Checks a typed code; a right code releases the grant (once), a wrong one uses an attempt.
    pub async fn confirm(
        &self,
        session: &SessionId,
        typed: &str,
    ) -> Result<ConfirmOutcome, StoreError> {
        match self {
            SigninStore::Memory(m) => Ok(m.confirm(session, typed)),
            SigninStore::Redis(r) => r.confirm(session, typed).await,
        }
    }

    /// Remembers the resume secret of a connected session.
    pub async fn register_resume(
        &self,
        secret: &ResumeSecret,
        session: &SessionId,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.register_resume(secret, session, ttl_secs);
                Ok(())
            }
            SigninStore::Redis(r) => r.register_resume(secret, session, ttl_secs).await,
        }
    }

    /// The session dropped: its secret stays valid for the grace period only.
    pub async fn release_resume(
        &self,
        secret: &ResumeSecret,
        grace_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.release_resume(secret, grace_secs);
                Ok(())
            }
            SigninStore::Redis(r) => r.release_resume(secret, grace_secs).await,
        }
    }

    /// Single use: a resumed session gets a new secret in its `hello`.
    pub async fn take_resume(
        &self,
        secret: &ResumeSecret,
    ) -> Result<Option<SessionId>, StoreError> {
        match self {
            SigninStore::Memory(m) => Ok(m.take_resume(secret)),
            SigninStore::Redis(r) => r.take_resume(secret).await,
        }
    }

    /// Keeps a frame routed to a session (serialised, with its `id`) until it is acknowledged
    /// or `ttl_secs` pass, and tells the replica holding the session, if another, it is there.
    pub async fn keep_unacked(
        &self,
        session: &SessionId,
        id: &str,
        frame: &str,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.keep_unacked(session, id, frame, ttl_secs);
                Ok(())
            }
            SigninStore::Redis(r) => r.keep_unacked(session, id, frame, ttl_secs).await,
        }
    }

    /// The session's unacknowledged frames, oldest first; reading takes none of them.
    pub async fn unacked(&self, session: &SessionId) -> Result<Vec<UnackedFrame>, StoreError> {
        match self {
            SigninStore::Memory(m) => Ok(m.unacked(session)),
            SigninStore::Redis(r) => r.unacked(session).await,
        }
    }

    /// Notes that these frames were written to a connection.
    pub async fn mark_sent(&self, session: &SessionId, ids: &[String]) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.mark_sent(session, ids);
                Ok(())
            }
            SigninStore::Redis(r) => r.mark_sent(session, ids).await,
        }
    }

    /// Forgets an acknowledged frame for good; answers whether it was still kept.
    pub async fn ack(&self, session: &SessionId, id: &str) -> Result<bool, StoreError> {
        match self {
            SigninStore::Memory(m) => Ok(m.ack(session, id)),
            SigninStore::Redis(r) => r.ack(session, id).await,
        }
    }

    /// The session's connection dropped: its unacknowledged frames wait `grace_secs` for a
    /// resume, then count as expired.
    pub async fn release_unacked(
        &self,
        session: &SessionId,
        grace_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.expire_unacked(session, grace_secs);
                Ok(())
            }
            SigninStore::Redis(r) => r.release_unacked(session, grace_secs).await,
        }
    }

    /// The session is connected again: its unacknowledged frames wait `ttl_secs` anew.
    pub async fn claim_unacked(
        &self,
        session: &SessionId,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.expire_unacked(session, ttl_secs);
                Ok(())
            }
            SigninStore::Redis(r) => r.claim_unacked(session, ttl_secs).await,
        }
    }

    /// Claims the one token request for a refresh of the handle with this digest, across
    /// replicas, for `lease_secs`. One replica needs no claim: its single flight suffices.
    pub async fn claim_refresh(&self, digest: &str, lease_secs: u64) -> Result<bool, StoreError> {
        match self {
            SigninStore::Memory(_) => Ok(true),
            SigninStore::Redis(r) => r.claim_refresh(digest, lease_secs).await,
        }
    }

    /// The outcome another replica's refresh of this handle left, if any.
    pub async fn shared_refresh(&self, digest: &str) -> Result<Option<SharedRefresh>, StoreError> {
        match self {
            SigninStore::Memory(_) => Ok(None),
            SigninStore::Redis(r) => r.shared_refresh(digest).await,
        }
    }

    /// Leaves a refresh's outcome for other replicas' callers for `ttl_secs`.
    pub async fn share_refresh(
        &self,
        digest: &str,
        outcome: &SharedRefresh,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(_) => Ok(()),
            SigninStore::Redis(r) => r.share_refresh(digest, outcome, ttl_secs).await,
        }
    }

    /// Keeps a connected session's resume secret alive (Redis only: in one process the
    /// connection's own drop starts the grace period).
    pub async fn touch_resume(
        &self,
        secret: &ResumeSecret,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(_) => Ok(()),
            SigninStore::Redis(r) => r.touch_resume(secret, ttl_secs).await,
        }
    }

    /// Notes what a session's sign-in waits on now, replacing any earlier note (the latest
    /// step, or the latest sign-in, is the one that can end without a result).
    pub async fn await_signin(
        &self,
        session: &SessionId,
        awaited: &AwaitedSignin,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.await_signin(session, awaited.clone(), ttl_secs);
                Ok(())
            }
            SigninStore::Redis(r) => r.await_signin(session, awaited, ttl_secs).await,
        }
    }

    /// Takes the session's awaited sign-in if it was due by `now_millis`, atomically (one
    /// report, whichever connection or replica looks); otherwise says until when it waits.
    pub async fn take_due_signin(
        &self,
        session: &SessionId,
        now_millis: u64,
    ) -> Result<AwaitedCheck, StoreError> {
        match self {
            SigninStore::Memory(m) => Ok(m.take_due_signin(session, now_millis)),
            SigninStore::Redis(r) => r.take_due_signin(session, now_millis).await,
        }
    }

    /// The sign-in produced its result (or failed visibly): nothing is awaited any more.
    pub async fn end_awaited_signin(&self, session: &SessionId) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.end_awaited_signin(session);
                Ok(())
            }
            SigninStore::Redis(r) => r.end_awaited_signin(session).await,
        }
    }

    /// Keeps (or replaces) the receipt of the completion page answered for `state`.
    pub async fn keep_receipt(
        &self,
        state: &State,
        receipt: &CompletionReceipt,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(m) => {
                m.keep_receipt(state, receipt.clone(), ttl_secs);
                Ok(())
            }
            SigninStore::Redis(r) => r.keep_receipt(state, receipt, ttl_secs).await,
        }
    }

    pub async fn receipt(&self, state: &State) -> Result<Option<CompletionReceipt>, StoreError> {
        match self {
            SigninStore::Memory(m) => Ok(m.receipt(state)),
            SigninStore::Redis(r) => r.receipt(state).await,
        }
    }

    /// Whether the session's held tokens still wait for this very code (not a newer sign-in's),
    /// without using an attempt.
    pub async fn holds_code(
        &self,
        session: &SessionId,
        code: &ConfirmationCode,
    ) -> Result<bool, StoreError> {
        match self {
            SigninStore::Memory(m) => Ok(m.holds_code(session, code)),
            SigninStore::Redis(r) => r.holds_code(session, code).await,
        }
    }

    /// Records that the session is connected on this replica (its connection `connection`)
    /// for `ttl_secs`, so results are announced here, and ends its older connection on another
    /// replica. One replica needs no record: its hub knows every connection.
    pub async fn claim_location(
        &self,
        session: &SessionId,
        connection: u64,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(_) => Ok(()),
            SigninStore::Redis(r) => r.claim_location(session, connection, ttl_secs).await,
        }
    }

    /// Keeps a connected session's record alive, or restores it if it vanished; says when the
    /// session was resumed on another connection since (the one asking is then the older).
    pub async fn refresh_location(
        &self,
        session: &SessionId,
        connection: u64,
        ttl_secs: u64,
    ) -> Result<LocationRefresh, StoreError> {
        match self {
            SigninStore::Memory(_) => Ok(LocationRefresh::Kept),
            SigninStore::Redis(r) => r.refresh_location(session, connection, ttl_secs).await,
        }
    }

    /// The connection ended: results for the session are then parked without announcement,
    /// unless a newer connection of it recorded itself.
    pub async fn release_location(
        &self,
        session: &SessionId,
        connection: u64,
    ) -> Result<(), StoreError> {
        match self {
            SigninStore::Memory(_) => Ok(()),
            SigninStore::Redis(r) => r.release_location(session, connection).await,
        }
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, SigninStore::Redis(_))
    }

    /// Whether the store can take traffic (for `/readyz`).
    pub async fn is_ready(&self) -> bool {
        match self {
            SigninStore::Memory(_) => true,
            SigninStore::Redis(r) => r.is_ready(),
        }
    }
}
