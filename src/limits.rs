//! Rate limits: fixed windows counted per session or per client address, in process or, with
//! Redis, across replicas. A refusal says how long to wait; a store outage lets traffic through
//! (the store's own failures already answer `unavailable`), so limits never lock honest users
//! out on their own.
//!
//! Beside the windows, one limit counts what is open at once: the WebSockets one client address
//! holds (`limits.sessions_per_client`), so one address cannot take every
//! `sessions.max_connections` slot by answering pings.
//!
//! Every per-address limit names its subject through [`client_subject`], so an IPv6 client
//! counts once for its whole /64 (RFC 6177: a site usually gets at least a /64, and picks any
//! address in it at will).

use crate::clock::SharedClock;
use crate::settings::LimitSettings;
use crate::store::RedisStore;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// The subject of every per-address limit: an IPv4 address as is, an IPv6 address as its /64
/// (an IPv4-mapped one as the IPv4 address it maps).
pub fn client_subject(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}

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
    open_sessions: OpenCounts,
}

/// Open WebSockets per client subject, shared with every [`OpenSession`] that must count down.
type OpenCounts = Arc<Mutex<HashMap<String, u64>>>;

/// How long a client refused by `limits.sessions_per_client` is told to wait: a slot frees when
/// one of its own connections closes, which a window does not predict.
const SESSIONS_RETRY_AFTER_SECS: u64 = 10;

/// A refused [`RateLimiter::open_session`]: try again in this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyOpen {
    pub retry_after_secs: u64,
}

/// One WebSocket counted against its client address's `limits.sessions_per_client`; the count
/// drops when this does (with the connection, or when an upgrade never completes).
#[derive(Debug)]
pub struct OpenSession {
    counted: Option<(OpenCounts, String)>,
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        if let Some((counts, subject)) = self.counted.take() {
            let mut counts = counts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = counts.get_mut(&subject) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&subject);
                }
            }
        }
    }
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
            open_sessions: Arc::default(),
        }
    }

    /// Counts one more open WebSocket for `subject`, or refuses it when the address already
    /// holds `limits.sessions_per_client`. Counted per replica, as `sessions.max_connections`
    /// is: what it protects is this replica's slots.
    pub fn open_session(&self, subject: &str) -> Result<OpenSession, TooManyOpen> {
        let allowance = self.settings.sessions_per_client;
        if allowance == 0 {
            return Ok(OpenSession { counted: None });
        }
        let mut counts = self.open_sessions.lock().unwrap_or_else(|p| p.into_inner());
        let open = counts.entry(subject.to_owned()).or_insert(0);
        if *open >= allowance {
            crate::telemetry::catalog::rejected("sessions_per_client");
            return Err(TooManyOpen {
                retry_after_secs: SESSIONS_RETRY_AFTER_SECS,
            });
        }
        *open += 1;
        Ok(OpenSession {
            counted: Some((self.open_sessions.clone(), subject.to_owned())),
        })
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
        let retry_after_secs = window_index
            .saturating_add(1)
            .saturating_mul(window)
            .saturating_sub(now);
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

    #[test]
    fn ipv6_clients_count_per_64_and_ipv4_as_is() {
        let subject = |s: &str| client_subject(s.parse().unwrap());
        assert_eq!(subject("203.0.113.7"), "203.0.113.7");
        assert_eq!(subject("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(subject("2001:db8:1:2::a"), subject("2001:db8:1:2:ffff::1"));
        assert_eq!(subject("2001:db8:1:2::a"), "2001:db8:1:2::/64");
        assert_ne!(subject("2001:db8:1:2::a"), subject("2001:db8:1:3::a"));
    }

    #[test]
    fn open_sessions_are_counted_until_they_close() {
        let settings = LimitSettings {
            sessions_per_client: 2,
            ..LimitSettings::default()
        };
        let limits = RateLimiter::new(settings, Arc::new(AdjustableClock::default()), None);
        let a = limits.open_session("ip").unwrap();
        let _b = limits.open_session("ip").unwrap();
        assert!(limits.open_session("ip").is_err());
        assert!(limits.open_session("other").is_ok());
        drop(a);
        let _c = limits
            .open_session("ip")
            .expect("a closed one frees its place");
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
