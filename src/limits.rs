//! Rate limits: fixed windows counted per session or per client address, in process or, with
//! Redis, across replicas. A refusal says how long to wait; a store outage lets traffic through
//! (the store's own failures already answer `unavailable`), so limits never lock honest users
//! out on their own.

use crate::clock::SharedClock;
use crate::settings::LimitSettings;
use crate::store::RedisStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Sign-in links minted by one session.
    LinksPerSession,
    /// Sign-in links minted from one client address.
    LinksPerClient,
    /// `/signin` and `/complete` requests from one client address.
    RequestsPerClient,
    /// WebSocket upgrades from one client address.
    ConnectionsPerClient,
    /// Confirmation codes typed from one client address.
    ConfirmsPerClient,
    /// `refresh` frames sent by one session.
    RefreshesPerSession,
    /// `refresh` frames sent from one client address.
    RefreshesPerClient,
}

impl Limit {
    pub fn name(self) -> &'static str {
        match self {
            Limit::LinksPerSession => "links_per_session",
            Limit::LinksPerClient => "links_per_client",
            Limit::RequestsPerClient => "requests_per_client",
            Limit::ConnectionsPerClient => "connections_per_client",
            Limit::ConfirmsPerClient => "confirms_per_client",
            Limit::RefreshesPerSession => "refreshes_per_session",
            Limit::RefreshesPerClient => "refreshes_per_client",
        }
    }

    fn allowance(self, settings: &LimitSettings) -> u64 {
        match self {
            Limit::LinksPerSession => settings.signin_links_per_session,
            Limit::LinksPerClient => settings.signin_links_per_client,
            Limit::RequestsPerClient => settings.requests_per_client,
            Limit::ConnectionsPerClient => settings.connections_per_client,
            Limit::ConfirmsPerClient => settings.confirm_attempts_per_client,
            Limit::RefreshesPerSession => settings.refreshes_per_session,
            Limit::RefreshesPerClient => settings.refreshes_per_client,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Refused; the window ends in this many seconds.
    Limited {
        retry_after_secs: u64,
    },
}

pub struct RateLimiter {
    settings: LimitSettings,
    clock: SharedClock,
    counts: Mutex<HashMap<(Limit, String), (u64, u64)>>,
    shared: Option<Arc<RedisStore>>,
}

impl RateLimiter {
    pub fn new(
        settings: LimitSettings,
        clock: SharedClock,
        shared: Option<Arc<RedisStore>>,
    ) -> Self {
        Self {
            settings,
            clock,
            counts: Mutex::default(),
            shared,
        }
    }

    /// Counts one event for `subject` and decides.
    pub async fn check(&self, limit: Limit, subject: &str) -> Decision {
        let allowance = limit.allowance(&self.settings);
        if allowance == 0 {
            return Decision::Allowed;
        }
        let window = self.settings.window_secs.max(1);
        let now = self.clock.now_secs();
        let window_index = now / window;
        let retry_after_secs = (window_index + 1) * window - now;
        let count = match &self.shared {
            Some(redis) => match redis
                .count_in_window(limit.name(), subject, window_index, window)
                .await
            {
                Ok(count) => count,
                Err(_) => return Decision::Allowed,
            },
            None => {
                let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
                let entry = counts
                    .entry((limit, subject.to_owned()))
                    .or_insert((window_index, 0));
                if entry.0 != window_index {
                    *entry = (window_index, 0);
                }
                entry.1 += 1;
                entry.1
            }
        };
        if count > allowance {
            crate::telemetry::catalog::rejected(format!("rate_limited_{}", limit.name()));
            Decision::Limited { retry_after_secs }
        } else {
            Decision::Allowed
        }
    }

    /// Drops counters of past windows; called periodically.
    pub fn sweep(&self) {
        let window_index = self.clock.now_secs() / self.settings.window_secs.max(1);
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (index, _)| *index == window_index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::AdjustableClock;

    fn limiter(clock: Arc<AdjustableClock>) -> RateLimiter {
        let settings = LimitSettings {
            window_secs: 60,
            signin_links_per_session: 2,
            ..LimitSettings::default()
        };
        RateLimiter::new(settings, clock, None)
    }

    #[actix_web::test]
    async fn a_window_allows_its_allowance_then_refuses_until_it_ends() {
        let clock = Arc::new(AdjustableClock::default());
        let limits = limiter(clock.clone());
        assert_eq!(
            limits.check(Limit::LinksPerSession, "s").await,
            Decision::Allowed
        );
        assert_eq!(
            limits.check(Limit::LinksPerSession, "s").await,
            Decision::Allowed
        );
        let refused = limits.check(Limit::LinksPerSession, "s").await;
        let Decision::Limited { retry_after_secs } = refused else {
            panic!("third link refused");
        };
        assert!((1..=60).contains(&retry_after_secs));
        assert_eq!(
            limits.check(Limit::LinksPerSession, "other").await,
            Decision::Allowed
        );
        clock.advance_secs(retry_after_secs);
        assert_eq!(
            limits.check(Limit::LinksPerSession, "s").await,
            Decision::Allowed
        );
    }

    #[actix_web::test]
    async fn zero_means_unlimited() {
        let clock = Arc::new(AdjustableClock::default());
        let settings = LimitSettings {
            requests_per_client: 0,
            ..LimitSettings::default()
        };
        let limits = RateLimiter::new(settings, clock, None);
        for _ in 0..10_000 {
            assert_eq!(
                limits.check(Limit::RequestsPerClient, "ip").await,
                Decision::Allowed
            );
        }
    }
}
