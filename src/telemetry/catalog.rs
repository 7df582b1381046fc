//! Every metric the broker exports, named once: the names, their labels and their help text
//! live here, and the rest of the code records through these functions. The Grafana dashboard
//! and the alert rules name exactly these.

use metrics::{SharedString, counter, gauge, histogram};

pub const SESSIONS_OPEN: &str = "oauth_broker_sessions_open";
pub const SIGNINS_STARTED: &str = "oauth_broker_signins_started_total";
pub const SIGNINS_COMPLETED: &str = "oauth_broker_signins_completed_total";
pub const SIGNINS_FAILED: &str = "oauth_broker_signins_failed_total";
pub const TOKEN_DELIVERIES: &str = "oauth_broker_token_deliveries_total";
pub const TOKEN_ENDPOINT_SECONDS: &str = "oauth_broker_token_endpoint_seconds";
pub const REFRESHES: &str = "oauth_broker_refreshes_total";
pub const REJECTED: &str = "oauth_broker_rejected_total";
pub const SESSIONS_MAX: &str = "oauth_broker_sessions_max";
pub const READY: &str = "oauth_broker_ready";
pub const UNACKED_FRAMES: &str = "oauth_broker_unacked_frames_total";
pub const REFRESHES_SHARED: &str = "oauth_broker_refreshes_shared_total";
pub const REFRESHES_REFUSED: &str = "oauth_broker_refreshes_refused_total";
pub const DELIVERY_ANNOUNCEMENTS_RECEIVED: &str =
    "oauth_broker_delivery_announcements_received_total";

/// What became of a frame that carried an `id` (acknowledged delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnackedEvent {
    /// Written again on a resumed connection, having been written to an earlier one.
    Resent,
    /// The client acknowledged it: it is gone for good.
    Acknowledged,
    /// Nobody acknowledged it within the session's grace period.
    Expired,
    /// Pushed out by newer frames beyond the per-session bound.
    Dropped,
}

impl UnackedEvent {
    fn label(self) -> &'static str {
        match self {
            UnackedEvent::Resent => "resent",
            UnackedEvent::Acknowledged => "acknowledged",
            UnackedEvent::Expired => "expired",
            UnackedEvent::Dropped => "dropped",
        }
    }
}

/// How a frame routed through the hub reached (or failed to reach) its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryPath {
    /// Written to the session's connection on this replica.
    Local,
    /// Kept in the store for a session not connected here.
    Parked,
    /// Taken from the store by the session's connection.
    Collected,
    /// Neither written nor parked (the store was unreachable).
    Lost,
}

impl DeliveryPath {
    fn label(self) -> &'static str {
        match self {
            DeliveryPath::Local => "local",
            DeliveryPath::Parked => "parked",
            DeliveryPath::Collected => "collected",
            DeliveryPath::Lost => "lost",
        }
    }
}

pub fn session_opened() {
    gauge!(SESSIONS_OPEN).increment(1.0);
}

pub fn session_closed() {
    gauge!(SESSIONS_OPEN).decrement(1.0);
}

/// Sessions that opened before the recorder was installed were never counted up.
pub fn set_sessions_open(open: usize) {
    gauge!(SESSIONS_OPEN).set(open as f64);
}

/// `sessions.max_connections`, so an alert can compare `sessions_open` with it.
pub fn set_sessions_max(max: usize) {
    gauge!(SESSIONS_MAX).set(max as f64);
}

/// What `/readyz` would answer now: 1 ready, 0 not (draining, or the store not answering).
pub fn set_ready(ready: bool) {
    gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}

pub fn signin_started(provider: &str) {
    counter!(SIGNINS_STARTED, "provider" => provider.to_owned()).increment(1);
}

pub fn signin_completed(provider: &str) {
    counter!(SIGNINS_COMPLETED, "provider" => provider.to_owned()).increment(1);
}

/// `provider` must be a configured name (or "any"/"unknown"), never raw request input: label
/// values are a cardinality budget.
pub fn signin_failed(provider: &str, reason: &'static str) {
    counter!(SIGNINS_FAILED, "provider" => provider.to_owned(), "reason" => reason).increment(1);
}

pub fn delivered(path: DeliveryPath) {
    counter!(TOKEN_DELIVERIES, "path" => path.label()).increment(1);
}

pub fn token_endpoint_latency(provider: &str, seconds: f64) {
    histogram!(TOKEN_ENDPOINT_SECONDS, "provider" => provider.to_owned()).record(seconds);
}

pub fn refreshed(provider: &str, outcome: &'static str) {
    counter!(REFRESHES, "provider" => provider.to_owned(), "outcome" => outcome).increment(1);
}

pub fn unacked_frames(event: UnackedEvent, count: u64) {
    if count > 0 {
        counter!(UNACKED_FRAMES, "event" => event.label()).increment(count);
    }
}

/// A refresh answered with the result of another caller's token request for the same handle.
pub fn refresh_shared(provider: &str) {
    counter!(REFRESHES_SHARED, "provider" => provider.to_owned()).increment(1);
}

/// A `refresh` frame refused by `limit` (a limit's name, or `in_flight`).
pub fn refresh_refused(limit: &'static str) {
    counter!(REFRESHES_REFUSED, "limit" => limit).increment(1);
}

/// Another replica announced a frame parked for a session connected here. No label: which
/// replica this is comes from the scrape target, and a random identity per run as a label
/// would leave a new series behind at every restart.
pub fn delivery_announcement_received() {
    counter!(DELIVERY_ANNOUNCEMENTS_RECEIVED).increment(1);
}

pub fn rejected(reason: impl Into<SharedString>) {
    counter!(REJECTED, "reason" => reason.into()).increment(1);
}

pub(super) fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(SESSIONS_OPEN, "WebSocket sessions open on this replica");
    describe_counter!(SIGNINS_STARTED, "Sign-in links handed out, by provider");
    describe_counter!(
        SIGNINS_COMPLETED,
        "Sign-ins whose tokens reached the extension, by provider"
    );
    describe_counter!(
        SIGNINS_FAILED,
        "Sign-ins that ended without tokens, by provider and reason"
    );
    describe_counter!(
        TOKEN_DELIVERIES,
        "Frames routed to sessions, by path (local, parked, collected, lost)"
    );
    describe_histogram!(
        TOKEN_ENDPOINT_SECONDS,
        Unit::Seconds,
        "Latency of provider token endpoint requests, by provider"
    );
    describe_counter!(REFRESHES, "Refresh requests, by provider and outcome");
    describe_counter!(REJECTED, "Requests and frames refused, by reason");
    describe_gauge!(
        SESSIONS_MAX,
        "sessions.max_connections: WebSocket sessions this replica accepts"
    );
    describe_gauge!(
        READY,
        "1 while this replica can take traffic (/readyz 200), 0 when it cannot"
    );
    describe_counter!(
        UNACKED_FRAMES,
        "Frames with an id: resent after a resume, acknowledged, expired unacknowledged, dropped over the bound"
    );
    describe_counter!(
        REFRESHES_SHARED,
        "Refreshes answered with another caller's token request for the same handle, by provider"
    );
    describe_counter!(
        DELIVERY_ANNOUNCEMENTS_RECEIVED,
        "Frames parked by another replica for a session connected here, announced on this replica's own channel"
    );
    describe_counter!(
        REFRESHES_REFUSED,
        "Refresh frames refused by a limit (per session, per client, one in flight)"
    );
}
