//! What every route and connection shares: settings, providers, the store, the sealer and the
//! hub's address. Built once at start-up; cheap to clone (`web::Data`).

use crate::clock::SharedClock;
use crate::limits::RateLimiter;
use crate::oauth::{Providers, TokenSet};
use crate::seal::RefreshSealer;
use crate::settings::Settings;
use crate::store::SigninStore;
use crate::ws::hub::SessionHub;
use crate::ws::protocol::ServerMessage;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub struct Broker {
    pub settings: Arc<Settings>,
    pub providers: Providers,
    pub store: SigninStore,
    pub sealer: RefreshSealer,
    pub hub: SessionHub,
    pub clock: SharedClock,
    pub public_base: String,
    pub callback_base: String,
    /// Normalised `Origin` values a WebSocket may come from.
    pub allowed_origins: Vec<String>,
    pub limits: RateLimiter,
    pub open_sessions: AtomicUsize,
    draining: AtomicBool,
}

/// One counted WebSocket session. The count drops when the slot does, so a session that never
/// started (a failed handshake, an upgrade that never came) gives its place back too.
pub struct SessionSlot(Arc<Broker>);

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.open_sessions.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Broker {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: Arc<Settings>,
        providers: Providers,
        store: SigninStore,
        sealer: RefreshSealer,
        hub: SessionHub,
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
            hub,
            clock,
            allowed_origins,
            limits,
            open_sessions: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
        }
    }

    /// Takes one of `sessions.max_connections`, or `None` when all are taken.
    pub fn reserve_session(self: &Arc<Self>) -> Option<SessionSlot> {
        let max = self.settings.sessions.max_connections;
        if self.open_sessions.fetch_add(1, Ordering::SeqCst) >= max {
            self.open_sessions.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(SessionSlot(self.clone()))
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// The `signedin` frame for fresh tokens, sealing the refresh token into a handle so the
    /// broker itself keeps none.
    pub fn signedin(&self, provider: &str, tokens: TokenSet) -> ServerMessage {
        let refresh = tokens
            .refresh_token
            .as_ref()
            .map(|rt| self.sealer.seal(provider, rt, self.clock.now_secs()).into());
        ServerMessage::Signedin {
            provider: provider.to_owned(),
            access_token: tokens.access_token,
            token_type: tokens.token_type,
            expires_in: tokens.expires_in,
            scope: tokens.scope,
            refresh,
        }
    }
}
