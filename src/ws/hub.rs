//! `SessionHub`: the actor that knows which session is connected where. Each connection actor
//! registers with it (`Connect`) under its 20-character session ID when it starts and leaves
//! (`Disconnect`) when it stops; after exchanging a code, `/complete` sends it `TokenReady`,
//! and the hub gives the frame an `id`, keeps it in the store until the client acknowledges
//! that `id` (`ack`), and forwards it to the session's connection actor (`Deliver`). A session
//! not connected here collects it when it connects or resumes, on this replica or any other;
//! so does a session whose socket swallowed the frame without the client reading it (a
//! half-open TCP connection counts a write as done).
//!
//! One hub actor per worker thread, all over one shared [`Registry`]. A single hub on the main
//! thread made every delivery cross threads four times (worker → hub → connection's worker,
//! and both answers back), about a tenth of the broker's CPU at load (BENCHMARKS.md). With a
//! hub on each worker, `/complete` talks to the hub on its own thread, and a delivery crosses
//! threads only where the session's connection lives on another worker: no more often than a
//! direct call would.

use super::protocol::ServerMessage;
use crate::random;
use crate::secrets::SessionId;
use crate::store::{SigninStore, StoreError, StoreEvent};
use crate::telemetry::catalog::{self, DeliveryPath};
use actix::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Which connection actor holds which session, shared by every worker's hub.
pub struct Registry {
    sessions: Mutex<HashMap<SessionId, Registered>>,
    store: SigninStore,
    /// How long a frame routed to a session waits for its acknowledgement while the session is
    /// connected (its connection's drop then starts the shorter grace period).
    unacked_ttl_secs: u64,
}

struct Registered {
    serial: u64,
    connection: Recipient<Deliver>,
}

impl Registry {
    pub fn new(store: SigninStore, unacked_ttl_secs: u64) -> Arc<Self> {
        Arc::new(Self {
            sessions: Mutex::new(HashMap::new()),
            store,
            unacked_ttl_secs,
        })
    }

    /// The map is only ever held for one insert, lookup or removal, none of which can panic
    /// midway, so a poisoned lock still guards a consistent map.
    fn sessions(&self) -> MutexGuard<'_, HashMap<SessionId, Registered>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn connection(&self, session: &SessionId) -> Option<Recipient<Deliver>> {
        self.sessions()
            .get(session)
            .map(|registered| registered.connection.clone())
    }

    /// The session's connection here, if it is the one with this serial.
    fn connection_numbered(&self, session: &SessionId, serial: u64) -> Option<Recipient<Deliver>> {
        self.sessions()
            .get(session)
            .filter(|registered| registered.serial == serial)
            .map(|registered| registered.connection.clone())
    }

    fn connections(&self) -> Vec<Recipient<Deliver>> {
        self.sessions()
            .values()
            .map(|registered| registered.connection.clone())
            .collect()
    }

    /// How many sessions are connected here (for tests and the shutdown log line).
    pub fn count(&self) -> usize {
        self.sessions().len()
    }

    /// This thread's hub over this registry, started on first use. A worker builds its app
    /// more than once (ordinary requests, WebSocket upgrades); all of them share one hub.
    pub fn hub_on_this_thread(self: &Arc<Self>) -> Addr<SessionHub> {
        thread_local! {
            static HUBS: RefCell<Vec<(Weak<Registry>, Addr<SessionHub>)>> =
                const { RefCell::new(Vec::new()) };
        }
        HUBS.with(|hubs| {
            let mut hubs = hubs.borrow_mut();
            hubs.retain(|(registry, hub)| registry.strong_count() > 0 && hub.connected());
            let mine = Arc::downgrade(self);
            if let Some((_, hub)) = hubs.iter().find(|(registry, _)| registry.ptr_eq(&mine)) {
                return hub.clone();
            }
            let hub = SessionHub {
                registry: self.clone(),
            }
            .start();
            hubs.push((mine, hub.clone()));
            hub
        })
    }
}

pub struct SessionHub {
    registry: Arc<Registry>,
}

impl Actor for SessionHub {
    type Context = Context<Self>;
}

/// Sent by a connection actor when it starts, for a new session or a resumed one. Answered
/// once the session is registered, so the connection collects anything parked only after
/// every later `TokenReady` is sure to find it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub session: SessionId,
    /// Tells this connection from an earlier one of the same session.
    pub serial: u64,
    pub connection: Recipient<Deliver>,
}

impl Handler<Connect> for SessionHub {
    type Result = ();

    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
        let previous = self.registry.sessions().insert(
            msg.session,
            Registered {
                serial: msg.serial,
                connection: msg.connection,
            },
        );
        // A resume while the old socket still looked alive (a half-open TCP connection after a
        // laptop sleep): the newer connection wins.
        if let Some(old) = previous {
            old.connection.do_send(Deliver::Replaced);
        }
    }
}

/// Sent by a connection actor when it stops. `serial` keeps a late disconnect of a replaced
/// connection from unregistering its successor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub session: SessionId,
    pub serial: u64,
}

impl Handler<Disconnect> for SessionHub {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        let mut sessions = self.registry.sessions();
        if sessions
            .get(&msg.session)
            .is_some_and(|r| r.serial == msg.serial)
        {
            sessions.remove(&msg.session);
        }
    }
}

/// Sent by `/complete` once the code was exchanged (and with any other result of a sign-in in
/// progress: a `confirm`, `signedin` or `error` frame) for the session that began it. The hub
/// gives the frame its `id`. Done once the frame is kept in the store for the session or
/// written to its connection here; an error means neither, and the page says to try again.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct TokenReady {
    pub session: SessionId,
    pub frame: ServerMessage,
}

impl Handler<TokenReady> for SessionHub {
    type Result = ResponseFuture<Result<(), StoreError>>;

    fn handle(&mut self, msg: TokenReady, _: &mut Context<Self>) -> Self::Result {
        let registry = self.registry.clone();
        Box::pin(async move { route(&registry, &msg.session, &msg.frame).await })
    }
}

/// Kept first, written second: a frame written to a socket that turns out half-open is still
/// in the store for the resume.
async fn route(
    registry: &Registry,
    session: &SessionId,
    frame: &ServerMessage,
) -> Result<(), StoreError> {
    let id = random::frame_id();
    let json = frame.to_json_with_id(&id);
    let kept = registry
        .store
        .keep_unacked(session, &id, &json, registry.unacked_ttl_secs)
        .await;
    if let Some(connection) = registry.connection(session) {
        // `send`, not `do_send`: if the connection stopped before reading its mailbox the
        // answer says so, and the frame waits in the store for the resume.
        let written = connection.send(Deliver::Frame {
            id: id.clone(),
            json,
        });
        if let Ok(true) = written.await {
            catalog::delivered(DeliveryPath::Local);
            if kept.is_ok() {
                let _ = registry.store.mark_sent(session, &[id]).await;
            } else {
                log::warn!("a frame went out without being kept: store unavailable");
            }
            return Ok(());
        }
    }
    if kept.is_err() {
        log::warn!("could not keep a frame for an absent session: store unavailable");
        catalog::delivered(DeliveryPath::Lost);
        return kept;
    }
    catalog::delivered(DeliveryPath::Parked);
    // In case the session connected here while the store was busy.
    if let Some(connection) = registry.connection(session) {
        connection.do_send(Deliver::CollectParked);
    }
    Ok(())
}

/// Sent by the store's event loop: frames were parked for a session (perhaps by another
/// replica), a session was resumed on another replica, or the store came back after an outage
/// and anything may have been parked meanwhile.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StoreNotice(pub StoreEvent);

impl Handler<StoreNotice> for SessionHub {
    type Result = ();

    fn handle(&mut self, msg: StoreNotice, _: &mut Context<Self>) {
        match msg.0 {
            StoreEvent::Parked(session) => {
                if let Some(connection) = self.registry.connection(&session) {
                    connection.do_send(Deliver::CollectParked);
                }
            }
            // Only the connection the other replica found recorded: a newer one of the same
            // session here (resumed back meanwhile) stays.
            StoreEvent::Ended {
                session,
                connection,
            } => {
                if let Some(older) = self.registry.connection_numbered(&session, connection) {
                    older.do_send(Deliver::Replaced);
                }
            }
            StoreEvent::Reconnected => {
                for connection in self.registry.connections() {
                    connection.do_send(Deliver::StoreReturned);
                }
            }
        }
    }
}

/// Sent at shutdown: every connection closes with 1001 so the page reconnects elsewhere.
/// Answers how many were told.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseAll;

impl Handler<CloseAll> for SessionHub {
    type Result = usize;

    fn handle(&mut self, _: CloseAll, _: &mut Context<Self>) -> usize {
        let connections = self.registry.connections();
        for connection in &connections {
            connection.do_send(Deliver::GoingAway);
        }
        connections.len()
    }
}

/// What the hub hands a connection actor.
#[derive(Message)]
#[rtype(result = "bool")]
pub enum Deliver {
    /// A serialised frame with its `id`, to write unless this connection already did;
    /// answers whether it is written.
    Frame { id: String, json: String },
    /// Frames are waiting in the store for this session: write those this connection has
    /// not written yet.
    CollectParked,
    /// The store is back after an outage: anything may have been parked meanwhile, and the
    /// record of where the session is may be lost.
    StoreReturned,
    /// The session was resumed on a newer connection, here or on another replica.
    Replaced,
    /// The service is shutting down.
    GoingAway,
}

/// A frame may carry tokens: its text never reaches a log line.
impl fmt::Debug for Deliver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deliver::Frame { id, .. } => write!(f, "Frame({id}, [redacted])"),
            Deliver::CollectParked => f.write_str("CollectParked"),
            Deliver::StoreReturned => f.write_str("StoreReturned"),
            Deliver::Replaced => f.write_str("Replaced"),
            Deliver::GoingAway => f.write_str("GoingAway"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_for_a_connection_debugs_without_its_tokens() {
        let shown = format!(
            "{:?}",
            Deliver::Frame {
                id: "f1".into(),
                json: r#"{"access_token":"at-123"}"#.into()
            }
        );
        assert_eq!(shown, "Frame(f1, [redacted])");
    }
}
