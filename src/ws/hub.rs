//! `SessionHub`: the one actor that knows which session is connected where. Connections
//! register on start and unregister on stop; `/complete` sends `TokenReady`, and the hub hands
//! the frame to the session's connection or, when it is not connected, parks it in the store
//! until the session resumes.

use super::connection::Deliver;
use super::protocol::ServerMessage;
use crate::store::{SigninStore, StoreError};
use actix::prelude::*;
use std::collections::HashMap;
use std::pin::Pin;

pub struct SessionHub {
    sessions: HashMap<String, Registered>,
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
            sessions: HashMap::new(),
            store,
            park_ttl_secs,
        }
    }

    /// Parks a frame, then, in case the session connected here while the store was busy,
    /// nudges its connection to collect what is parked.
    fn park(
        &self,
        session: String,
        frame: String,
    ) -> impl ActorFuture<Self, Output = Result<(), StoreError>> + 'static {
        let store = self.store.clone();
        let ttl = self.park_ttl_secs;
        let key = session.clone();
        async move { store.park(&key, &frame, ttl).await }
            .into_actor(self)
            .map(move |result, hub: &mut SessionHub, _| {
                if result.is_err() {
                    log::warn!("could not park a frame for an absent session: store unavailable");
                    metrics::counter!("oauth_broker_token_deliveries_total", "path" => "lost")
                        .increment(1);
                    return result;
                }
                metrics::counter!("oauth_broker_token_deliveries_total", "path" => "parked")
                    .increment(1);
                if let Some(registered) = hub.sessions.get(&session) {
                    registered.connection.do_send(Deliver::CollectParked);
                }
                Ok(())
            })
    }
}

impl Actor for SessionHub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Tokens must never wait behind a full mailbox limit; connections are bounded elsewhere.
        ctx.set_mailbox_capacity(usize::MAX);
    }
}

/// A connection took a session (new or resumed). Sent by the connection actor when it starts.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub session: String,
    pub serial: u64,
    pub connection: Recipient<Deliver>,
}

impl Handler<Connect> for SessionHub {
    type Result = ();

    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
        let previous = self.sessions.insert(
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

/// A connection ended. `serial` keeps a late disconnect of a replaced connection from
/// unregistering its successor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub session: String,
    pub serial: u64,
}

impl Handler<Disconnect> for SessionHub {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        if self
            .sessions
            .get(&msg.session)
            .is_some_and(|r| r.serial == msg.serial)
        {
            self.sessions.remove(&msg.session);
        }
    }
}

type ParkFuture = Pin<Box<dyn ActorFuture<SessionHub, Output = Result<(), StoreError>>>>;

/// A result for a session: from `/complete` (a `confirm`, `signedin` or `error` frame).
/// Answers once the frame is written to the session's socket here or parked in the store for
/// it (to be collected by whichever replica holds the session); an error means neither.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct TokenReady {
    pub session: String,
    pub frame: ServerMessage,
}

impl Handler<TokenReady> for SessionHub {
    type Result = ResponseActFuture<Self, Result<(), StoreError>>;

    fn handle(&mut self, msg: TokenReady, _: &mut Context<Self>) -> Self::Result {
        let TokenReady { session, frame } = msg;
        let json = frame.to_json();
        let Some(registered) = self.sessions.get(&session) else {
            return Box::pin(self.park(session, json));
        };
        // `send`, not `do_send`: if the connection stopped before reading its mailbox the
        // frame comes back here and is parked instead of lost.
        let delivery = registered.connection.send(Deliver::Frame(json.clone()));
        Box::pin(
            delivery
                .into_actor(self)
                .then(move |outcome, hub, _| -> ParkFuture {
                    match outcome {
                        Ok(true) => {
                            metrics::counter!("oauth_broker_token_deliveries_total", "path" => "local")
                                .increment(1);
                            Box::pin(actix::fut::ready(Ok(())))
                        }
                        _ => Box::pin(hub.park(session, json)),
                    }
                }),
        )
    }
}

/// The store says frames were parked for a session (perhaps by another replica), or that it
/// came back after an outage and anything may have been parked meanwhile.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Parked(pub crate::store::StoreEvent);

impl Handler<Parked> for SessionHub {
    type Result = ();

    fn handle(&mut self, msg: Parked, _: &mut Context<Self>) {
        match msg.0 {
            crate::store::StoreEvent::Parked(session) => {
                if let Some(registered) = self.sessions.get(&session) {
                    registered.connection.do_send(Deliver::CollectParked);
                }
            }
            crate::store::StoreEvent::Reconnected => {
                for registered in self.sessions.values() {
                    registered.connection.do_send(Deliver::CollectParked);
                }
            }
        }
    }
}

/// Shutdown: every connection closes with 1001 so the page reconnects elsewhere.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseAll;

impl Handler<CloseAll> for SessionHub {
    type Result = usize;

    fn handle(&mut self, _: CloseAll, _: &mut Context<Self>) -> usize {
        for registered in self.sessions.values() {
            registered.connection.do_send(Deliver::GoingAway);
        }
        self.sessions.len()
    }
}

/// How many sessions are connected here (for tests and the shutdown log line).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CountSessions;

impl Handler<CountSessions> for SessionHub {
    type Result = usize;

    fn handle(&mut self, _: CountSessions, _: &mut Context<Self>) -> usize {
        self.sessions.len()
    }
}
