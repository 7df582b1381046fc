//! `SessionHub`: which session is connected where. Connections register on start and
//! unregister on stop; `/complete` calls [`SessionHub::token_ready`], which hands the frame to
//! the session's connection or, when it is not connected, parks it in the store until the
//! session resumes.
//!
//! A map shared by the workers rather than an actor of its own: as an actor on the main thread,
//! every delivery crossed threads four times (worker → hub → connection's worker and both
//! answers back), which cost about a tenth of the broker's CPU at load (BENCHMARKS.md). Now the
//! worker that runs `/complete` sends straight to the connection.

use super::connection::Deliver;
use super::protocol::ServerMessage;
use crate::store::{SigninStore, StoreError, StoreEvent};
use actix::Recipient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Clone)]
pub struct SessionHub {
    inner: Arc<Inner>,
}

struct Inner {
    sessions: Mutex<HashMap<String, Registered>>,
    store: SigninStore,
    /// How long a frame for an absent session waits for it to resume.
    park_ttl_secs: u64,
}

struct Registered {
    serial: u64,
    connection: Recipient<Deliver>,
}

impl SessionHub {
    pub fn new(store: SigninStore, park_ttl_secs: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                sessions: Mutex::new(HashMap::new()),
                store,
                park_ttl_secs,
            }),
        }
    }

    /// The map is only ever held for one insert, lookup or removal, none of which can panic
    /// midway, so a poisoned lock still guards a consistent map.
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Registered>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn connection(&self, session: &str) -> Option<Recipient<Deliver>> {
        self.sessions()
            .get(session)
            .map(|registered| registered.connection.clone())
    }

    /// A connection took a session (new or resumed).
    pub fn connect(&self, session: String, serial: u64, connection: Recipient<Deliver>) {
        let previous = self
            .sessions()
            .insert(session, Registered { serial, connection });
        // A resume while the old socket still looked alive (a half-open TCP connection after a
        // laptop sleep): the newer connection wins.
        if let Some(old) = previous {
            old.connection.do_send(Deliver::Replaced);
        }
    }

    /// A connection ended. `serial` keeps a late disconnect of a replaced connection from
    /// unregistering its successor.
    pub fn disconnect(&self, session: &str, serial: u64) {
        let mut sessions = self.sessions();
        if sessions.get(session).is_some_and(|r| r.serial == serial) {
            sessions.remove(session);
        }
    }

    /// A result for a session (a `confirm`, `signedin` or `error` frame). Done once the frame
    /// is written to the session's socket here or parked in the store for it (to be collected
    /// by whichever replica holds the session); an error means neither.
    pub async fn token_ready(&self, session: &str, frame: ServerMessage) -> Result<(), StoreError> {
        let json = frame.to_json();
        if let Some(connection) = self.connection(session) {
            // `send`, not `do_send`: if the connection stopped before reading its mailbox the
            // frame comes back here and is parked instead of lost.
            if let Ok(true) = connection.send(Deliver::Frame(json.clone())).await {
                metrics::counter!("oauth_broker_token_deliveries_total", "path" => "local")
                    .increment(1);
                return Ok(());
            }
        }
        self.park(session, &json).await
    }

    /// Parks a frame, then, in case the session connected here while the store was busy,
    /// nudges its connection to collect what is parked.
    async fn park(&self, session: &str, frame: &str) -> Result<(), StoreError> {
        let parked = self
            .inner
            .store
            .park(session, frame, self.inner.park_ttl_secs)
            .await;
        if parked.is_err() {
            log::warn!("could not park a frame for an absent session: store unavailable");
            metrics::counter!("oauth_broker_token_deliveries_total", "path" => "lost").increment(1);
            return parked;
        }
        metrics::counter!("oauth_broker_token_deliveries_total", "path" => "parked").increment(1);
        self.collect_parked(session);
        Ok(())
    }

    fn collect_parked(&self, session: &str) {
        if let Some(connection) = self.connection(session) {
            connection.do_send(Deliver::CollectParked);
        }
    }

    /// The store says frames were parked for a session (perhaps by another replica), or that it
    /// came back after an outage and anything may have been parked meanwhile.
    pub fn parked(&self, event: StoreEvent) {
        match event {
            StoreEvent::Parked(session) => self.collect_parked(&session),
            StoreEvent::Reconnected => {
                self.tell_all(|| Deliver::CollectParked);
            }
        }
    }

    /// Shutdown: every connection closes with 1001 so the page reconnects elsewhere. Returns
    /// how many were told.
    pub fn close_all(&self) -> usize {
        self.tell_all(|| Deliver::GoingAway)
    }

    /// How many sessions are connected here (for tests and the shutdown log line).
    pub fn count(&self) -> usize {
        self.sessions().len()
    }

    fn tell_all(&self, message: impl Fn() -> Deliver) -> usize {
        let connections: Vec<_> = self
            .sessions()
            .values()
            .map(|registered| registered.connection.clone())
            .collect();
        for connection in &connections {
            connection.do_send(message());
        }
        connections.len()
    }
}
