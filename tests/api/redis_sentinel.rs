//! Replicas over a Sentinel-managed Redis: the master is asked of the sentinels, and when it
//! dies in the middle of sign-ins the replicas follow the failover. Every completed sign-in
//! reaches exactly its own session; the rest fail with `unavailable` and succeed on retry.

use crate::helpers::cluster::Cluster;
use crate::helpers::processes::{RedisServer, free_port, http_status, wait_until};
use std::time::Duration;

const MASTER: &str = "mymaster";

/// A master, one replica of it, and three sentinels (quorum 2) that fail over after 1 s down.
struct SentinelRedis {
    master: Option<RedisServer>,
    _replica: RedisServer,
    sentinels: Vec<(u16, RedisServer)>,
}

impl SentinelRedis {
    fn start() -> SentinelRedis {
        let master = RedisServer::start();
        let master_port = master
            .url()
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        let replica_port = free_port();
        let replica = RedisServer::start_with(
            replica_port,
            format!("redis://127.0.0.1:{replica_port}/"),
            |_| {
                vec![
                    "--port".into(),
                    replica_port.to_string(),
                    "--replicaof".into(),
                    "127.0.0.1".into(),
                    master_port.clone(),
                ]
            },
        );
        let sentinels = (0..3)
            .map(|_| {
                let port = free_port();
                let master_port = master_port.clone();
                let server =
                    RedisServer::start_raw(port, format!("redis://127.0.0.1:{port}/"), |dir| {
                        let conf = dir.join("sentinel.conf");
                        std::fs::write(
                            &conf,
                            format!(
                                "port {port}\nbind 127.0.0.1\ndir {}\n\
                             sentinel monitor {MASTER} 127.0.0.1 {master_port} 2\n\
                             sentinel down-after-milliseconds {MASTER} 1000\n\
                             sentinel failover-timeout {MASTER} 3000\n",
                                dir.display()
                            ),
                        )
                        .unwrap();
                        vec![conf.to_str().unwrap().to_owned(), "--sentinel".into()]
                    });
                (port, server)
            })
            .collect::<Vec<_>>();
        let redis = SentinelRedis {
            master: Some(master),
            _replica: replica,
            sentinels,
        };
        // A sentinel learns of the replica from the master's INFO; only then can it fail over.
        wait_until("the sentinels know the replica", || {
            redis.sentinels.iter().all(|(port, _)| {
                let replicas = std::process::Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "sentinel", "replicas", MASTER])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                replicas.contains(&replica_port.to_string())
            })
        });
        // And the replica has finished its first sync: until then the master lists no replica,
        // the brokers (rightly) write without `WAIT`, and a master killed in that second takes
        // back results it had acknowledged (seen as a sign-in reported completed whose token
        // never arrived).
        wait_until("the replica is online", || {
            let info = std::process::Command::new("redis-cli")
                .args(["-p", &master_port, "info", "replication"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            info.contains("connected_slaves:1") && info.contains("state=online")
        });
        redis
    }

    fn addresses(&self) -> String {
        self.sentinels
            .iter()
            .map(|(port, _)| format!("127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn kill_master(&mut self) {
        drop(self.master.take());
    }
}

#[actix_web::test]
async fn a_sentinel_failover_during_sign_ins_loses_or_crosses_none() {
    let mut redis = SentinelRedis::start();
    let mut cluster = Cluster::new(false);
    cluster.env.insert(
        "BROKER__STORE__REDIS_URL".into(),
        "redis://127.0.0.1/0".into(),
    );
    cluster
        .env
        .insert("BROKER__STORE__SENTINELS".into(), redis.addresses());
    cluster.without_client_limits();
    let (a, b) = (cluster.replica(), cluster.replica());

    let before = cluster.sign_in_with_retries(&a, &b, "before").await;
    assert_eq!(before.0, "at-before");

    let killer = async {
        actix_rt::time::sleep(Duration::from_millis(400)).await;
        redis.kill_master();
    };
    let tries = cluster
        .concurrent_sign_ins((&a, &b), (200, 4), "during", false, killer)
        .await;
    let retried = tries.iter().filter(|t| **t > 1).count();
    eprintln!("{} sign-ins, {retried} needed a retry", tries.len());

    for replica in [&a, &b] {
        let url = format!("{}/readyz", replica.base);
        wait_until("the replica is ready on the new master", || {
            http_status(&url) == Some(200)
        });
    }
    let after = cluster.sign_in_with_retries(&b, &a, "after").await;
    assert_eq!(after, ("at-after".to_owned(), 1));
}
