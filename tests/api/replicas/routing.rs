//! The route to the replica that holds a session: each replica has its own delivery channel,
//! a session's replica is recorded in Redis while it is connected, a result is announced to
//! that replica only, and a resume on another replica ends the older connection.

use super::{PREFIX, complete, follow, redis_writer};
use crate::helpers::cluster::Cluster;
use crate::helpers::processes::{Replica, wait_until};
use crate::helpers::ws_client::Closed;
use crate::helpers::{WsClient, get, http_client};
use futures_util::future::join_all;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Where the session is recorded as connected: the replica's identity, if any.
fn recorded_replica(redis: &mut redis::Connection, session: &str) -> Option<String> {
    let location: Option<String> = redis::cmd("GET")
        .arg(format!("{PREFIX}at:{{{session}}}"))
        .query(redis)
        .unwrap();
    location.map(|l| l.split(':').next().unwrap().to_owned())
}

/// Waits until `count` resume secrets are registered: a connection registers its secret a
/// moment after its `hello`, and a resume before that is (rightly) refused.
pub(super) fn wait_resumable(redis: &mut redis::Connection, count: usize) {
    wait_until("the resume secrets are registered", || {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{PREFIX}r:*"))
            .query(redis)
            .unwrap();
        keys.len() == count
    });
}

/// The replica's identity, as its start-up log line gives it.
fn identity(replica: &Replica) -> String {
    let log = replica.log();
    let line = log
        .lines()
        .find(|l| l.contains("deliveries to its sessions are announced on"))
        .unwrap_or_else(|| panic!("the replica logs its identity: {log}"));
    let before = line.split(": deliveries to its sessions").next().unwrap();
    before.rsplit(' ').next().unwrap().to_owned()
}

/// Announces a frame parked for `session` as another replica would: on the channel of the
/// replica recorded for it. Answers how many listened.
pub(super) fn announce_parked(redis: &mut redis::Connection, session: &str) -> i64 {
    let replica = recorded_replica(redis, session).expect("the session is recorded");
    redis::cmd("PUBLISH")
        .arg(format!("{PREFIX}r:{{{replica}}}"))
        .arg(format!("p:{session}"))
        .query(redis)
        .unwrap()
}

async fn announcements_received(http: &awc::Client, metrics: &str) -> u64 {
    let body = get(http, metrics).await.body;
    body.lines()
        .find_map(|line| {
            line.strip_prefix("oauth_broker_delivery_announcements_received_total ")
                .map(|n| n.trim().parse().unwrap())
        })
        .unwrap_or(0)
}

async fn sign_in_completed_on(
    http: &awc::Client,
    ws: &mut WsClient,
    link_on: &Replica,
    complete_on: &Replica,
    code: &str,
) {
    let link = ws.begin("mock").await;
    let state = follow(http, link_on, &link).await;
    let page = complete(http, complete_on, code, &state).await;
    assert_eq!(page.status, 200, "{}", page.body);
}

#[actix_web::test]
async fn with_three_replicas_each_delivery_is_announced_once_to_its_sessions_replica() {
    let cluster = Cluster::new(false);
    let replicas = [
        cluster.replica_with_metrics(),
        cluster.replica_with_metrics(),
        cluster.replica_with_metrics(),
    ];
    let http = http_client();
    // Uneven on purpose: thirty sessions on the first replica, twenty on the second, ten on
    // the third, signing in all at once, each completed on a replica other than its own.
    let homes: Vec<usize> = [(0, 30), (1, 20), (2, 10)]
        .iter()
        .flat_map(|&(home, count)| std::iter::repeat_n(home, count))
        .collect();
    let identities: Vec<String> = replicas.iter().map(|(r, _)| identity(r)).collect();
    let mut sockets = Vec::new();
    let mut redis = redis_writer(&cluster);
    for &home in &homes {
        let ws = cluster.connect(&replicas[home].0).await;
        let session = ws.session();
        wait_until("the session is recorded on its replica", || {
            recorded_replica(&mut redis, &session).as_ref() == Some(&identities[home])
        });
        sockets.push(ws);
    }
    let flows = sockets
        .iter_mut()
        .zip(&homes)
        .enumerate()
        .map(|(i, (ws, &home))| {
            let (replicas, http) = (&replicas, &http);
            async move {
                let (link_on, complete_on) =
                    (&replicas[(home + 2) % 3].0, &replicas[(home + 1) % 3].0);
                let code = format!("fan{i}");
                sign_in_completed_on(http, ws, link_on, complete_on, &code).await;
                assert_eq!(
                    ws.expect("signedin").await["access_token"],
                    format!("at-{code}"),
                    "its own token"
                );
            }
        });
    join_all(flows).await;
    let extra = join_all(
        sockets
            .iter_mut()
            .map(|ws| ws.try_recv(Duration::from_millis(300))),
    )
    .await;
    assert!(extra.iter().all(Option::is_none), "each delivered once");

    let mut received = Vec::new();
    for (_, metrics) in &replicas {
        received.push(announcements_received(&http, metrics).await);
    }
    assert_eq!(
        received,
        [30, 20, 10],
        "each replica hears of its own sessions' deliveries"
    );
    assert_eq!(
        received.iter().sum::<u64>(),
        homes.len() as u64,
        "one announcement per delivery, not one per replica"
    );
}

#[actix_web::test]
async fn a_result_is_announced_to_the_replica_recorded_for_its_session_and_parked_once_it_left() {
    let cluster = Cluster::new(false);
    let (a, a_metrics) = cluster.replica_with_metrics();
    let (b, b_metrics) = cluster.replica_with_metrics();
    let http = http_client();
    let mut redis = redis_writer(&cluster);
    let mut ws = cluster.connect(&b).await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    wait_until("the session is recorded", || {
        recorded_replica(&mut redis, &session).is_some()
    });
    assert_eq!(recorded_replica(&mut redis, &session), Some(identity(&b)));
    assert_ne!(
        identity(&a),
        identity(&b),
        "each replica has its own identity"
    );

    sign_in_completed_on(&http, &mut ws, &a, &a, "recorded").await;
    let signedin = ws.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-recorded");
    ws.send_json(&json!({"type": "ack", "id": signedin["id"]}))
        .await;
    assert_eq!(announcements_received(&http, &b_metrics).await, 1);
    assert_eq!(announcements_received(&http, &a_metrics).await, 0);

    // Dropped: no replica holds the session, so the next result is parked unannounced and
    // waits for the resume.
    let link = ws.begin("mock").await;
    ws.close().await;
    wait_until("the record is gone with the connection", || {
        recorded_replica(&mut redis, &session).is_none()
    });
    let state = follow(&http, &a, &link).await;
    assert_eq!(complete(&http, &a, "dropped", &state).await.status, 200);
    let mut resumed = cluster.resume(&b, &secret).await;
    assert_eq!(resumed.session(), session);
    assert_eq!(
        resumed.expect("signedin").await["access_token"],
        "at-dropped"
    );
    assert_eq!(
        announcements_received(&http, &b_metrics).await,
        1,
        "nothing was announced for a session nobody held"
    );
}

async fn closed_with_1008_and_gone(ws: &mut WsClient) {
    match ws.closed().await {
        Closed::Frame(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::Policy, "{frame:?}");
            assert_eq!(frame.reason.to_string(), "resumed on another connection");
        }
        other => panic!("expected a 1008 close frame, got {other:?}"),
    }
    assert!(
        matches!(ws.closed().await, Closed::Dropped),
        "the socket itself closed"
    );
}

#[actix_web::test]
async fn a_resume_on_another_replica_ends_the_older_connection_with_1008() {
    let cluster = Cluster::new(false);
    let (a, b) = (cluster.replica(), cluster.replica());
    let http = http_client();
    let mut redis = redis_writer(&cluster);
    let mut old = cluster.connect(&a).await;
    let session = old.session();
    wait_until("the session is recorded on A", || {
        recorded_replica(&mut redis, &session) == Some(identity(&a))
    });
    wait_resumable(&mut redis, 1);

    let mut new = cluster.resume(&b, &old.resume_secret()).await;
    assert_eq!(new.session(), session);
    closed_with_1008_and_gone(&mut old).await;
    assert_eq!(recorded_replica(&mut redis, &session), Some(identity(&b)));

    // The session lives on B: a result completed on A reaches it there.
    sign_in_completed_on(&http, &mut new, &a, &a, "moved").await;
    assert_eq!(new.expect("signedin").await["access_token"], "at-moved");
}

#[actix_web::test]
async fn an_older_connection_whose_ending_went_unheard_ends_at_its_next_refresh() {
    let mut cluster = Cluster::new(false);
    // Records refreshed every second.
    cluster
        .env
        .insert("BROKER__SESSIONS__RESUME_GRACE_SECS".into(), "2".into());
    let a = cluster.replica();
    let mut redis = redis_writer(&cluster);
    let mut ws = cluster.connect(&a).await;
    let session = ws.session();
    wait_until("the session is recorded", || {
        recorded_replica(&mut redis, &session).is_some()
    });
    // As if a resume on another replica had recorded itself while A missed the message.
    let _: () = redis::cmd("SET")
        .arg(format!("{PREFIX}at:{{{session}}}"))
        .arg("ElsewhereReplica0000:1")
        .query(&mut redis)
        .unwrap();
    closed_with_1008_and_gone(&mut ws).await;
    assert_eq!(
        recorded_replica(&mut redis, &session).as_deref(),
        Some("ElsewhereReplica0000"),
        "the newer record stays"
    );
}

#[actix_web::test]
async fn a_session_whose_replica_was_killed_gets_its_parked_frame_resumed_elsewhere() {
    let cluster = Cluster::new(false);
    let (mut a, b, c) = (cluster.replica(), cluster.replica(), cluster.replica());
    let http = http_client();
    let mut redis = redis_writer(&cluster);
    let mut ws = cluster.connect(&a).await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    let dead = identity(&a);
    let link = ws.begin("mock").await;
    wait_resumable(&mut redis, 1);
    a.kill();
    drop(ws);
    assert_eq!(
        recorded_replica(&mut redis, &session),
        Some(dead),
        "a killed replica leaves its record to expire"
    );

    // Announced to a channel nobody reads now, and parked.
    let state = follow(&http, &b, &link).await;
    assert_eq!(complete(&http, &b, "orphan", &state).await.status, 200);
    let mut resumed = cluster.resume(&c, &secret).await;
    assert_eq!(resumed.session(), session);
    assert_eq!(
        resumed.expect("signedin").await["access_token"],
        "at-orphan"
    );
    assert_eq!(recorded_replica(&mut redis, &session), Some(identity(&c)));
    assert!(resumed.try_recv(Duration::from_millis(300)).await.is_none());
}

#[actix_web::test]
async fn a_vanished_record_is_restored_and_what_was_parked_meanwhile_collected() {
    let mut cluster = Cluster::new(false);
    // Records refreshed every 4 s.
    cluster
        .env
        .insert("BROKER__SESSIONS__RESUME_GRACE_SECS".into(), "8".into());
    let (a, b) = (cluster.replica(), cluster.replica());
    let http = http_client();
    let mut redis = redis_writer(&cluster);
    let mut ws = cluster.connect(&a).await;
    let session = ws.session();
    wait_until("the session is recorded", || {
        recorded_replica(&mut redis, &session).is_some()
    });
    let link = ws.begin("mock").await;
    let state = follow(&http, &b, &link).await;
    // As a failover that lost the latest writes would leave it: no record, so the result is
    // parked unannounced.
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{PREFIX}at:{{{session}}}"))
        .query(&mut redis)
        .unwrap();
    assert_eq!(complete(&http, &b, "vanished", &state).await.status, 200);
    assert_eq!(ws.expect("signedin").await["access_token"], "at-vanished");
    assert_eq!(recorded_replica(&mut redis, &session), Some(identity(&a)));
}
