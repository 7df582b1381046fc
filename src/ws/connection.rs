//! One extension's WebSocket: an actor that says `hello`, answers `begin`, `confirm` and
//! `refresh`, writes what the hub delivers, keeps the heartbeat, and hands its session back to
//! the store for `resume_grace_secs` when the socket drops.

use super::protocol::{ClientMessage, ErrorCode, ServerMessage};
use crate::broker::{Broker, SessionSlot};
use crate::limits::{Decision, Limit};
use crate::oauth::TokenClient;
use crate::random;
use crate::sensitive::Sensitive;
use crate::store::{ConfirmOutcome, SigninTicket};
use actix::prelude::*;
use actix_web::web;
use actix_web_actors::ws;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

pub struct Connection {
    broker: web::Data<Broker>,
    tokens: TokenClient,
    session: String,
    resume_secret: String,
    serial: u64,
    last_heard: Instant,
    /// Set when the session was asked to resume but its secret was unknown or expired.
    resume_failed: bool,
    /// The client address, for per-address limits.
    client: String,
    /// A text message arriving in pieces (continuation frames), until its last piece.
    partial: Option<Vec<u8>>,
    /// Counts this session against `sessions.max_connections` until the actor is dropped.
    _slot: SessionSlot,
}

impl Connection {
    pub fn new(
        broker: web::Data<Broker>,
        tokens: TokenClient,
        session: String,
        resume_failed: bool,
        client: String,
        slot: SessionSlot,
    ) -> Self {
        Self {
            broker,
            tokens,
            session,
            resume_secret: random::opaque_token(),
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            last_heard: Instant::now(),
            resume_failed,
            client,
            partial: None,
            _slot: slot,
        }
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
                self.refuse_binary(ctx);
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
                Err(_) => {
                    ctx.close(Some(ws::CloseReason {
                        code: ws::CloseCode::Invalid,
                        description: Some("text must be UTF-8".into()),
                    }));
                    ctx.stop();
                }
            }
        }
    }

    fn refuse_binary(&self, ctx: &mut ws::WebsocketContext<Self>) {
        metrics::counter!("oauth_broker_rejected_total", "reason" => "invalid_message")
            .increment(1);
        let frame = ServerMessage::error(
            ErrorCode::InvalidMessage,
            "Send JSON text frames, not binary ones.",
        );
        self.send(ctx, &frame);
    }

    fn too_big(&self, ctx: &mut ws::WebsocketContext<Self>) {
        metrics::counter!("oauth_broker_rejected_total", "reason" => "message_too_big")
            .increment(1);
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Size,
            description: Some(format!(
                "frames are limited to {} bytes",
                self.broker.settings.sessions.max_message_bytes
            )),
        }));
        ctx.stop();
    }

    fn send(&self, ctx: &mut ws::WebsocketContext<Self>, frame: &ServerMessage) {
        ctx.text(frame.to_json());
    }

    fn heartbeat(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let every = Duration::from_secs(self.broker.settings.sessions.heartbeat_secs.max(1));
        let idle = Duration::from_secs(self.broker.settings.sessions.idle_timeout_secs.max(1));
        ctx.run_interval(every, move |act, ctx| {
            if act.last_heard.elapsed() > idle {
                log::debug!("session {} idle; closing", short(&act.session));
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Away,
                    description: Some("idle".into()),
                }));
                ctx.stop();
            } else {
                ctx.ping(b"");
            }
        });
    }

    /// With a shared store the resume secret expires unless touched, so a replica that dies
    /// stops touching it and the session is resumable for the grace period only.
    fn keep_resumable(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let sessions = &self.broker.settings.sessions;
        let every = Duration::from_secs((sessions.resume_grace_secs / 2).max(1));
        let ttl = sessions.resume_grace_secs + every.as_secs() + sessions.idle_timeout_secs;
        ctx.run_interval(every, move |act, _| {
            let store = act.broker.store.clone();
            let secret = act.resume_secret.clone();
            actix_rt::spawn(async move {
                let _ = store.touch_resume(&secret, ttl).await;
            });
        });
    }

    fn collect_parked(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let store = self.broker.store.clone();
        let session = self.session.clone();
        async move { store.take_parked(&session).await }
            .into_actor(self)
            .map(|result, _, ctx| {
                for frame in result.unwrap_or_default() {
                    metrics::counter!("oauth_broker_token_deliveries_total", "path" => "collected")
                        .increment(1);
                    ctx.text(frame);
                }
            })
            .spawn(ctx);
    }

    fn handle_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        match ClientMessage::parse(text) {
            Ok(ClientMessage::Begin { provider }) => self.begin(provider, ctx),
            Ok(ClientMessage::Confirm { code }) => self.confirm(code, ctx),
            Ok(ClientMessage::Refresh { refresh }) => self.refresh(refresh, ctx),
            Err(e) => {
                metrics::counter!("oauth_broker_rejected_total", "reason" => "invalid_message")
                    .increment(1);
                self.send(ctx, &ServerMessage::error(ErrorCode::InvalidMessage, e.0));
            }
        }
    }

    fn begin(&mut self, requested: Option<String>, ctx: &mut ws::WebsocketContext<Self>) {
        let provider = match requested.as_deref() {
            Some(name) => self.broker.providers.get(name),
            None => self.broker.providers.default_provider(),
        };
        let Some(provider) = provider.cloned() else {
            let frame = ServerMessage::error(
                ErrorCode::UnknownProvider,
                format!(
                    "This broker does not offer that provider; it offers: {}.",
                    self.broker.providers.names().join(", ")
                ),
            );
            self.send(ctx, &frame);
            return;
        };
        let ticket = random::opaque_token();
        let record = SigninTicket {
            session: self.session.clone(),
            provider: provider.name.clone(),
        };
        let ttl = self.broker.settings.signin.ticket_ttl_secs;
        let url = format!("{}/signin/{ticket}", self.broker.callback_base);
        let store = self.broker.store.clone();
        let broker = self.broker.clone();
        let (session, client) = (self.session.clone(), self.client.clone());
        async move {
            for (limit, subject) in [
                (Limit::LinksPerSession, &session),
                (Limit::LinksPerClient, &client),
            ] {
                if let Decision::Limited { retry_after_secs } =
                    broker.limits.check(limit, subject).await
                {
                    return Err(Some(retry_after_secs));
                }
            }
            store.put_ticket(&ticket, &record, ttl).await.map_err(|_| None)
        }
            .into_actor(self)
            .map(move |result, act, ctx| {
                let frame = match result {
                    Err(Some(retry_after_secs)) => ServerMessage::provider_error(
                        ErrorCode::RateLimited,
                        &provider.name,
                        format!("Too many sign-in attempts. Wait {retry_after_secs} seconds, then press Sign in again."),
                    ),
                    Ok(()) => {
                        metrics::counter!("oauth_broker_signins_started_total", "provider" => provider.name.clone())
                            .increment(1);
                        ServerMessage::Signin {
                            provider: provider.name.clone(),
                            url: Sensitive::new(url),
                            expires_in: ttl,
                        }
                    }
                    Err(None) => ServerMessage::provider_error(
                        ErrorCode::Unavailable,
                        &provider.name,
                        "The sign-in service is briefly unavailable. Try again in a moment.",
                    ),
                };
                act.send(ctx, &frame);
            })
            .spawn(ctx);
    }

    fn confirm(&mut self, code: Sensitive, ctx: &mut ws::WebsocketContext<Self>) {
        if !self.broker.settings.signin.confirm_code {
            let frame = ServerMessage::error(
                ErrorCode::InvalidMessage,
                "This broker does not use confirmation codes; tokens arrive on their own.",
            );
            self.send(ctx, &frame);
            return;
        }
        let store = self.broker.store.clone();
        let session = self.session.clone();
        let broker = self.broker.clone();
        let client = self.client.clone();
        async move {
            if let Decision::Limited { retry_after_secs } =
                broker.limits.check(Limit::ConfirmsPerClient, &client).await
            {
                return Err(Some(retry_after_secs));
            }
            store.confirm(&session, code.expose()).await.map_err(|_| None)
        }
            .into_actor(self)
            .map(|result, act, ctx| {
                let frame = match result {
                    Err(Some(retry_after_secs)) => ServerMessage::error(
                        ErrorCode::RateLimited,
                        format!("Too many codes typed from this network. Wait {retry_after_secs} seconds and type the code again."),
                    ),
                    Ok(ConfirmOutcome::Granted(grant)) => {
                        metrics::counter!("oauth_broker_signins_completed_total", "provider" => grant.provider.clone())
                            .increment(1);
                        act.broker.signedin(&grant.provider, grant.tokens())
                    }
                    Ok(ConfirmOutcome::WrongCode { attempts_left }) => {
                        metrics::counter!("oauth_broker_rejected_total", "reason" => "bad_code")
                            .increment(1);
                        ServerMessage::error(
                            ErrorCode::BadCode,
                            format!(
                                "That code does not match the one in the sign-in window. {attempts_left} {} left.",
                                if attempts_left == 1 { "try" } else { "tries" }
                            ),
                        )
                    }
                    Ok(ConfirmOutcome::TooManyAttempts) => {
                        metrics::counter!("oauth_broker_signins_failed_total", "provider" => "any", "reason" => "too_many_attempts")
                            .increment(1);
                        ServerMessage::error(
                            ErrorCode::TooManyAttempts,
                            "Too many wrong codes. For your safety this sign-in was cancelled; sign in again.",
                        )
                    }
                    Ok(ConfirmOutcome::NothingHeld) => ServerMessage::error(
                        ErrorCode::Expired,
                        "No sign-in is waiting for a code: it finished, expired or was never started. Sign in again.",
                    ),
                    Err(None) => ServerMessage::error(
                        ErrorCode::Unavailable,
                        "The sign-in service is briefly unavailable. Type the code again in a moment.",
                    ),
                };
                act.send(ctx, &frame);
            })
            .spawn(ctx);
    }

    fn refresh(&mut self, handle: Sensitive, ctx: &mut ws::WebsocketContext<Self>) {
        let reauth = |provider: Option<&str>| ServerMessage::Error {
            code: ErrorCode::ReauthRequired,
            message: "Your sign-in can no longer be renewed. Sign in again.".into(),
            provider: provider.map(str::to_owned),
        };
        let Ok(opened) = self.broker.sealer.open(handle.expose()) else {
            metrics::counter!("oauth_broker_refreshes_total", "provider" => "unknown", "outcome" => "unreadable")
                .increment(1);
            self.send(ctx, &reauth(None));
            return;
        };
        let Some(provider) = self.broker.providers.get(&opened.provider).cloned() else {
            self.send(ctx, &reauth(Some(&opened.provider)));
            return;
        };
        let client = self.tokens.clone();
        let token = opened.refresh_token;
        async move {
            let result = client.refresh(&provider, &token).await;
            (provider, token, result)
        }
        .into_actor(self)
        .map(move |(provider, old_token, result), act, ctx| {
            let frame = match result {
                Ok(mut tokens) => {
                    metrics::counter!("oauth_broker_refreshes_total", "provider" => provider.name.clone(), "outcome" => "ok")
                        .increment(1);
                    // Providers that do not rotate refresh tokens (RFC 6749 §6) omit it: keep
                    // using the old one, sealed afresh.
                    tokens.refresh_token.get_or_insert(old_token);
                    act.broker.signedin(&provider.name, tokens)
                }
                Err(e) if e.needs_reauth() => {
                    metrics::counter!("oauth_broker_refreshes_total", "provider" => provider.name.clone(), "outcome" => "reauth")
                        .increment(1);
                    reauth(Some(&provider.name))
                }
                Err(e) => {
                    metrics::counter!("oauth_broker_refreshes_total", "provider" => provider.name.clone(), "outcome" => e.reason())
                        .increment(1);
                    log::warn!("refresh for provider {} failed: {e}", provider.name);
                    ServerMessage::provider_error(
                        ErrorCode::ProviderError,
                        &provider.name,
                        format!("{} did not renew the sign-in just now. Try again shortly.", provider.label),
                    )
                }
            };
            act.send(ctx, &frame);
        })
        .spawn(ctx);
    }
}

/// Enough of a session ID to follow it through logs without making it usable.
pub fn short(session: &str) -> &str {
    &session[..session.len().min(6)]
}

impl Actor for Connection {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::gauge!("oauth_broker_sessions_open").increment(1.0);
        self.broker
            .hub
            .connect(self.session.clone(), self.serial, ctx.address().recipient());
        let hello = ServerMessage::Hello {
            session: self.session.clone(),
            resume: Sensitive::new(self.resume_secret.clone()),
            providers: self.broker.providers.names(),
            heartbeat_secs: self.broker.settings.sessions.heartbeat_secs,
        };
        self.send(ctx, &hello);
        if self.resume_failed {
            let frame = ServerMessage::error(
                ErrorCode::Expired,
                "Your earlier connection could not be resumed (it was gone too long); this is a new session. If you were signing in, start again.",
            );
            self.send(ctx, &frame);
        }
        let store = self.broker.store.clone();
        let (secret, session) = (self.resume_secret.clone(), self.session.clone());
        let ttl = self.broker.settings.sessions.resume_grace_secs
            + self.broker.settings.sessions.idle_timeout_secs;
        async move { store.register_resume(&secret, &session, ttl).await }
            .into_actor(self)
            .map(|_, act, ctx| act.collect_parked(ctx))
            .spawn(ctx);
        self.heartbeat(ctx);
        if self.broker.store.is_shared() {
            self.keep_resumable(ctx);
        }
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics::gauge!("oauth_broker_sessions_open").decrement(1.0);
        self.broker.hub.disconnect(&self.session, self.serial);
        let store = self.broker.store.clone();
        let secret = std::mem::take(&mut self.resume_secret);
        let grace = self.broker.settings.sessions.resume_grace_secs;
        actix_rt::spawn(async move {
            let _ = store.release_resume(&secret, grace).await;
        });
    }
}

/// What the hub hands a connection.
#[derive(Message, Debug)]
#[rtype(result = "bool")]
pub enum Deliver {
    /// A serialised frame to write; answers whether it was written.
    Frame(String),
    /// Frames were parked for this session meanwhile: collect them.
    CollectParked,
    /// The session was resumed on a newer connection.
    Replaced,
    /// The service is shutting down.
    GoingAway,
}

impl Handler<Deliver> for Connection {
    type Result = bool;

    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) -> bool {
        if ctx.state() != ActorState::Running {
            return false;
        }
        match msg {
            Deliver::Frame(json) => {
                ctx.text(json);
                true
            }
            Deliver::CollectParked => {
                self.collect_parked(ctx);
                true
            }
            Deliver::Replaced => {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Policy,
                    description: Some("resumed on another connection".into()),
                }));
                ctx.stop();
                true
            }
            Deliver::GoingAway => {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Away,
                    description: Some("server shutting down; reconnect with resume".into()),
                }));
                ctx.stop();
                true
            }
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Connection {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match item {
            Ok(ws::Message::Text(text)) => self.handle_text(&text, ctx),
            Ok(ws::Message::Ping(payload)) => ctx.pong(&payload),
            Ok(ws::Message::Pong(_)) => {}
            Ok(ws::Message::Binary(_)) => self.refuse_binary(ctx),
            Ok(ws::Message::Continuation(item)) => self.continuation(item, ctx),
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Ok(ws::Message::Nop) => {}
            Err(ws::ProtocolError::Overflow) => self.too_big(ctx),
            Err(_) => {
                metrics::counter!("oauth_broker_rejected_total", "reason" => "protocol_error")
                    .increment(1);
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
