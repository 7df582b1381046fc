//! One connection type for the store, whether Redis is one server (plain, TLS, or the master
//! Sentinel names) or a Cluster, so the store has one code path: every command, pipeline and
//! script goes through [`RedisConnection`], which the cluster client routes by key slot.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// A connection to one Redis (a connection manager, which reconnects by itself) or to a
/// Cluster (one multiplexed connection per node, reconnected and resubscribed by the crate).
#[derive(Clone)]
pub(super) enum RedisConnection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl RedisConnection {
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Subscribes to `channel`: in a Cluster that has sharded pub/sub (Redis 7), with
    /// `SSUBSCRIBE`, so a message travels only within the shard that owns the channel's slot
    /// instead of over the whole cluster bus. Returns whether the subscription is sharded (then
    /// publish with `SPUBLISH`). Both connection kinds subscribe again after a reconnect.
    pub(super) async fn subscribe(&mut self, channel: &str) -> RedisResult<bool> {
        match self {
            Self::Single(manager) => manager.subscribe(channel).await.map(|()| false),
            Self::Cluster(cluster) => match cluster.ssubscribe(channel).await {
                Ok(()) => Ok(true),
                Err(e)
                    if e.kind()
                        == redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError) =>
                {
                    log::info!(
                        "the Redis Cluster has no sharded pub/sub (Redis < 7): using SUBSCRIBE"
                    );
                    cluster.subscribe(channel).await.map(|()| false)
                }
                Err(e) => Err(e),
            },
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}
