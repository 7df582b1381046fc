//! `SessionHub`: the one actor that knows which session is connected where. Connections
//! register on start and unregister on stop; `/complete` sends `TokenReady`, and the hub hands
//! the frame to the session's connection or, when it is not connected, parks it in the store
//! until the session resumes.

use super::connection::Deliver;
use super::protocol::ServerMessage;
use crate::store::SigninStore;
use actix::prelude::*;
use std::collections::HashMap;

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

    /// Parks a frame, then, in case the session connected while the store was busy, nudges
    /// its connection to collect what is parked.
    fn park(&self, session: String, frame: String, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let ttl = self.park_ttl_secs;
        let key = session.clone();
        async move { store.park(&key, &frame, ttl).await }
            .into_actor(self)
            .map(move |result, hub, _| {
                if result.is_err() {
                    log::warn!("could not park a frame for an absent session: store unavailable");
                    metrics::counter!("oauth_broker_token_deliveries_total", "path" => "lost")
                        .increment(1);
                    return;
                }
                metrics::counter!("oauth_broker_token_deliveries_total", "path" => "parked")
                    .increment(1);
                if let Some(registered) = hub.sessions.get(&session) {
                    registered.connection.do_send(Deliver::CollectParked);
                }
            })
            .spawn(ctx);
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

/// A result for a session: from `/complete` (a `confirm`, `signedin` or `error` frame).
#[derive(Message)]
#[rtype(result = "()")]
pub struct TokenReady {
    pub session: String,
    pub frame: ServerMessage,
}

impl Handler<TokenReady> for SessionHub {
    type Result = ();

    fn handle(&mut self, msg: TokenReady, ctx: &mut Context<Self>) {
        let TokenReady { session, frame } = msg;
        let json = frame.to_json();
        let Some(registered) = self.sessions.get(&session) else {
            self.park(session, json, ctx);
            return;
        };
        // `send`, not `do_send`: if the connection stopped before reading its mailbox the
        // frame comes back here and is parked instead of lost.
        registered
            .connection
            .send(Deliver::Frame(json.clone()))
            .into_actor(self)
            .map(move |outcome, hub, ctx| match outcome {
                Ok(true) => {
                    metrics::counter!("oauth_broker_token_deliveries_total", "path" => "local")
                        .increment(1);
                }
                _ => hub.park(session, json, ctx),
            })
            .spawn(ctx);
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
