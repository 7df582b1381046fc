//! The shared store for several replicas: every record in Redis with an expiry, single use by
//! `GETDEL` or a Lua script, and delivery between replicas by pub/sub with the frame itself
//! parked in a list, because pub/sub drops what nobody hears.
//!
//! Values are sealed (XChaCha20-Poly1305 under `secrets.seal_key`) and keys of tickets, states
//! and resume secrets are hashed, so a Redis dump yields no token, verifier or usable link.
//!
//! The connection comes up in the background: start-up with Redis down waits and retries
//! (with back-off, saying so in the log) while `/readyz` answers 503.

use super::{ConfirmOutcome, HeldGrant, PendingAuthorization, SigninTicket, StoreError};
use crate::sealing::SealingKey;
use crate::secrets::{ResumeSecret, SessionId, State, Ticket};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, PushKind, Script, Value};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// What the store tells the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// A frame was parked for this session, maybe by another replica.
    Parked(SessionId),
    /// Redis is back after an outage: look for frames parked meanwhile.
    Reconnected,
}

const MAX_PARKED_PER_SESSION: isize = 32;

pub struct RedisStore {
    /// Commands. Never subscribed: a connection that is subscribed and publishes inside
    /// MULTI gets its own `message` push mixed into the replies (redis-rs 1.8, measured in
    /// BENCHMARKS.md), which shifts every later reply on the multiplexed connection.
    connection: RwLock<Option<ConnectionManager>>,
    /// Subscriptions only; held so its background task lives.
    subscriber: RwLock<Option<ConnectionManager>>,
    prefix: String,
    sealer: SealingKey,
    healthy: AtomicBool,
    channel: String,
    take_list: Script,
    confirm: Script,
}

impl RedisStore {
    /// Starts connecting in the background and returns at once.
    pub fn start(
        url: String,
        prefix: String,
        sealer: SealingKey,
        events: mpsc::UnboundedSender<StoreEvent>,
    ) -> Arc<Self> {
        let store = Arc::new(Self {
            connection: RwLock::new(None),
            subscriber: RwLock::new(None),
            channel: format!("{prefix}deliver"),
            prefix,
            sealer,
            healthy: AtomicBool::new(false),
            take_list: Script::new(
                "local v = redis.call('LRANGE', KEYS[1], 0, -1) redis.call('DEL', KEYS[1]) return v",
            ),
            confirm: Script::new(CONFIRM_SCRIPT),
        });
        let background = store.clone();
        actix_rt::spawn(async move { background.run(url, events).await });
        store
    }

    async fn run(self: Arc<Self>, url: String, events: mpsc::UnboundedSender<StoreEvent>) {
        let (push_tx, mut push_rx) = mpsc::unbounded_channel();
        let (commands, subscriber) = self.connect_with_retries(&url, push_tx).await;
        *self.connection.write().unwrap_or_else(|p| p.into_inner()) = Some(commands);
        *self.subscriber.write().unwrap_or_else(|p| p.into_inner()) = Some(subscriber);
        self.healthy.store(true, Ordering::SeqCst);
        log::info!("connected to Redis");

        let channel = self.channel.clone();
        let pushes = events.clone();
        actix_rt::spawn(async move {
            while let Some(push) = push_rx.recv().await {
                match push.kind {
                    PushKind::Message => {
                        // [channel, payload]
                        if let (Some(Value::BulkString(ch)), Some(Value::BulkString(session))) =
                            (push.data.first(), push.data.get(1))
                            && ch.as_slice() == channel.as_bytes()
                            && let Ok(session) = String::from_utf8(session.clone())
                        {
                            let _ = pushes.send(StoreEvent::Parked(SessionId::new(session)));
                        }
                    }
                    PushKind::Disconnection => {
                        log::warn!("lost the Redis connection; reconnecting")
                    }
                    _ => {}
                }
            }
        });

        // Health: a PING a second. After an outage the hub looks for frames parked meanwhile,
        // since their notifications may have gone unheard.
        let mut tick = actix_rt::time::interval(Duration::from_secs(1));
        let mut was_healthy = true;
        loop {
            tick.tick().await;
            let healthy = self.ping().await;
            self.healthy.store(healthy, Ordering::SeqCst);
            if healthy && !was_healthy {
                log::info!("Redis reachable again");
                let _ = events.send(StoreEvent::Reconnected);
            } else if !healthy && was_healthy {
                log::warn!("Redis unreachable: new sign-ins answer `unavailable` until it returns");
            }
            was_healthy = healthy;
            if events.is_closed() {
                return;
            }
        }
    }

    async fn connect_with_retries(
        &self,
        url: &str,
        push_tx: mpsc::UnboundedSender<redis::PushInfo>,
    ) -> (ConnectionManager, ConnectionManager) {
        let mut delay = Duration::from_millis(250);
        let mut attempt = 1u32;
        loop {
            match self.connect(url, push_tx.clone()).await {
                Ok(managers) => return managers,
                Err(e) => {
                    log::warn!(
                        "waiting for Redis (store.redis_url), attempt {attempt}: {}; retrying in {} ms",
                        describe(&e),
                        delay.as_millis()
                    );
                    actix_rt::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
            }
        }
    }

    async fn connect(
        &self,
        url: &str,
        push_tx: mpsc::UnboundedSender<redis::PushInfo>,
    ) -> redis::RedisResult<(ConnectionManager, ConnectionManager)> {
        let client = redis::Client::open(with_resp3(url))?;
        let config = || {
            ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(2)))
                .set_response_timeout(Some(Duration::from_secs(2)))
                .set_min_delay(Duration::from_millis(100))
                .set_max_delay(Duration::from_secs(5))
                .set_number_of_retries(2)
        };
        let commands = ConnectionManager::new_with_config(client.clone(), config()).await?;
        let subscriber_config = config()
            .set_push_sender(push_tx)
            .set_automatic_resubscription();
        let mut subscriber = ConnectionManager::new_with_config(client, subscriber_config).await?;
        subscriber.subscribe(&self.channel).await?;
        Ok((commands, subscriber))
    }

    fn manager(&self) -> Result<ConnectionManager, StoreError> {
        self.connection
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(StoreError::Unavailable)
    }

    async fn ping(&self) -> bool {
        let Ok(mut conn) = self.manager() else {
            return false;
        };
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut conn);
        matches!(
            actix_rt::time::timeout(Duration::from_secs(1), ping).await,
            Ok(Ok(_))
        )
    }

    pub fn is_ready(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    fn key(&self, kind: &str, secret: &str) -> String {
        let digest = Sha256::digest(secret.as_bytes());
        let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
        format!("{}{kind}:{hex}", self.prefix)
    }

    fn session_key(&self, kind: &str, session: &SessionId) -> String {
        format!("{}{kind}:{}", self.prefix, session.expose())
    }

    fn seal<T: serde::Serialize>(&self, kind: &str, value: &T) -> Vec<u8> {
        let json = serde_json::to_vec(value).expect("records serialise");
        self.sealer.seal(context(kind).as_bytes(), &json)
    }

    fn open<T: serde::de::DeserializeOwned>(&self, kind: &str, sealed: &[u8]) -> Option<T> {
        let plain = self.sealer.open(context(kind).as_bytes(), sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    async fn put<T: serde::Serialize>(
        &self,
        kind: &str,
        key: String,
        value: &T,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        let sealed = self.seal(kind, value);
        conn.set_ex::<_, _, ()>(key, sealed, ttl_secs.max(1))
            .await
            .map_err(unavailable)
    }

    async fn take<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        key: String,
    ) -> Result<Option<T>, StoreError> {
        let mut conn = self.manager()?;
        let sealed: Option<Vec<u8>> = conn.get_del(key).await.map_err(unavailable)?;
        Ok(sealed.and_then(|s| self.open(kind, &s)))
    }

    pub async fn put_ticket(
        &self,
        ticket: &Ticket,
        value: &SigninTicket,
        ttl: u64,
    ) -> Result<(), StoreError> {
        self.put("ticket", self.key("t", ticket.expose()), value, ttl)
            .await
    }

    pub async fn take_ticket(&self, ticket: &Ticket) -> Result<Option<SigninTicket>, StoreError> {
        self.take("ticket", self.key("t", ticket.expose())).await
    }

    pub async fn put_pending(
        &self,
        state: &State,
        value: &PendingAuthorization,
        ttl: u64,
    ) -> Result<(), StoreError> {
        self.put("pending", self.key("s", state.expose()), value, ttl)
            .await
    }

    pub async fn take_pending(
        &self,
        state: &State,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.take("pending", self.key("s", state.expose())).await
    }

    pub async fn hold_grant(
        &self,
        session: &SessionId,
        grant: &HeldGrant,
        ttl: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        let key = self.session_key("h", session);
        let code_hash = code_digest(grant.code.expose());
        let sealed = self.seal("held", grant);
        redis::pipe()
            .atomic()
            .del(&key)
            .hset_multiple(
                &key,
                &[
                    ("c", code_hash.into_bytes()),
                    ("a", grant.attempts_left.to_string().into_bytes()),
                    ("g", sealed),
                ],
            )
            .expire(&key, expiry_secs(ttl))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    pub async fn holds_grant(&self, session: &SessionId) -> Result<bool, StoreError> {
        let mut conn = self.manager()?;
        redis::cmd("EXISTS")
            .arg(self.session_key("h", session))
            .query_async::<bool>(&mut conn)
            .await
            .map_err(unavailable)
    }

    pub async fn confirm(
        &self,
        session: &SessionId,
        typed: &str,
    ) -> Result<ConfirmOutcome, StoreError> {
        let mut conn = self.manager()?;
        let typed = code_digest(&super::normalise_code(typed));
        let reply: (i64, Value) = self
            .confirm
            .key(self.session_key("h", session))
            .arg(typed)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match reply {
            (1, Value::BulkString(sealed)) => match self.open::<HeldGrant>("held", &sealed) {
                Some(grant) => ConfirmOutcome::Granted(Box::new(grant)),
                None => ConfirmOutcome::NothingHeld,
            },
            (2, _) => ConfirmOutcome::TooManyAttempts,
            (3, Value::Int(left)) => ConfirmOutcome::WrongCode {
                attempts_left: left.max(0) as u32,
            },
            _ => ConfirmOutcome::NothingHeld,
        })
    }

    pub async fn register_resume(
        &self,
        secret: &ResumeSecret,
        session: &SessionId,
        ttl: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        conn.set_ex::<_, _, ()>(self.key("r", secret.expose()), session.expose(), ttl.max(1))
            .await
            .map_err(unavailable)
    }

    /// Keeps a live session's resume secret from expiring (a dead replica stops touching it, so
    /// the secret then lasts only the grace period).
    pub async fn touch_resume(&self, secret: &ResumeSecret, ttl: u64) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        conn.expire::<_, ()>(self.key("r", secret.expose()), expiry_secs(ttl))
            .await
            .map_err(unavailable)
    }

    pub async fn release_resume(
        &self,
        secret: &ResumeSecret,
        grace: u64,
    ) -> Result<(), StoreError> {
        self.touch_resume(secret, grace).await
    }

    pub async fn take_resume(
        &self,
        secret: &ResumeSecret,
    ) -> Result<Option<SessionId>, StoreError> {
        let mut conn = self.manager()?;
        let session: Option<String> = conn
            .get_del(self.key("r", secret.expose()))
            .await
            .map_err(unavailable)?;
        Ok(session.map(SessionId::new))
    }

    /// Counts one event in a fixed window shared by every replica.
    pub async fn count_in_window(
        &self,
        limit: &str,
        subject: &str,
        window_index: u64,
        window_secs: u64,
    ) -> Result<u64, StoreError> {
        let mut conn = self.manager()?;
        let key = format!(
            "{}l:{limit}:{window_index}:{}",
            self.prefix,
            self.key("", subject).rsplit(':').next().unwrap_or("")
        );
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .incr(&key, 1u64)
            .expire(&key, expiry_secs(window_secs.saturating_add(1)))
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(count)
    }

    /// Parks the frame, then tells every replica; the one holding the session collects it.
    pub async fn park(&self, session: &SessionId, frame: &str, ttl: u64) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        let key = self.session_key("p", session);
        let sealed = self
            .sealer
            .seal(context("frame").as_bytes(), frame.as_bytes());
        redis::pipe()
            .atomic()
            .rpush(&key, sealed)
            .ltrim(&key, 0, MAX_PARKED_PER_SESSION - 1)
            .expire(&key, expiry_secs(ttl))
            .publish(&self.channel, session.expose())
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    pub async fn take_parked(&self, session: &SessionId) -> Result<Vec<String>, StoreError> {
        let mut conn = self.manager()?;
        let sealed: Vec<Vec<u8>> = self
            .take_list
            .key(self.session_key("p", session))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(sealed
            .iter()
            .filter_map(|s| self.sealer.open(context("frame").as_bytes(), s).ok())
            .filter_map(|plain| String::from_utf8(plain).ok())
            .collect())
    }
}

/// A typed code is compared by digest inside Redis, so the code itself is never stored.
fn code_digest(code: &str) -> String {
    Sha256::digest(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn context(kind: &str) -> String {
    format!("oauth-broker redis record v1 {kind}")
}

fn unavailable(e: redis::RedisError) -> StoreError {
    log::debug!("Redis command failed: {}", describe(&e));
    StoreError::Unavailable
}

/// Redis errors can echo the URL; keep only the kind and category.
fn describe(e: &redis::RedisError) -> String {
    format!("{:?} ({})", e.kind(), e.category())
}

/// Subscriptions that survive reconnects need RESP3 push messages.
fn with_resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

/// A TTL as Redis's `EXPIRE` takes it: at least 1 (0 would delete the key at once) and at
/// most `i64::MAX` (a larger `u64` would wrap into a negative, deleting it too).
fn expiry_secs(ttl: u64) -> i64 {
    i64::try_from(ttl.max(1)).unwrap_or(i64::MAX)
}

/// Checks a typed code (as digest) against the held one: a match releases the grant, a miss
/// uses an attempt, the last miss ends the attempt. Returns {outcome, payload}.
const CONFIRM_SCRIPT: &str = r"
local code = redis.call('HGET', KEYS[1], 'c')
if not code then return {0, ''} end
if code == ARGV[1] then
  local g = redis.call('HGET', KEYS[1], 'g')
  redis.call('DEL', KEYS[1])
  return {1, g}
end
local left = redis.call('HINCRBY', KEYS[1], 'a', -1)
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return {2, ''}
end
return {3, left}
";
