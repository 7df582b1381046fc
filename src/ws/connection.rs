//! One extension's WebSocket: an actor that registers its session with the `SessionHub`, says
//! `hello`, turns each client frame into a call of the sign-in step it names (`begin`,
//! `confirm`, `refresh`) and the step's outcome into a frame, writes what the hub delivers
//! (each `id` once per connection; an `ack` forgets it in the store), keeps the heartbeat, and
//! hands its session back to the store for `resume_grace_secs` when the socket drops. The
//! sign-in itself lives in `crate::signin`.

use super::answers;
use super::hub::{Connect, Deliver, Disconnect, SessionHub, TokenReady};
use super::protocol::{ClientMessage, ServerMessage};
use crate::broker::{Broker, SessionSlot};
use crate::oauth::TokenClient;
use crate::random;
use crate::secrets::{ResumeSecret, SessionId};
use crate::signin::{begin, confirm, refresh};
use crate::store::{LocationRefresh, StoreError};
use crate::telemetry::catalog::{self, DeliveryPath, UnackedEvent};
use actix::prelude::*;
use actix_web::web;
use actix_web_actors::ws;
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

pub struct Connection {
    broker: web::Data<Broker>,
    tokens: TokenClient,
    /// This worker's hub.
    hub: Addr<SessionHub>,
    session: SessionId,
    resume_secret: ResumeSecret,
    serial: u64,
    last_heard: Instant,
    /// Set when the session was asked to resume but its secret was unknown or expired.
    resume_failed: bool,
    /// The client address, for per-address limits.
    client: String,
    /// A text message arriving in pieces (continuation frames), until its last piece.
    partial: Option<Vec<u8>>,
    /// `id`s of hub frames written on this connection and not acknowledged: each goes out
    /// once per connection, however it reaches here (the hub, the store's notice, a resume).
    written: HashSet<String>,
    /// The session lives on in a newer connection: its frames are not this one's to release.
    replaced: bool,
    /// A refresh of this session is in flight: one at a time.
    refreshing: bool,
    /// Counts this session against `sessions.max_connections` until the actor is dropped.
    _slot: SessionSlot,
}

/// What the `/ws` route hands a new connection.
pub struct ConnectionParts {
    pub broker: web::Data<Broker>,
    pub tokens: TokenClient,
    pub hub: Addr<SessionHub>,
    pub session: SessionId,
    pub resume_failed: bool,
    pub client: String,
    pub slot: SessionSlot,
}

impl Connection {
    pub fn new(parts: ConnectionParts) -> Self {
        Self {
            broker: parts.broker,
            tokens: parts.tokens,
            hub: parts.hub,
            session: parts.session,
            resume_secret: random::resume_secret(),
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            last_heard: Instant::now(),
            resume_failed: parts.resume_failed,
            client: parts.client,
            partial: None,
            written: HashSet::new(),
            replaced: false,
            refreshing: false,
            _slot: parts.slot,
        }
    }

    fn handle_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let (broker, session, client) = (
            self.broker.clone(),
            self.session.clone(),
            self.client.clone(),
        );
        match ClientMessage::parse(text) {
            Ok(ClientMessage::Begin { provider }) => self.answer(ctx, async move {
                reply(begin::begin(&broker, &session, &client, provider.as_deref()).await)
            }),
            Ok(ClientMessage::Confirm { code }) => {
                let hub = self.hub.clone();
                self.answer_or_route(ctx, async move {
                    match confirm::confirm(&broker, &session, &client, &code).await {
                        // The tokens end the sign-in: routed through the hub like any result
                        // of it, so that a socket that swallows them does not lose them.
                        Ok(grant) => {
                            let frame = ServerMessage::from(grant);
                            let routed = hub.send(TokenReady {
                                session,
                                frame: frame.clone(),
                            });
                            match routed.await {
                                Ok(Ok(())) => None,
                                _ => Some(frame),
                            }
                        }
                        Err(e) => Some((&e).into()),
                    }
                })
            }
            Ok(ClientMessage::Refresh { refresh }) => {
                if self.refreshing {
                    catalog::refresh_refused("in_flight");
                    send(ctx, &(&refresh::RefreshError::InFlight).into());
                    return;
                }
                self.refreshing = true;
                let (broker, tokens) = (broker.into_inner(), self.tokens.clone());
                async move {
                    let caller = refresh::Caller {
                        session: &session,
                        client: &client,
                    };
                    reply(refresh::refresh(broker, tokens, caller, &refresh).await)
                }
                .into_actor(self)
                .map(|frame, act, ctx| {
                    act.refreshing = false;
                    send(ctx, &frame)
                })
                .spawn(ctx);
            }
            Ok(ClientMessage::Ack { id }) => {
                // `written` keeps the id: a collect racing this ack must not write it again.
                let store = self.broker.store.clone();
                actix_rt::spawn(async move {
                    if let Ok(true) = store.ack(&session, &id.0).await {
                        catalog::unacked_frames(UnackedEvent::Acknowledged, 1);
                    }
                });
            }
            Err(e) => {
                catalog::rejected("invalid_message");
                let frame = ServerMessage::error(super::protocol::ErrorCode::InvalidMessage, e.0);
                send(ctx, &frame);
            }
        }
    }

    /// Runs a step on this connection and writes the frame it ends with.
    fn answer(
        &self,
        ctx: &mut ws::WebsocketContext<Self>,
        step: impl Future<Output = ServerMessage> + 'static,
    ) {
        step.into_actor(self)
            .map(|frame, _, ctx| send(ctx, &frame))
            .spawn(ctx);
    }

    /// Runs a step that ends with a frame for this connection, or with one it routed through
    /// the hub (`None`).
    fn answer_or_route(
        &self,
        ctx: &mut ws::WebsocketContext<Self>,
        step: impl Future<Output = Option<ServerMessage>> + 'static,
    ) {
        step.into_actor(self)
            .map(|frame, _, ctx| {
                if let Some(frame) = frame {
                    send(ctx, &frame)
                }
            })
            .spawn(ctx);
    }

    /// Reassembles a fragmented message (RFC 6455 §5.4) within the same size limit as whole
    /// frames; binary messages are refused whole or in pieces.
    fn continuation(&mut self, item: actix_http::ws::Item, ctx: &mut ws::WebsocketContext<Self>) {
        let limit = self.broker.settings.sessions.max_message_bytes;
        let (piece, last) = match item {
            actix_http::ws::Item::FirstText(bytes) => {
                self.partial = Some(Vec::new());
                (bytes, false)
            }
            actix_http::ws::Item::FirstBinary(_) => {
                self.partial = None;
                refuse_binary(ctx);
                return;
            }
            actix_http::ws::Item::Continue(bytes) => (bytes, false),
            actix_http::ws::Item::Last(bytes) => (bytes, true),
        };
        let Some(buffer) = self.partial.as_mut() else {
            return; // pieces of a refused binary message, or stray pieces
        };
        buffer.extend_from_slice(&piece);
        if buffer.len() > limit {
            self.partial = None;
            self.too_big(ctx);
            return;
        }
        if last && let Some(whole) = self.partial.take() {
            match String::from_utf8(whole) {
                Ok(text) => self.handle_text(&text, ctx),
                Err(_) => close(ctx, ws::CloseCode::Invalid, "text must be UTF-8"),
            }
        }
    }

    fn too_big(&self, ctx: &mut ws::WebsocketContext<Self>) {
        catalog::rejected("message_too_big");
        let limit = self.broker.settings.sessions.max_message_bytes;
        close(
            ctx,
            ws::CloseCode::Size,
            &format!("frames are limited to {limit} bytes"),
        );
    }

    fn heartbeat(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let every = Duration::from_secs(self.broker.settings.sessions.heartbeat_secs.max(1));
        let idle = Duration::from_secs(self.broker.settings.sessions.idle_timeout_secs.max(1));
        ctx.run_interval(every, move |act, ctx| {
            if act.last_heard.elapsed() > idle {
                log::debug!("session {} idle; closing", act.session.short());
                close(ctx, ws::CloseCode::Away, "idle");
            } else {
                ctx.ping(b"");
            }
        });
    }

    /// With a shared store the resume secret and the record of where the session is connected
    /// expire unless touched, so a replica that dies stops touching them: the session is then
    /// resumable for the grace period only, and results stop being announced to it.
    fn keep_resumable(&self, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.run_interval(self.refresh_every(), move |act, ctx| {
            let store = act.broker.store.clone();
            let secret = act.resume_secret.clone();
            let (session, serial, ttl) = (act.session.clone(), act.serial, act.record_ttl());
            async move {
                let _ = store.touch_resume(&secret, ttl).await;
                let record = store.refresh_location(&session, serial, ttl).await;
                if record != Ok(LocationRefresh::Elsewhere) {
                    // Also undoes a release by an older connection of this session on another
                    // replica that stopped after this one claimed the frames.
                    let _ = store.claim_unacked(&session, ttl).await;
                }
                record
            }
            .into_actor(act)
            .map(|record, act, ctx| act.after_refresh(record, false, ctx))
            .spawn(ctx);
        });
    }

    fn refresh_every(&self) -> Duration {
        Duration::from_secs((self.broker.settings.sessions.resume_grace_secs / 2).max(1))
    }

    /// How long the resume secret and the location record last unless refreshed again.
    fn record_ttl(&self) -> u64 {
        let sessions = &self.broker.settings.sessions;
        sessions
            .resume_grace_secs
            .saturating_add(self.refresh_every().as_secs())
            .saturating_add(sessions.idle_timeout_secs)
    }

    /// The store is back after an outage (perhaps a failover that lost recent writes): the
    /// record of where this session is may be gone, so results parked meanwhile went
    /// unannounced. Restored before collecting, so each is either collected now or announced.
    fn store_returned(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let store = self.broker.store.clone();
        let (session, serial, ttl) = (self.session.clone(), self.serial, self.record_ttl());
        async move { store.refresh_location(&session, serial, ttl).await }
            .into_actor(self)
            .map(|record, act, ctx| act.after_refresh(record, true, ctx))
            .spawn(ctx);
    }

    /// Pub/sub is at most once: a resume elsewhere whose ending went unheard (this replica was
    /// reconnecting to Redis) is noticed here, and so is a record that vanished.
    fn after_refresh(
        &mut self,
        record: Result<LocationRefresh, StoreError>,
        collect: bool,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        match record {
            Ok(LocationRefresh::Elsewhere) => self.replaced_elsewhere(ctx),
            Ok(LocationRefresh::Restored) => self.collect_unacked(ctx),
            Ok(LocationRefresh::Kept) | Err(_) if collect => self.collect_unacked(ctx),
            Ok(LocationRefresh::Kept) | Err(_) => {}
        }
    }

    fn replaced_elsewhere(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        self.replaced = true;
        close(ctx, ws::CloseCode::Policy, "resumed on another connection")
    }

    /// Writes the session's unacknowledged frames that this connection has not written yet,
    /// oldest first: after a resume, all of them, with their `id`s unchanged.
    fn collect_unacked(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let store = self.broker.store.clone();
        let session = self.session.clone();
        async move { store.unacked(&session).await }
            .into_actor(self)
            .map(|result, act, ctx| {
                let mut written = Vec::new();
                for frame in result.unwrap_or_default() {
                    if !act.remember_written(&frame.id) {
                        continue;
                    }
                    if frame.sent {
                        catalog::unacked_frames(UnackedEvent::Resent, 1);
                    } else {
                        catalog::delivered(DeliveryPath::Collected);
                    }
                    ctx.text(frame.json);
                    written.push(frame.id);
                }
                if !written.is_empty() {
                    let store = act.broker.store.clone();
                    let session = act.session.clone();
                    actix_rt::spawn(async move {
                        let _ = store.mark_sent(&session, &written).await;
                    });
                }
            })
            .spawn(ctx);
    }

    /// Whether `id` is new to this connection (and now remembered). A client that never
    /// acknowledges cannot grow the set without bound: past the store's own bound, the oldest
    /// memory goes, and at worst a frame is written twice (clients drop repeated `id`s).
    fn remember_written(&mut self, id: &str) -> bool {
        if self.written.len() >= 4 * crate::store::MAX_UNACKED_PER_SESSION {
            self.written.clear();
        }
        self.written.insert(id.to_owned())
    }
}

/// A step's outcome as the frame that answers it.
fn reply<T, E>(result: Result<T, E>) -> ServerMessage
where
    ServerMessage: From<T> + for<'a> From<&'a E>,
{
    match result {
        Ok(done) => done.into(),
        Err(e) => (&e).into(),
    }
}

fn send(ctx: &mut ws::WebsocketContext<Connection>, frame: &ServerMessage) {
    ctx.text(frame.to_json());
}

fn refuse_binary(ctx: &mut ws::WebsocketContext<Connection>) {
    catalog::rejected("invalid_message");
    send(ctx, &answers::binary_refused());
}

fn close(ctx: &mut ws::WebsocketContext<Connection>, code: ws::CloseCode, why: &str) {
    ctx.close(Some(ws::CloseReason {
        code,
        description: Some(why.into()),
    }));
    ctx.stop();
}

impl Actor for Connection {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        catalog::session_opened();
        let hello = ServerMessage::Hello {
            session: self.session.clone(),
            resume: self.resume_secret.clone(),
            providers: self.broker.providers.names(),
            heartbeat_secs: self.broker.settings.sessions.heartbeat_secs,
        };
        send(ctx, &hello);
        if self.resume_failed {
            send(ctx, &answers::resume_failed());
        }
        let registered = self.hub.send(Connect {
            session: self.session.clone(),
            serial: self.serial,
            connection: ctx.address().recipient(),
        });
        let store = self.broker.store.clone();
        let (secret, session, serial) = (
            self.resume_secret.clone(),
            self.session.clone(),
            self.serial,
        );
        let ttl = self
            .broker
            .settings
            .sessions
            .resume_grace_secs
            .saturating_add(self.broker.settings.sessions.idle_timeout_secs);
        let record_ttl = self.record_ttl();
        // Collected only once the hub has the session, so that a frame kept meanwhile is
        // either collected here or nudged to this connection by the hub.
        async move {
            let _ = registered.await;
            // Recorded before collecting: a result parked from now on is announced here, and
            // one parked before is in the store for the collect. And recorded before the new
            // resume secret works, so a resume with it (on any replica) records itself later
            // and wins.
            let _ = store.claim_location(&session, serial, record_ttl).await;
            let _ = store.register_resume(&secret, &session, ttl).await;
            let _ = store.claim_unacked(&session, ttl).await;
        }
        .into_actor(self)
        .map(|_, act, ctx| act.collect_unacked(ctx))
        .spawn(ctx);
        self.heartbeat(ctx);
        if self.broker.store.is_shared() {
            self.keep_resumable(ctx);
        }
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        catalog::session_closed();
        self.hub.do_send(Disconnect {
            session: self.session.clone(),
            serial: self.serial,
        });
        let store = self.broker.store.clone();
        let secret = self.resume_secret.clone();
        let grace = self.broker.settings.sessions.resume_grace_secs;
        let release_frames = (!self.replaced).then(|| self.session.clone());
        let (session, serial) = (self.session.clone(), self.serial);
        actix_rt::spawn(async move {
            let _ = store.release_resume(&secret, grace).await;
            let _ = store.release_location(&session, serial).await;
            if let Some(session) = release_frames {
                let _ = store.release_unacked(&session, grace).await;
            }
        });
    }
}

impl Handler<Deliver> for Connection {
    type Result = bool;

    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) -> bool {
        if ctx.state() != ActorState::Running {
            return false;
        }
        match msg {
            Deliver::Frame { id, json } => {
                if self.remember_written(&id) {
                    ctx.text(json);
                }
            }
            Deliver::CollectParked => self.collect_unacked(ctx),
            Deliver::StoreReturned => self.store_returned(ctx),
            Deliver::Replaced => self.replaced_elsewhere(ctx),
            Deliver::GoingAway => close(
                ctx,
                ws::CloseCode::Away,
                "server shutting down; reconnect with resume",
            ),
        }
        true
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Connection {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match item {
            Ok(ws::Message::Text(text)) => self.handle_text(&text, ctx),
            Ok(ws::Message::Ping(payload)) => ctx.pong(&payload),
            Ok(ws::Message::Pong(_)) => {}
            Ok(ws::Message::Binary(_)) => refuse_binary(ctx),
            Ok(ws::Message::Continuation(item)) => self.continuation(item, ctx),
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Ok(ws::Message::Nop) => {}
            Err(ws::ProtocolError::Overflow) => self.too_big(ctx),
            Err(_) => {
                catalog::rejected("protocol_error");
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Protocol,
                    description: None,
                }));
                ctx.stop();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
