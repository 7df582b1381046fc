//! Replicas over a real Redis Cluster (three masters on loopback, found through
//! `store.cluster_nodes`): each session's keys in one slot, so every atomic step is legal there
//! (a cross-slot step would fail with CROSSSLOT and the sign-ins with it); deliveries announced
//! on a sharded channel that survives its connections dropping; readiness that notices one
//! frozen node.

use crate::helpers::cluster::Cluster;
use crate::helpers::processes::{Replica, wait_until};
use crate::helpers::redis_cluster::RedisCluster;
use crate::helpers::tls_redis::{PASSWORD, TlsFiles, USER};
use crate::helpers::{get, http_client};
use crate::replicas::{complete, follow, readyz_turns};
use std::time::Duration;

/// The replicas' own delivery channels (`{prefix}r:{<replica>}`).
const DELIVERY_CHANNELS: &str = "oauth-broker:r:*";

fn cluster_of_three() -> Cluster<RedisCluster> {
    let mut cluster = Cluster::over_cluster(RedisCluster::start(3, 0));
    cluster.without_client_limits();
    cluster
}

#[actix_web::test]
async fn two_hundred_sign_ins_over_a_redis_cluster_each_reach_their_own_session() {
    let cluster = cluster_of_three();
    let (a, b) = (cluster.replica(), cluster.replica());

    // Half start on A and finish on B, half the other way round.
    let tries = cluster
        .concurrent_sign_ins((&a, &b), (200, 3), "sharded", true, async {})
        .await;
    let retried = tries.iter().filter(|t| **t > 1).count();
    eprintln!(
        "{} sign-ins over the cluster, {retried} needed a retry",
        tries.len()
    );
    assert_eq!(retried, 0, "a healthy cluster answered `unavailable`");

    // The sessions' records went to every master, not to one node.
    for (node, keys) in cluster.redis.on_every_node(&["dbsize"]).iter().enumerate() {
        let keys: u64 = keys.trim().parse().unwrap();
        assert!(keys > 0, "node {node} holds no key");
    }
}

#[actix_web::test]
async fn a_resume_on_another_replica_collects_a_frame_parked_in_the_cluster() {
    let cluster = cluster_of_three();
    let (a, b) = (cluster.replica(), cluster.replica());
    let http = http_client();
    let mut ws = cluster.connect(&a).await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    let link = ws.begin("mock").await;
    ws.close().await;

    let state = follow(&http, &b, &link).await;
    let page = complete(&http, &a, "parked", &state).await;
    assert_eq!(page.status, 200, "{}", page.body);

    let mut resumed = cluster.resume(&b, &secret).await;
    assert_eq!(resumed.session(), session);
    let signedin = resumed.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-parked");
    assert!(resumed.try_recv(Duration::from_millis(300)).await.is_none());
}

/// The sharded delivery channels someone listens on, from every node (a sharded channel
/// lives on the node that owns its slot).
fn sharded_channels(redis: &RedisCluster) -> Vec<String> {
    let mut channels: Vec<String> = redis
        .on_every_node(&["pubsub", "shardchannels", DELIVERY_CHANNELS])
        .iter()
        .flat_map(|reply| reply.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| !line.trim().is_empty())
        .collect();
    channels.sort();
    channels
}

#[actix_web::test]
async fn deliveries_go_over_a_sharded_channel_that_survives_its_connections_dropping() {
    let cluster = cluster_of_three();
    let (a, b) = (cluster.replica(), cluster.replica());
    let channels = sharded_channels(&cluster.redis);
    assert_eq!(
        channels.len(),
        2,
        "each replica SSUBSCRIBEd its own: {channels:?}"
    );

    // Every node drops its pub/sub clients, as a node restart or a network cut would.
    for reply in cluster
        .redis
        .on_every_node(&["client", "kill", "type", "pubsub"])
    {
        assert!(reply.trim().parse::<u64>().is_ok(), "{reply}");
    }
    wait_until("both replicas subscribed again", || {
        sharded_channels(&cluster.redis) == channels
    });

    for (ws_on, finish_on, code) in [(&a, &b, "after-a"), (&b, &a, "after-b")] {
        let (token, tries) = cluster.sign_in_with_retries(ws_on, finish_on, code).await;
        assert_eq!((token.as_str(), tries), (format!("at-{code}").as_str(), 1));
    }
}

#[actix_web::test]
async fn sign_ins_cross_two_replicas_over_a_cluster_with_tls_and_an_acl_user() {
    let files = TlsFiles::generate();
    let redis = RedisCluster::start_tls(&files);
    let mut cluster =
        Cluster::over_cluster_at(redis, &format!("rediss://{USER}:{PASSWORD}@127.0.0.1"));
    cluster.env.insert(
        "BROKER__STORE__TLS_CA".into(),
        files.ca.to_str().unwrap().into(),
    );
    let (a, b) = (cluster.replica(), cluster.replica());
    for (ws_on, finish_on, code) in [(&a, &b, "tls-a"), (&b, &a, "tls-b")] {
        let (token, tries) = cluster.sign_in_with_retries(ws_on, finish_on, code).await;
        assert_eq!((token.as_str(), tries), (format!("at-{code}").as_str(), 1));
    }
    assert_eq!(sharded_channels(&cluster.redis).len(), 2);
}

#[test]
fn readiness_turns_503_within_3_s_of_a_frozen_cluster_node_and_back_within_3_s() {
    let cluster = cluster_of_three();
    let replica = cluster.replica();
    assert!(readyz_turns(&replica, 200, Duration::from_secs(1)).is_some());

    let (frozen, _) = &cluster.redis.nodes[1];
    cluster.redis.node(*frozen).pause();
    let unready = readyz_turns(&replica, 503, Duration::from_secs(5));
    cluster.redis.node(*frozen).resume();
    let unready = unready.expect("/readyz turned 503 while a cluster node was frozen");
    assert!(
        unready <= Duration::from_secs(3),
        "503 only after {unready:?}"
    );

    let ready = readyz_turns(&replica, 200, Duration::from_secs(5))
        .expect("/readyz turned 200 again once the node answered");
    assert!(ready <= Duration::from_secs(3), "200 only after {ready:?}");
}

async fn expired_frames_counted(replicas: &[(Replica, String)]) -> u64 {
    let http = http_client();
    let mut total = 0;
    for (_, metrics) in replicas {
        let metrics = get(&http, metrics).await.body;
        total += metrics
            .lines()
            .find(|l| l.starts_with("oauth_broker_unacked_frames_total{event=\"expired\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// A dropped session's unacknowledged frames are swept once its grace ends, by whichever
/// replica looks first, and counted once between them: the sweep reads the due sessions and
/// drops each one's frames in a step of its own slot.
pub(crate) async fn frames_of_a_session_gone_for_good_expire_once<R>(mut cluster: Cluster<R>) {
    cluster
        .env
        .insert("BROKER__SESSIONS__RESUME_GRACE_SECS".into(), "1".into());
    let replicas = [
        cluster.replica_with_metrics(),
        cluster.replica_with_metrics(),
    ];
    let (a, b) = (&replicas[0].0, &replicas[1].0);
    let http = http_client();
    let mut ws = cluster.connect(a).await;
    let link = ws.begin("mock").await;
    let state = follow(&http, b, &link).await;
    assert_eq!(complete(&http, b, "unacked", &state).await.status, 200);
    ws.expect("signedin").await;
    // Never acknowledged; the session is gone for good.
    ws.close().await;

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while expired_frames_counted(&replicas).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the frame was never swept"
        );
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    // Both replicas keep sweeping; the frame stays counted once.
    actix_rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(expired_frames_counted(&replicas).await, 1);
}

#[actix_web::test]
async fn frames_of_a_session_gone_for_good_expire_once_in_a_cluster() {
    frames_of_a_session_gone_for_good_expire_once(cluster_of_three()).await;
}

#[actix_web::test]
async fn frames_of_a_session_gone_for_good_expire_once_with_one_redis() {
    frames_of_a_session_gone_for_good_expire_once(Cluster::new(false)).await;
}

/// Three masters, each with a replica; one master dies in the middle of 200 sign-ins and the
/// cluster promotes its replica (after `cluster-node-timeout`, 2 s here).
#[actix_web::test]
async fn a_cluster_master_failover_during_sign_ins_loses_or_crosses_none() {
    let mut cluster = Cluster::over_cluster(RedisCluster::start(3, 1));
    cluster.without_client_limits();
    let (a, b) = (cluster.replica(), cluster.replica());
    let before = cluster.sign_in_with_retries(&a, &b, "before").await;
    assert_eq!(before, ("at-before".to_owned(), 1));

    let killer = async {
        actix_rt::time::sleep(Duration::from_millis(400)).await;
        cluster.redis.nodes[0].1.crash();
    };
    let tries = cluster
        .concurrent_sign_ins((&a, &b), (200, 4), "failover", true, killer)
        .await;
    let retried = tries.iter().filter(|t| **t > 1).count();
    eprintln!(
        "{} sign-ins through a cluster failover, {retried} needed a retry",
        tries.len()
    );

    for replica in [&a, &b] {
        let url = format!("{}/readyz", replica.base);
        wait_until("the replica is ready on the promoted master", || {
            crate::helpers::processes::http_status(&url) == Some(200)
        });
    }
    // Ready means every master answers; a replica may still reconnect once as the cluster's
    // own view of the new master settles (seen under load), so one retry is allowed here.
    let (token, tries) = cluster.sign_in_with_retries(&b, &a, "after").await;
    assert_eq!(token, "at-after");
    assert!(tries <= 2, "{tries} tries after the failover");
}
