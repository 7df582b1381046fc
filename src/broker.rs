//! What every sign-in step, route and connection shares: settings, providers, the store, the
//! sealer, the clock and the limits. Built once at start-up; cheap to clone (`web::Data`).
//!
//! It knows nothing of sockets or HTTP: the `SessionHub` (the web layer) sits beside it, not
//! inside it, so imports run one way, from the web layer down to here.

use crate::clock::SharedClock;
use crate::limits::{OpenSession, RateLimiter};
use crate::oauth::Providers;
use crate::sealing::RefreshSealer;
use crate::secrets::SharedRefresh;
use crate::settings::Settings;
use crate::single_flight::Flights;
use crate::store::SigninStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub struct Broker {
    pub settings: Arc<Settings>,
    pub providers: Providers,
    pub store: SigninStore,
    pub sealer: RefreshSealer,
    pub clock: SharedClock,
    pub public_base: String,
    pub callback_base: String,
    /// Normalised `Origin` values a WebSocket may come from.
    pub allowed_origins: Vec<String>,
    pub limits: RateLimiter,
    /// Refreshes in flight (and just finished) on this replica, by handle.
    pub refreshes: Flights<SharedRefresh>,
    pub open_sessions: AtomicUsize,
    draining: AtomicBool,
}

/// How long a finished refresh answers later refreshes of the same handle: long enough for a
/// second tab or copy of an extension that read the same stored handle, short enough that an
/// access token is not handed out long after it was minted.
pub const REFRESH_SHARED_FOR_SECS: u64 = 15;

/// One counted WebSocket session. The count drops when the slot does, so a session that never
/// started (a failed handshake, an upgrade that never came) gives its place back too; so does
/// its client address's count, which the slot carries.
pub struct SessionSlot {
    broker: Arc<Broker>,
    _per_client: OpenSession,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.broker.open_sessions.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Broker {
    pub fn new(
        settings: Arc<Settings>,
        providers: Providers,
        store: SigninStore,
        sealer: RefreshSealer,
        clock: SharedClock,
        allowed_origins: Vec<String>,
        limits: RateLimiter,
    ) -> Self {
        Self {
            public_base: settings.server.public_base(),
            callback_base: settings.server.callback_base(),
            settings,
            providers,
            store,
            sealer,
            clock,
            allowed_origins,
            limits,
            refreshes: Flights::new(REFRESH_SHARED_FOR_SECS * 1000),
            open_sessions: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
        }
    }

    /// Takes one of `sessions.max_connections` for a connection already counted against its
    /// address, or `None` when all are taken.
    pub fn reserve_session(self: &Arc<Self>, per_client: OpenSession) -> Option<SessionSlot> {
        let max = self.settings.sessions.max_connections;
        if self.open_sessions.fetch_add(1, Ordering::SeqCst) >= max {
            self.open_sessions.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(SessionSlot {
            broker: self.clone(),
            _per_client: per_client,
        })
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}
