//! The shared store for several replicas: every record in Redis with an expiry, single use by
//! `GETDEL` or a Lua script, and delivery between replicas by pub/sub, announced on the channel
//! of the one replica that holds the session ([`super::replica_routes`]), with the frame itself
//! kept in a list until the client acknowledges it, because pub/sub drops what nobody hears and
//! a socket can swallow what was written to it.
//!
//! Records are useless to whoever can read or write Redis without the seal key. Values are
//! sealed (XChaCha20-Poly1305 under `secrets.seal_key`) with associated data naming the record's
//! kind and its key, so a record copied under another key (another session's held grant or
//! parked frames, another state) does not open there: it is refused and counted. Keys of
//! tickets, states and resume secrets, the digests of confirmation codes, and rate-limit
//! subjects (client addresses) are keyed digests (HMAC-SHA256 under a key derived from the seal
//! key), so a dump yields no token, verifier, usable link or address, and codes cannot be
//! searched offline.
//!
//! The connection comes up in the background: start-up with Redis down waits and retries
//! (with back-off, saying so in the log) while `/readyz` answers 503.

use super::redis_connection::RedisConnection;
use super::redis_scripts::{
    ACK_SCRIPT, CONFIRM_SCRIPT, DUE_UNACKED_SCRIPT, FORGET_DUE_SCRIPT, MARK_SENT_SCRIPT,
    REFRESH_LOCATION_SCRIPT, RELEASE_LOCATION_SCRIPT, RELEASE_UNACKED_SCRIPT, SWEEP_SESSION_SCRIPT,
    TAKE_DUE_SIGNIN_SCRIPT,
};
pub use super::redis_target::RedisTarget;
use super::redis_target::describe;
use super::replica_routes::{self, Announcement, Location, ReplicaId};
use super::{
    AwaitedCheck, AwaitedSignin, CompletionReceipt, ConfirmOutcome, HeldGrant, LocationRefresh,
    MAX_UNACKED_PER_SESSION, PendingAuthorization, SigninTicket, StoreError, UnackedFrame,
};
use crate::sealing::{DigestKey, SealingKey};
use crate::secrets::{ConfirmationCode, ResumeSecret, SessionId, SharedRefresh, State, Ticket};
use crate::telemetry::catalog::{self, UnackedEvent};
use redis::{AsyncCommands, PushKind, Script, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// The connections of one Redis (or, with Sentinel, of the current master; or of a Cluster).
struct Connections {
    commands: RedisConnection,
    subscriber: RedisConnection,
    durable: Option<RedisConnection>,
    /// Whether the delivery channel is a sharded one (Cluster with Redis 7: `SPUBLISH`).
    sharded: bool,
}

/// How long a parked result waits for a replica's acknowledgement (Sentinel and Cluster).
const REPLICA_WAIT_MS: u64 = 500;

/// What the store tells the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// A frame was parked for this session, maybe by another replica.
    Parked(SessionId),
    /// The session was resumed on another replica: its connection with this serial here, if
    /// still connected, ends.
    Ended { session: SessionId, connection: u64 },
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
    connection: RwLock<Option<RedisConnection>>,
    /// Subscriptions only; held so its background task lives.
    subscriber: RwLock<Option<RedisConnection>>,
    /// With Sentinel or Cluster: the writes a sign-in depends on (tickets, states, held grants,
    /// parked results), each followed by `WAIT` for a replica. Redis replicates
    /// asynchronously, so a record the old master acknowledged just before dying could be
    /// missing on the promoted replica: a link that no longer works, or a result `/complete`
    /// had reported delivered (seen at 200 concurrent sign-ins through a failover). `WAIT`
    /// blocks its whole connection, hence one of its own. A Cluster's masters fail over to
    /// their replicas the same way, so the same rule holds there; its `WAIT` goes to every
    /// master and counts the fewest replicas that acknowledged.
    durable: RwLock<Option<RedisConnection>>,
    /// Whether the master (in a Cluster: every master) had a replica at the last health check
    /// (from `ROLE`, or `CLUSTER NODES`): without one no failover can take a write back, and
    /// `WAIT` would only time out.
    has_replica: AtomicBool,
    /// Whether deliveries are announced with `SPUBLISH` (sharded pub/sub in a Cluster).
    sharded: AtomicBool,
    /// In a Cluster, which node serves which slots as the last health check saw it.
    topology: RwLock<String>,
    prefix: String,
    sealer: SealingKey,
    /// Keyed digests for keys, codes and rate-limit subjects.
    digests: DigestKey,
    healthy: AtomicBool,
    /// This replica, and the channel other replicas announce its sessions' deliveries on.
    replica: ReplicaId,
    channel: String,
    confirm: Script,
    mark_sent: Script,
    ack: Script,
    release_unacked: Script,
    due_unacked: Script,
    sweep_session: Script,
    forget_due: Script,
    take_due_signin: Script,
    refresh_location: Script,
    release_location: Script,
}

impl RedisStore {
    /// Starts connecting in the background and returns at once.
    pub fn start(
        target: RedisTarget,
        prefix: String,
        sealer: SealingKey,
        events: mpsc::UnboundedSender<StoreEvent>,
    ) -> Arc<Self> {
        let replica = ReplicaId::random();
        let channel = replica_routes::channel(&prefix, &replica);
        log::info!("replica {replica}: deliveries to its sessions are announced on {channel}");
        let store = Arc::new(Self {
            connection: RwLock::new(None),
            subscriber: RwLock::new(None),
            durable: RwLock::new(None),
            has_replica: AtomicBool::new(false),
            sharded: AtomicBool::new(false),
            topology: RwLock::new(String::new()),
            replica,
            channel,
            prefix,
            digests: sealer.digest_key("oauth-broker redis keys v2"),
            sealer,
            healthy: AtomicBool::new(false),
            confirm: Script::new(CONFIRM_SCRIPT),
            mark_sent: Script::new(MARK_SENT_SCRIPT),
            ack: Script::new(ACK_SCRIPT),
            release_unacked: Script::new(RELEASE_UNACKED_SCRIPT),
            due_unacked: Script::new(DUE_UNACKED_SCRIPT),
            sweep_session: Script::new(SWEEP_SESSION_SCRIPT),
            forget_due: Script::new(FORGET_DUE_SCRIPT),
            take_due_signin: Script::new(TAKE_DUE_SIGNIN_SCRIPT),
            refresh_location: Script::new(REFRESH_LOCATION_SCRIPT),
            release_location: Script::new(RELEASE_LOCATION_SCRIPT),
        });
        let background = store.clone();
        actix_rt::spawn(async move { background.run(target, events).await });
        store
    }

    async fn run(self: Arc<Self>, target: RedisTarget, events: mpsc::UnboundedSender<StoreEvent>) {
        let (push_tx, mut push_rx) = mpsc::unbounded_channel();
        let connections = self.connect_with_retries(&target, push_tx.clone()).await;
        self.install(connections);
        self.healthy.store(true, Ordering::SeqCst);
        log::info!("connected to Redis");

        let channel = self.channel.clone();
        let cluster = target.is_cluster();
        let pushes = events.clone();
        actix_rt::spawn(async move {
            while let Some(push) = push_rx.recv().await {
                if let Some(announcement) = heard(&channel, &push) {
                    let _ = pushes.send(match announcement {
                        Announcement::Parked(session) => {
                            catalog::delivery_announcement_received();
                            StoreEvent::Parked(session)
                        }
                        Announcement::Ended {
                            session,
                            connection,
                        } => StoreEvent::Ended {
                            session,
                            connection,
                        },
                    });
                } else if cluster && subscribed_again(&channel, &push) {
                    // A Cluster's connection subscribed again after a reconnect (maybe on
                    // another node, after a failover): what was announced meanwhile went
                    // unheard, and the health check may never have failed, so look now. One
                    // Redis (or Sentinel's master) is only resubscribed to after an outage the
                    // health check saw, which already says so; doing it there too was seen to
                    // break the Sentinel failover test (not understood yet), so it is not done.
                    let _ = pushes.send(StoreEvent::Reconnected);
                } else if push.kind == PushKind::Disconnection {
                    log::warn!("lost the Redis connection; reconnecting")
                }
            }
        });

        // Health: a PING a second (with Sentinel, ROLE: a demoted master still answers PING;
        // in a Cluster, PING to every master and the cluster's own state).
        // After an outage the hub looks for frames parked meanwhile, since their
        // notifications may have gone unheard. With Sentinel, two failed checks in a row mean
        // a failover: ask the sentinels for the master again and reconnect there. In a Cluster
        // too, start again from the seed nodes: after a master died the cluster client was
        // seen (redis-rs 1.8) to keep failing its checks after the replica had taken over.
        let mut tick = actix_rt::time::interval(Duration::from_secs(1));
        let mut was_healthy = true;
        let mut failed_checks = 0u32;
        let mut connected_topology = String::new();
        loop {
            tick.tick().await;
            let mut healthy = self.check(&target).await;
            failed_checks = if healthy { 0 } else { failed_checks + 1 };
            if failed_checks >= 2 && (target.follows_sentinel() || target.is_cluster()) {
                healthy = self.follow_failover(&target, &push_tx).await;
                if healthy && target.is_cluster() {
                    healthy = self.check(&target).await;
                    connected_topology = String::new();
                }
                if healthy {
                    failed_checks = 0;
                }
            }
            if healthy && target.is_cluster() {
                healthy = self
                    .follow_cluster(&target, &push_tx, &mut connected_topology)
                    .await;
            }
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
        target: &RedisTarget,
        push_tx: mpsc::UnboundedSender<redis::PushInfo>,
    ) -> Connections {
        let mut delay = Duration::from_millis(250);
        let mut attempt = 1u32;
        loop {
            match self.connect(target, push_tx.clone()).await {
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
        target: &RedisTarget,
        push_tx: mpsc::UnboundedSender<redis::PushInfo>,
    ) -> redis::RedisResult<Connections> {
        let connector = target.connector().await?;
        let commands = connector.open(None).await?;
        let mut subscriber = connector.open(Some(push_tx)).await?;
        let sharded = self.subscribe(&mut subscriber).await?;
        let durable = if target.follows_sentinel() || target.is_cluster() {
            Some(connector.open(None).await?)
        } else {
            None
        };
        Ok(Connections {
            commands,
            subscriber,
            durable,
            sharded,
        })
    }

    /// Listens on this replica's own channel (the connection subscribes again after a
    /// reconnect); says whether the channel is sharded (`SSUBSCRIBE` in a Cluster).
    async fn subscribe(&self, subscriber: &mut RedisConnection) -> redis::RedisResult<bool> {
        subscriber.subscribe(&self.channel).await
    }

    /// Tells one replica something about a session it holds. At most once: what it is told
    /// about is in Redis already, and a resume finds it there.
    async fn announce(
        &self,
        conn: &mut RedisConnection,
        to: &ReplicaId,
        announcement: &Announcement,
    ) {
        // Every replica of a deployment sees the same Redis, so subscribes the same way.
        let publish = if self.sharded.load(Ordering::SeqCst) {
            "SPUBLISH"
        } else {
            "PUBLISH"
        };
        let published = redis::cmd(publish)
            .arg(replica_routes::channel(&self.prefix, to))
            .arg(announcement.encode())
            .query_async::<i64>(conn)
            .await;
        if let Err(e) = published {
            log::debug!("an announcement went unsent: {}", describe(&e));
        }
    }

    fn install(&self, connections: Connections) {
        *self.connection.write().unwrap_or_else(|p| p.into_inner()) = Some(connections.commands);
        *self.subscriber.write().unwrap_or_else(|p| p.into_inner()) = Some(connections.subscriber);
        *self.durable.write().unwrap_or_else(|p| p.into_inner()) = connections.durable;
        self.sharded.store(connections.sharded, Ordering::SeqCst);
        // What the last check saw was another master's replicas (after a failover, the new
        // master usually has none yet): writes ask `ROLE` until the next check says. A stale
        // yes sends every write's `WAIT` to a master with nobody to acknowledge it, and since
        // `WAIT` blocks the connection it is sent on, the writes queue behind one another.
        self.has_replica.store(false, Ordering::SeqCst);
    }

    /// The connection for a write a sign-in depends on, and whether it must then wait for a
    /// replica, if the master has one ([`RedisStore::replicated`]).
    fn writer(&self) -> Result<(RedisConnection, bool), StoreError> {
        match self
            .durable
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            Some(durable) => Ok((durable, true)),
            None => Ok((self.manager()?, false)),
        }
    }

    /// Done once a replica has the writes made on `conn` (Sentinel and Cluster): acknowledged then
    /// means it survives a failover. Without one in time, the caller answers `unavailable`
    /// (and the person tries again) rather than promise what a failover could take back.
    ///
    /// The health check's last `ROLE` may predate a replica that attached since (one that was
    /// still syncing when this replica started: writes of the first second went unwaited, and
    /// a master killed then took back results `/complete` had reported delivered). So where it
    /// saw none, `ROLE` is asked again after the write: a replica listed then has the write
    /// once `WAIT` says so, and one attaching later gets it in its first sync.
    async fn replicated(&self, conn: &mut RedisConnection, wait: bool) -> Result<(), StoreError> {
        if !wait {
            return Ok(());
        }
        if !self.has_replica.load(Ordering::SeqCst) {
            // In a Cluster, `CLUSTER NODES` says whether every master has a replica.
            let replicas = if conn.is_cluster() {
                let nodes: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query_async(&mut *conn)
                    .await
                    .map_err(unavailable)?;
                every_master_has_a_replica(&nodes)
            } else {
                let role: Vec<Value> = redis::cmd("ROLE")
                    .query_async(&mut *conn)
                    .await
                    .map_err(unavailable)?;
                lists_replicas(&role)
            };
            self.has_replica.store(replicas, Ordering::SeqCst);
            if !replicas {
                return Ok(());
            }
        }
        let replicas: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(REPLICA_WAIT_MS)
            .query_async(conn)
            .await
            .map_err(unavailable)?;
        if replicas < 1 {
            // Ask `ROLE` again before the next write rather than queue more `WAIT`s behind
            // this one on a master whose replica has gone.
            self.has_replica.store(false, Ordering::SeqCst);
            log::warn!("no Redis replica acknowledged a write within {REPLICA_WAIT_MS} ms");
            return Err(StoreError::Unavailable);
        }
        Ok(())
    }

    fn manager(&self) -> Result<RedisConnection, StoreError> {
        self.connection
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(StoreError::Unavailable)
    }

    /// Whether Redis answers within a second (with Sentinel: and still is the master; in a
    /// Cluster: every master answers and the cluster says its state is ok).
    async fn check(&self, target: &RedisTarget) -> bool {
        let Ok(mut conn) = self.manager() else {
            return false;
        };
        let check = async {
            if target.is_cluster() {
                self.check_cluster(&mut conn).await
            } else if target.follows_sentinel() {
                self.check_master(&mut conn).await
            } else {
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            }
        };
        actix_rt::time::timeout(Duration::from_secs(1), check)
            .await
            .unwrap_or(false)
    }

    async fn check_master(&self, conn: &mut RedisConnection) -> bool {
        let Ok(reply) = redis::cmd("ROLE").query_async::<Vec<Value>>(conn).await else {
            return false;
        };
        self.has_replica
            .store(lists_replicas(&reply), Ordering::SeqCst);
        matches!(reply.first(), Some(Value::BulkString(r)) if r.as_slice() == b"master")
    }

    /// The cluster client sends `PING` to every master it is connected to, so one frozen master
    /// (whose slots nobody serves until a failover) makes the check fail at once, long before
    /// the cluster itself notices (`cluster-node-timeout`, 15 s by default). A master that is
    /// gone is left out of that `PING` (redis-rs 1.8 skips nodes it is reconnecting to), but the
    /// other nodes see its link drop at once, and `CLUSTER NODES` says so.
    async fn check_cluster(&self, conn: &mut RedisConnection) -> bool {
        if redis::cmd("PING")
            .query_async::<Value>(&mut *conn)
            .await
            .is_err()
        {
            return false;
        }
        let Ok(info) = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async::<String>(&mut *conn)
            .await
        else {
            return false;
        };
        if !info.lines().any(|line| line.trim() == "cluster_state:ok") {
            return false;
        }
        let Ok(nodes) = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async::<String>(&mut *conn)
            .await
        else {
            return false;
        };
        self.has_replica
            .store(every_master_has_a_replica(&nodes), Ordering::SeqCst);
        *self.topology.write().unwrap_or_else(|p| p.into_inner()) = slot_owners(&nodes);
        every_serving_master_is_up(&nodes)
    }

    /// Keeps up with a Cluster whose slots changed hands (a failover, a resharding) since the
    /// connections were made, by making them again from the seed nodes: the cluster client was
    /// seen (redis-rs 1.8) to keep sending a promoted replica's slots to the dead master, each
    /// request timing out, while every check passed. And subscribes again where the channel
    /// lives now if nobody listens to it. Returns whether the cluster is healthy after that.
    async fn follow_cluster(
        &self,
        target: &RedisTarget,
        push_tx: &mpsc::UnboundedSender<redis::PushInfo>,
        connected_topology: &mut String,
    ) -> bool {
        let seen = || {
            self.topology
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        };
        let now = seen();
        if connected_topology.is_empty() {
            *connected_topology = now;
        } else if now != *connected_topology {
            log::info!("the Redis Cluster's slots moved: connecting again");
            let healthy = self.follow_failover(target, push_tx).await && self.check(target).await;
            *connected_topology = if healthy { seen() } else { String::new() };
            if !healthy {
                return false;
            }
        }
        if !self.still_subscribed().await {
            self.renew_subscription(target, push_tx).await;
        }
        true
    }

    /// Whether some node still has this replica's subscription (Cluster only). When the slot of
    /// the channel moves (a failover, a resharding) the cluster client subscribes again only
    /// once it notices, and an idle subscriber connection was seen (redis-rs 1.8) not to notice
    /// at all: announcements then go to a node where nobody listens. An error says nothing.
    async fn still_subscribed(&self) -> bool {
        let Ok(mut conn) = self.manager() else {
            return true;
        };
        let count = if self.sharded.load(Ordering::SeqCst) {
            "SHARDNUMSUB"
        } else {
            "NUMSUB"
        };
        let mut numsub = redis::cmd("PUBSUB");
        numsub.arg(count).arg(&self.channel);
        let asked = numsub.query_async::<std::collections::HashMap<String, i64>>(&mut conn);
        match actix_rt::time::timeout(Duration::from_secs(1), asked).await {
            Ok(Ok(counts)) => counts.get(&self.channel).copied().unwrap_or(0) > 0,
            _ => true,
        }
    }

    /// A new subscriber connection, from the cluster as its seed nodes describe it now; its
    /// subscription's confirmation has the hub look for frames announced while nobody listened.
    async fn renew_subscription(
        &self,
        target: &RedisTarget,
        push_tx: &mpsc::UnboundedSender<redis::PushInfo>,
    ) {
        let renew = async {
            let mut subscriber = target
                .connector()
                .await?
                .open(Some(push_tx.clone()))
                .await?;
            self.subscribe(&mut subscriber).await?;
            redis::RedisResult::Ok(subscriber)
        };
        match actix_rt::time::timeout(Duration::from_secs(3), renew).await {
            Ok(Ok(subscriber)) => {
                log::info!("subscribed again to {}: its slot had moved", self.channel);
                *self.subscriber.write().unwrap_or_else(|p| p.into_inner()) = Some(subscriber);
            }
            Ok(Err(e)) => log::warn!("could not subscribe again: {}", describe(&e)),
            Err(_) => log::warn!("could not subscribe again within 3 s"),
        }
    }

    /// Reconnects to whatever master the sentinels name now (in a Cluster: to the cluster as its
    /// seed nodes describe it now), within a bounded time.
    async fn follow_failover(
        &self,
        target: &RedisTarget,
        push_tx: &mpsc::UnboundedSender<redis::PushInfo>,
    ) -> bool {
        let connect = self.connect(target, push_tx.clone());
        match actix_rt::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok(connections)) => {
                self.install(connections);
                if target.is_cluster() {
                    log::info!("connected to the Redis Cluster again, from its seed nodes");
                } else {
                    log::info!("Redis failed over: connected to the master the sentinels name now");
                }
                true
            }
            Ok(Err(e)) => {
                log::warn!(
                    "the master is unreachable and no other is named yet: {}",
                    describe(&e)
                );
                false
            }
            Err(_) => false,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    fn key(&self, kind: &str, secret: &str) -> String {
        let digest = self.digests.hex(&[kind.as_bytes(), secret.as_bytes()], 20);
        format!("{}{kind}:{digest}", self.prefix)
    }

    /// A key of one session's records: the session ID is the key's hash tag, so in a Cluster
    /// all of a session's keys share one slot and each atomic step over them (a `MULTI`, a
    /// script) is legal.
    fn session_key(&self, kind: &str, session: &SessionId) -> String {
        session_key(&self.prefix, kind, session)
    }

    /// A typed code is compared by keyed digest inside Redis, bound to its session, so the
    /// code itself is never stored and a dump cannot be searched for it offline.
    fn code_digest(&self, session: &SessionId, code: &str) -> String {
        self.digests
            .hex(&[b"code", session.expose().as_bytes(), code.as_bytes()], 32)
    }

    fn seal<T: serde::Serialize>(&self, kind: &str, key: &str, value: &T) -> Vec<u8> {
        let json = serde_json::to_vec(value).expect("records serialise");
        self.sealer.seal(context(kind, key).as_bytes(), &json)
    }

    fn open<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        key: &str,
        sealed: &[u8],
    ) -> Option<T> {
        let plain = self.open_bytes(kind, key, sealed)?;
        serde_json::from_slice(&plain).ok()
    }

    /// A record that does not open under its own key was sealed for another one (copied there
    /// by someone who can write to Redis) or with another seal key: refused, and counted.
    fn open_bytes(&self, kind: &str, key: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        match self.sealer.open(context(kind, key).as_bytes(), sealed) {
            Ok(plain) => Some(plain),
            Err(_) => {
                log::warn!("a {kind} record in Redis did not open under its key: refused");
                catalog::rejected("store_record_unopenable");
                None
            }
        }
    }

    async fn put<T: serde::Serialize>(
        &self,
        kind: &str,
        key: String,
        value: &T,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        let (mut conn, wait) = self.writer()?;
        let sealed = self.seal(kind, &key, value);
        conn.set_ex::<_, _, ()>(key, sealed, ttl_secs.max(1))
            .await
            .map_err(unavailable)?;
        self.replicated(&mut conn, wait).await
    }

    async fn take<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        key: String,
    ) -> Result<Option<T>, StoreError> {
        let mut conn = self.manager()?;
        let sealed: Option<Vec<u8>> = conn.get_del(&key).await.map_err(unavailable)?;
        Ok(sealed.and_then(|s| self.open(kind, &key, &s)))
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
        let (mut conn, wait) = self.writer()?;
        let key = self.session_key("h", session);
        let code_hash = self.code_digest(session, grant.code.expose());
        let sealed = self.seal("held", &key, grant);
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
            .map_err(unavailable)?;
        self.replicated(&mut conn, wait).await
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
        let typed = self.code_digest(session, &super::normalise_code(typed));
        let key = self.session_key("h", session);
        let reply: (i64, Value) = self
            .confirm
            .key(&key)
            .arg(typed)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match reply {
            (1, Value::BulkString(sealed)) => match self.open::<HeldGrant>("held", &key, &sealed) {
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
        let key = self.key("r", secret.expose());
        let sealed = self.seal("resume", &key, session);
        conn.set_ex::<_, _, ()>(key, sealed, ttl.max(1))
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
        let key = self.key("r", secret.expose());
        let sealed: Option<Vec<u8>> = conn.get_del(&key).await.map_err(unavailable)?;
        Ok(sealed.and_then(|s| self.open::<SessionId>("resume", &key, &s)))
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

    /// Keeps the frame until it is acknowledged, then tells the replica holding the session, if
    /// that is another one (this replica's hub writes to its own connections itself, and no
    /// replica is told about a session that is not connected). Entries are `id:sealed frame`,
    /// so an ack finds its entry by the `id` without opening any.
    pub async fn keep_unacked(
        &self,
        session: &SessionId,
        id: &str,
        frame: &str,
        ttl: u64,
    ) -> Result<(), StoreError> {
        let (mut conn, wait) = self.writer()?;
        let (list, sent) = self.unacked_keys(session);
        let mut entry = format!("{id}:").into_bytes();
        entry.extend(
            self.sealer
                .seal(context("frame", &list).as_bytes(), frame.as_bytes()),
        );
        let max = MAX_UNACKED_PER_SESSION as isize;
        let (length, location): (usize, Option<String>) = redis::pipe()
            .atomic()
            .rpush(&list, entry)
            .ltrim(&list, -max, -1)
            .ignore()
            .expire(&list, expiry_secs(ttl))
            .ignore()
            .expire(&sent, expiry_secs(ttl))
            .ignore()
            .get(self.location_key(session))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        catalog::unacked_frames(
            UnackedEvent::Dropped,
            length.saturating_sub(MAX_UNACKED_PER_SESSION) as u64,
        );
        self.replicated(&mut conn, wait).await?;
        // Announced once a failover can no longer take the frame back.
        if let Some(there) = location.as_deref().and_then(Location::parse)
            && there.replica != self.replica
        {
            let parked = Announcement::Parked(session.clone());
            self.announce(&mut conn, &there.replica, &parked).await;
        }
        Ok(())
    }

    /// Records that the session is connected here, on `connection`, for `ttl` seconds, and ends
    /// its older connection if that is on another replica (one here is this replica's hub's to
    /// end).
    pub async fn claim_location(
        &self,
        session: &SessionId,
        connection: u64,
        ttl: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        let here = Location {
            replica: self.replica.clone(),
            connection,
        };
        let before: Option<String> = redis::cmd("SET")
            .arg(self.location_key(session))
            .arg(here.encode())
            .arg("EX")
            .arg(expiry_secs(ttl))
            .arg("GET")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if let Some(before) = before.as_deref().and_then(Location::parse)
            && before.replica != self.replica
        {
            let ended = Announcement::Ended {
                session: session.clone(),
                connection: before.connection,
            };
            self.announce(&mut conn, &before.replica, &ended).await;
        }
        Ok(())
    }

    /// Keeps the record naming this connection alive, or restores it; says whether it names
    /// another one (the session was resumed elsewhere and the message saying so went unheard).
    pub async fn refresh_location(
        &self,
        session: &SessionId,
        connection: u64,
        ttl: u64,
    ) -> Result<LocationRefresh, StoreError> {
        let mut conn = self.manager()?;
        let here = Location {
            replica: self.replica.clone(),
            connection,
        };
        let kept: i64 = self
            .refresh_location
            .key(self.location_key(session))
            .arg(here.encode())
            .arg(expiry_secs(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match kept {
            1 => LocationRefresh::Kept,
            2 => LocationRefresh::Restored,
            _ => LocationRefresh::Elsewhere,
        })
    }

    /// The connection ended: no replica holds the session any more, unless a newer connection
    /// recorded itself meanwhile.
    pub async fn release_location(
        &self,
        session: &SessionId,
        connection: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        let here = Location {
            replica: self.replica.clone(),
            connection,
        };
        self.release_location
            .key(self.location_key(session))
            .arg(here.encode())
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
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
                let plain = self.open_bytes("frame", &list, &entry[colon + 1..])?;
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
    /// replica counts them as expired (exactly once: each session is swept by one script). The
    /// deadline is kept beside the session's keys, in their slot; the deadlines index only
    /// tells the sweep where to look.
    pub async fn release_unacked(&self, session: &SessionId, grace: u64) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        let (list, sent) = self.unacked_keys(session);
        let due: Option<i64> = self
            .release_unacked
            .key(list)
            .key(sent)
            .key(self.unacked_deadline(session))
            .arg(grace)
            .arg(UNACKED_SLACK_SECS)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if let Some(due) = due {
            conn.zadd::<_, _, _, ()>(self.unacked_deadlines(), session.expose(), due)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    pub async fn claim_unacked(&self, session: &SessionId, ttl: u64) -> Result<(), StoreError> {
        let (mut conn, wait) = self.writer()?;
        let (list, sent) = self.unacked_keys(session);
        redis::pipe()
            .atomic()
            .del(self.unacked_deadline(session))
            .ignore()
            .expire(&list, expiry_secs(ttl))
            .ignore()
            .expire(&sent, expiry_secs(ttl))
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        // The deadline above is what counts; this only spares the sweep a look.
        conn.zrem::<_, _, ()>(self.unacked_deadlines(), session.expose())
            .await
            .map_err(unavailable)?;
        self.replicated(&mut conn, wait).await
    }

    async fn sweep_expired_unacked(&self) {
        let Ok(mut conn) = self.manager() else {
            return;
        };
        let sweep = async {
            // [session, deadline, session, deadline, ...], the deadlines as Redis wrote them.
            let due: Vec<String> = self
                .due_unacked
                .key(self.unacked_deadlines())
                .invoke_async(&mut conn)
                .await?;
            let mut expired = 0u64;
            for pair in due.chunks_exact(2) {
                let session = SessionId::new(pair[0].clone());
                let (list, sent) = self.unacked_keys(&session);
                let swept: i64 = self
                    .sweep_session
                    .key(list)
                    .key(sent)
                    .key(self.unacked_deadline(&session))
                    .invoke_async(&mut conn)
                    .await?;
                // -2: released again with a later deadline (the index has it already).
                if swept != -2 {
                    self.forget_due
                        .key(self.unacked_deadlines())
                        .arg(&pair[0])
                        .arg(&pair[1])
                        .invoke_async::<()>(&mut conn)
                        .await?;
                }
                expired += u64::try_from(swept).unwrap_or(0);
            }
            redis::RedisResult::Ok(expired)
        };
        match actix_rt::time::timeout(Duration::from_secs(1), sweep).await {
            Ok(Ok(expired)) => catalog::unacked_frames(UnackedEvent::Expired, expired),
            Ok(Err(e)) => log::debug!("sweeping expired frames failed: {}", describe(&e)),
            Err(_) => log::debug!("sweeping expired frames took over a second"),
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
        let key = format!("{}rr:{digest}", self.prefix);
        let sealed: Option<Vec<u8>> = conn.get(&key).await.map_err(unavailable)?;
        Ok(sealed.and_then(|s| self.open::<SharedRefresh>("refresh", &key, &s)))
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

    /// One hash per session: the due time in the clear (the script compares it with the
    /// caller's clock), the record sealed to the key.
    pub async fn await_signin(
        &self,
        session: &SessionId,
        awaited: &AwaitedSignin,
        ttl: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        let key = self.session_key("w", session);
        let sealed = self.seal("awaited", &key, awaited);
        redis::pipe()
            .atomic()
            .del(&key)
            .hset_multiple(
                &key,
                &[
                    ("d", awaited.due_millis.to_string().into_bytes()),
                    ("v", sealed),
                ],
            )
            .expire(&key, expiry_secs(ttl))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    pub async fn take_due_signin(
        &self,
        session: &SessionId,
        now_millis: u64,
    ) -> Result<AwaitedCheck, StoreError> {
        let mut conn = self.manager()?;
        let key = self.session_key("w", session);
        let reply: (i64, Value) = self
            .take_due_signin
            .key(&key)
            .arg(now_millis)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match reply {
            (1, Value::Int(due)) => AwaitedCheck::Until(due.max(0) as u64),
            (2, Value::BulkString(sealed)) => {
                match self.open::<AwaitedSignin>("awaited", &key, &sealed) {
                    Some(awaited) => AwaitedCheck::Due(awaited),
                    None => AwaitedCheck::Nothing,
                }
            }
            _ => AwaitedCheck::Nothing,
        })
    }

    pub async fn end_awaited_signin(&self, session: &SessionId) -> Result<(), StoreError> {
        let mut conn = self.manager()?;
        conn.del::<_, ()>(self.session_key("w", session))
            .await
            .map_err(unavailable)
    }

    /// Keyed by the `state`'s digest and sealed to that key like a pending authorization: the
    /// code it holds never lies in Redis in the clear.
    pub async fn keep_receipt(
        &self,
        state: &State,
        receipt: &CompletionReceipt,
        ttl: u64,
    ) -> Result<(), StoreError> {
        self.put("receipt", self.key("c", state.expose()), receipt, ttl)
            .await
    }

    pub async fn receipt(&self, state: &State) -> Result<Option<CompletionReceipt>, StoreError> {
        let mut conn = self.manager()?;
        let key = self.key("c", state.expose());
        let sealed: Option<Vec<u8>> = conn.get(&key).await.map_err(unavailable)?;
        Ok(sealed.and_then(|s| self.open("receipt", &key, &s)))
    }

    /// Compares digests, as `confirm` does, without touching the attempts.
    pub async fn holds_code(
        &self,
        session: &SessionId,
        code: &ConfirmationCode,
    ) -> Result<bool, StoreError> {
        let mut conn = self.manager()?;
        let held: Option<String> = conn
            .hget(self.session_key("h", session), "c")
            .await
            .map_err(unavailable)?;
        let expected = self.code_digest(session, &super::normalise_code(code.expose()));
        Ok(held.is_some_and(|held| {
            use subtle::ConstantTimeEq;
            bool::from(held.as_bytes().ct_eq(expected.as_bytes()))
        }))
    }

    fn unacked_keys(&self, session: &SessionId) -> (String, String) {
        (
            self.session_key("o", session),
            self.session_key("os", session),
        )
    }

    /// When a dropped session's grace ends (in its slot, beside its frames).
    fn unacked_deadline(&self, session: &SessionId) -> String {
        self.session_key("od", session)
    }

    /// One of the session's keys, so it shares the session's slot under Redis Cluster.
    fn location_key(&self, session: &SessionId) -> String {
        self.session_key("at", session)
    }

    fn unacked_deadlines(&self) -> String {
        format!("{}od", self.prefix)
    }
}

fn session_key(prefix: &str, kind: &str, session: &SessionId) -> String {
    format!("{prefix}{kind}:{{{}}}", session.expose())
}

/// From `CLUSTER NODES`: each master that serves slots, with its address and slots, sorted
/// (what changes when slots change hands, and nothing else).
fn slot_owners(nodes: &str) -> String {
    let mut owners: Vec<String> = nodes
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 8 && f[2].split(',').any(|flag| flag == "master"))
        .map(|f| format!("{} {}", f[1], f[8..].join(" ")))
        .collect();
    owners.sort();
    owners.join("\n")
}

/// From `CLUSTER NODES`: whether every master that serves slots is linked to the node asked
/// (or is that node) and not suspected of failing.
fn every_serving_master_is_up(nodes: &str) -> bool {
    nodes
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 8 && f[2].split(',').any(|flag| flag == "master"))
        .all(|f| {
            let myself = f[2].split(',').any(|flag| flag == "myself");
            let failing = f[2]
                .split(',')
                .any(|flag| flag == "fail" || flag == "fail?");
            !failing && (myself || f[7] == "connected")
        })
}

/// From `CLUSTER NODES`: whether every master that serves slots has a replica that is not
/// failing (a line per node: id, address, flags, the master's id for a replica, ..., slots).
fn every_master_has_a_replica(nodes: &str) -> bool {
    let lines: Vec<Vec<&str>> = nodes
        .lines()
        .map(|line| line.split_whitespace().collect())
        .filter(|fields: &Vec<&str>| fields.len() >= 8)
        .collect();
    let failing = |flags: &str| flags.split(',').any(|f| f == "fail" || f == "fail?");
    let masters = lines
        .iter()
        .filter(|f| f[2].split(',').any(|flag| flag == "master") && f.len() > 8);
    let mut any = false;
    for master in masters {
        any = true;
        let has_replica = lines.iter().any(|f| {
            f[2].split(',').any(|flag| flag == "slave") && !failing(f[2]) && f[3] == master[0]
        });
        if !has_replica {
            return false;
        }
    }
    any
}

/// Whether the push confirms a subscription to this replica's channel: the first one at start,
/// then one after every reconnect.
fn subscribed_again(channel: &str, push: &redis::PushInfo) -> bool {
    matches!(push.kind, PushKind::Subscribe | PushKind::SSubscribe)
        && matches!(push.data.first(), Some(Value::BulkString(c)) if c.as_slice() == channel.as_bytes())
}

/// Whether a master's `ROLE` reply lists a replica: `["master", offset, [[ip, port, offset],
/// ...]]`.
fn lists_replicas(role: &[Value]) -> bool {
    matches!(role.get(2), Some(Value::Array(r)) if !r.is_empty())
}

/// What this replica was told on its own channel, if the push is that.
fn heard(channel: &str, push: &redis::PushInfo) -> Option<Announcement> {
    // `smessage` when the channel is sharded (Cluster, `SSUBSCRIBE`).
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) {
        return None;
    }
    // [channel, payload]
    match (push.data.first(), push.data.get(1)) {
        (Some(Value::BulkString(heard_on)), Some(Value::BulkString(payload)))
            if heard_on.as_slice() == channel.as_bytes() =>
        {
            Announcement::parse(payload)
        }
        _ => None,
    }
}

/// The associated data of a sealed record: what it is and where it belongs.
fn context(kind: &str, key: &str) -> String {
    format!("oauth-broker redis record v2 {kind} {key}")
}

fn unavailable(e: redis::RedisError) -> StoreError {
    log::debug!("Redis command failed: {}", describe(&e));
    StoreError::Unavailable
}

/// A TTL as Redis's `EXPIRE` takes it: at least 1 (0 would delete the key at once) and at
/// most `i64::MAX` (a larger `u64` would wrap into a negative, deleting it too).
fn expiry_secs(ttl: u64) -> i64 {
    i64::try_from(ttl.max(1)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::cluster_routing::Slot;

    /// Every group of keys one atomic step touches (a `MULTI`, a script, a pipeline), as the
    /// store names them: in a Cluster each group must map to one hash slot.
    fn atomic_key_groups(session: &SessionId) -> Vec<Vec<String>> {
        let key = |kind| session_key("oauth-broker:", kind, session);
        vec![
            // keep_unacked, unacked, mark_sent, ack
            vec![key("o"), key("os")],
            // release_unacked, claim_unacked, the sweep of one session
            vec![key("o"), key("os"), key("od")],
            // hold_grant, confirm
            vec![key("h")],
        ]
    }

    #[test]
    fn each_atomic_step_touches_one_hash_slot() {
        for i in 0..200 {
            let session = SessionId::new(format!("session{i}-Ab3_x"));
            for group in atomic_key_groups(&session) {
                let slot = Slot::for_key(&group[0]);
                for key in &group {
                    assert_eq!(Slot::for_key(key), slot, "{key} vs {}", group[0]);
                }
            }
        }
    }

    #[test]
    fn sessions_spread_over_the_slots() {
        let slots: std::collections::HashSet<_> = (0..200)
            .map(|i| Slot::for_key(session_key("p:", "o", &SessionId::new(format!("s{i}")))))
            .collect();
        assert!(slots.len() > 150, "only {} slots", slots.len());
    }

    #[test]
    fn a_cluster_is_durable_only_when_every_master_has_a_live_replica() {
        let two_masters_two_replicas = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-8191
b1 127.0.0.1:7001@17001 master - 0 0 2 connected 8192-16383
a2 127.0.0.1:7002@17002 slave a1 0 0 1 connected
b2 127.0.0.1:7003@17003 slave b1 0 0 2 connected
";
        assert!(every_master_has_a_replica(two_masters_two_replicas));
        let failed = two_masters_two_replicas.replace("slave b1", "slave,fail b1");
        assert!(!every_master_has_a_replica(&failed));
        let no_replicas = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-8191
b1 127.0.0.1:7001@17001 master - 0 0 2 connected 8192-16383
";
        assert!(!every_master_has_a_replica(no_replicas));
    }

    #[test]
    fn a_cluster_is_up_while_every_master_serving_slots_is_linked_and_not_failing() {
        let nodes = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-8191
b1 127.0.0.1:7001@17001 master - 0 0 2 connected 8192-16383
c1 127.0.0.1:7002@17002 master,fail - 0 0 3 disconnected
";
        assert!(
            every_serving_master_is_up(nodes),
            "a failed master without slots"
        );
        let gone = nodes.replace("2 connected 8192", "2 disconnected 8192");
        assert!(!every_serving_master_is_up(&gone));
        let suspected = nodes.replace(
            "b1 127.0.0.1:7001@17001 master",
            "b1 127.0.0.1:7001@17001 master,fail?",
        );
        assert!(!every_serving_master_is_up(&suspected));
    }
}
