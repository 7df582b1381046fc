//! The shared store for several replicas: every record in Redis with an expiry, single use by
//! `GETDEL` or a Lua script, and delivery between replicas by pub/sub with the frame itself
//! kept in a list until the client acknowledges it, because pub/sub drops what nobody hears and
//! a socket can swallow what was written to it.
//!
//! Values are sealed (XChaCha20-Poly1305 under `secrets.seal_key`) and keys of tickets, states
//! and resume secrets are hashed, so a Redis dump yields no token, verifier or usable link.
//!
//! The connection comes up in the background: start-up with Redis down waits and retries
//! (with back-off, saying so in the log) while `/readyz` answers 503.

use super::{
    ConfirmOutcome, HeldGrant, MAX_UNACKED_PER_SESSION, PendingAuthorization, SigninTicket,
    StoreError, UnackedFrame,
};
use crate::sealing::SealingKey;
use crate::secrets::{ResumeSecret, SessionId, SharedRefresh, State, Ticket};
use crate::telemetry::catalog::{self, UnackedEvent};
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

/// A dropped session's unacknowledged frames are counted as expired by the sweep once its
/// grace period ends; the keys themselves live this much longer so the sweep still finds them.
const UNACKED_SLACK_SECS: u64 = 60;

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
    confirm: Script,
    mark_sent: Script,
    ack: Script,
    release_unacked: Script,
    sweep_unacked: Script,
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
            confirm: Script::new(CONFIRM_SCRIPT),
            mark_sent: Script::new(MARK_SENT_SCRIPT),
            ack: Script::new(ACK_SCRIPT),
            release_unacked: Script::new(RELEASE_UNACKED_SCRIPT),
            sweep_unacked: Script::new(SWEEP_UNACKED_SCRIPT),
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
            if healthy {
                self.sweep_expired_unacked().await;
            }
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
            .expire(&key, ttl.max(1) as i64)
            .query_async::<()>(&mut conn)
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
        conn.expire::<_, ()>(self.key("r", secret.expose()), ttl.max(1) as i64)
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
            .expire(&key, (window_secs + 1) as i64)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(count)
    }

    /// Keeps the frame until it is acknowledged, then tells every replica; the one holding
    /// the session writes it. Entries are `id:sealed frame`, so an ack finds its entry by the
    /// `id` without opening any.
    pub async fn keep_unacked(
        &self,
        session: &SessionId,
        id: &str,
        frame: &str,
        ttl: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        let (list, sent) = self.unacked_keys(session);
        let mut entry = format!("{id}:").into_bytes();
        entry.extend(
            self.sealer
                .seal(context("frame").as_bytes(), frame.as_bytes()),
        );
        let max = MAX_UNACKED_PER_SESSION as isize;
        let (length,): (usize,) = redis::pipe()
            .atomic()
            .rpush(&list, entry)
            .ltrim(&list, -max, -1)
            .ignore()
            .expire(&list, ttl.max(1) as i64)
            .ignore()
            .expire(&sent, ttl.max(1) as i64)
            .ignore()
            .publish(&self.channel, session.expose())
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        catalog::unacked_frames(
            UnackedEvent::Dropped,
            length.saturating_sub(MAX_UNACKED_PER_SESSION) as u64,
        );
        Ok(())
    }

    pub async fn unacked(&self, session: &SessionId) -> Result<Vec<UnackedFrame>, StoreError> {
        let mut conn = self.manager()?;
        let (list, sent) = self.unacked_keys(session);
        let (entries, sent): (Vec<Vec<u8>>, Vec<String>) = redis::pipe()
            .lrange(&list, 0, -1)
            .smembers(&sent)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(entries
            .iter()
            .filter_map(|entry| {
                let colon = entry.iter().position(|b| *b == b':')?;
                let id = std::str::from_utf8(&entry[..colon]).ok()?.to_owned();
                let plain = self
                    .sealer
                    .open(context("frame").as_bytes(), &entry[colon + 1..])
                    .ok()?;
                Some(UnackedFrame {
                    sent: sent.contains(&id),
                    id,
                    json: String::from_utf8(plain).ok()?,
                })
            })
            .collect())
    }

    pub async fn mark_sent(&self, session: &SessionId, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.manager()?;
        let (list, sent) = self.unacked_keys(session);
        let mut invocation = self.mark_sent.key(list);
        invocation.key(sent);
        for id in ids {
            invocation.arg(id);
        }
        invocation
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    pub async fn ack(&self, session: &SessionId, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.manager()?;
        let (list, sent) = self.unacked_keys(session);
        let acked: i64 = self
            .ack
            .key(list)
            .key(sent)
            .arg(id)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(acked == 1)
    }

    /// The connection dropped: the frames wait `grace` seconds, after which the sweep of any
    /// replica counts them as expired (exactly once: the sweep is one script).
    pub async fn release_unacked(&self, session: &SessionId, grace: u64) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        let (list, sent) = self.unacked_keys(session);
        self.release_unacked
            .key(list)
            .key(sent)
            .key(self.unacked_deadlines())
            .arg(grace)
            .arg(UNACKED_SLACK_SECS)
            .arg(session.expose())
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    pub async fn claim_unacked(&self, session: &SessionId, ttl: u64) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        let (list, sent) = self.unacked_keys(session);
        redis::pipe()
            .atomic()
            .zrem(self.unacked_deadlines(), session.expose())
            .ignore()
            .expire(&list, ttl.max(1) as i64)
            .ignore()
            .expire(&sent, ttl.max(1) as i64)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn sweep_expired_unacked(&self) {
        let Ok(mut conn) = self.manager() else {
            return;
        };
        let mut invocation = self.sweep_unacked.key(self.unacked_deadlines());
        invocation.arg(&self.prefix);
        let expired = invocation.invoke_async::<u64>(&mut conn);
        if let Ok(Ok(expired)) = actix_rt::time::timeout(Duration::from_secs(1), expired).await {
            catalog::unacked_frames(UnackedEvent::Expired, expired);
        }
    }

    pub async fn claim_refresh(&self, digest: &str, lease: u64) -> Result<bool, StoreError> {
        let mut conn = self.manager()?;
        let claimed: Option<String> = redis::cmd("SET")
            .arg(format!("{}rf:{digest}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(lease.max(1))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(claimed.is_some())
    }

    pub async fn shared_refresh(&self, digest: &str) -> Result<Option<SharedRefresh>, StoreError> {
        let mut conn = self.manager()?;
        let sealed: Option<Vec<u8>> = conn
            .get(format!("{}rr:{digest}", self.prefix))
            .await
            .map_err(unavailable)?;
        Ok(sealed.and_then(|s| self.open::<SharedRefresh>("refresh", &s)))
    }

    pub async fn share_refresh(
        &self,
        digest: &str,
        outcome: &SharedRefresh,
        ttl: u64,
    ) -> Result<(), StoreError> {
        self.put(
            "refresh",
            format!("{}rr:{digest}", self.prefix),
            outcome,
            ttl,
        )
        .await
    }

    fn unacked_keys(&self, session: &SessionId) -> (String, String) {
        (
            self.session_key("o", session),
            self.session_key("os", session),
        )
    }

    fn unacked_deadlines(&self) -> String {
        format!("{}od", self.prefix)
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

/// Notes ids as written to a connection, for as long as the frames themselves live.
const MARK_SENT_SCRIPT: &str = r"
redis.call('SADD', KEYS[2], unpack(ARGV))
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) else redis.call('DEL', KEYS[2]) end
";

/// Removes the entry `id:...` (ARGV[1]); returns 1 if there was one.
const ACK_SCRIPT: &str = r"
local prefix = ARGV[1] .. ':'
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.sub(entry, 1, #prefix) == prefix then
    redis.call('LREM', KEYS[1], 1, entry)
    redis.call('SREM', KEYS[2], ARGV[1])
    return 1
  end
end
return 0
";

/// A dropped session: its frames wait ARGV[1] seconds (the keys ARGV[2] more), and the
/// session goes into the deadlines set the sweep reads.
const RELEASE_UNACKED_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local keep = tonumber(ARGV[1]) + tonumber(ARGV[2])
redis.call('EXPIRE', KEYS[1], keep)
redis.call('EXPIRE', KEYS[2], keep)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[1]) * 1000, ARGV[3])
";

/// Drops the frames of sessions whose grace ended without a resume; returns how many. The
/// frame lists' names are built here from the prefix (ARGV[1]): the store has one Redis, not a
/// cluster, so every key is on it.
const SWEEP_UNACKED_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local total = 0
for _, s in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)) do
  total = total + redis.call('LLEN', ARGV[1] .. 'o:' .. s)
  redis.call('DEL', ARGV[1] .. 'o:' .. s, ARGV[1] .. 'os:' .. s)
  redis.call('ZREM', KEYS[1], s)
end
return total
";

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
