//! Several replicas as separate processes sharing one real `redis-server`: any request on any
//! replica, nothing lost when one dies, single use across replicas, and a Redis pause survived.

mod redelivery_and_refresh;
mod routing;

use crate::helpers;
use crate::helpers::cluster::Cluster;
use crate::helpers::processes::{Replica, free_port, http_status_within, on, wait_until};
use crate::helpers::{WsClient, confirmation_code, get, http_client, query_value};
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::time::Duration;
use url::Url;

/// Follows the sign-in link on one replica; returns the `state` sent to the provider.
pub(crate) async fn follow(http: &awc::Client, replica: &Replica, link: &str) -> String {
    let response = get(http, &on(replica, link)).await;
    assert_eq!(response.status, 303, "{}", response.body);
    let location = Url::parse(response.header("location").unwrap()).unwrap();
    query_value(&location, "state").unwrap()
}

pub(crate) async fn complete(
    http: &awc::Client,
    replica: &Replica,
    code: &str,
    state: &str,
) -> helpers::Response {
    let url = format!("{}/complete/mock?code={code}&state={state}", replica.base);
    get(http, &url).await
}

#[actix_web::test]
async fn websocket_link_and_redirect_on_three_replicas_deliver_once_to_the_first() {
    let cluster = Cluster::new(false);
    let (a, b, c) = (cluster.replica(), cluster.replica(), cluster.replica());
    let http = http_client();
    let mut ws = cluster.connect(&a).await;
    let link = ws.begin("mock").await;
    assert!(link.starts_with(&format!("{}/signin/", cluster.public)));
    let state = follow(&http, &b, &link).await;
    let page = complete(&http, &c, "three", &state).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let signedin = ws.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-three");
    assert!(
        ws.try_recv(Duration::from_millis(500)).await.is_none(),
        "exactly once"
    );
    assert_eq!(cluster.mock.requests().len(), 1);
}

#[actix_web::test]
async fn confirmation_codes_work_across_replicas_and_after_moving_replica() {
    let cluster = Cluster::new(true);
    let (a, b) = (cluster.replica(), cluster.replica());
    let http = http_client();
    let mut ws = cluster.connect(&a).await;
    let secret = ws.resume_secret();
    let link = ws.begin("mock").await;
    let state = follow(&http, &b, &link).await;
    let page = complete(&http, &b, "conf", &state).await;
    let shown = confirmation_code(&page.body).expect("code on the page");
    let confirm = ws.expect("confirm").await;
    // Acknowledged, so the resume below does not bring it again.
    ws.send_json(&json!({"type": "ack", "id": confirm["id"]}))
        .await;

    // A wrong code typed on A counts against the attempt held in Redis...
    ws.send_json(&json!({"type": "confirm", "code": "WRONGCOD"}))
        .await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "bad_code");
    assert!(error["message"].as_str().unwrap().contains('4'), "{error}");

    // ...and the session, resumed on B, types the right one there.
    ws.close().await;
    let mut moved = cluster.resume(&b, &secret).await;
    assert_eq!(moved.hello["session"], ws_session(&moved));
    moved
        .send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    let signedin = moved.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-conf");

    // The handle sealed on B opens on A (same seal key).
    let mut other = cluster.connect(&a).await;
    other
        .send_json(&json!({"type": "refresh", "refresh": signedin["refresh"]}))
        .await;
    assert_eq!(other.expect("signedin").await["access_token"], "at-rt-conf");
}

fn ws_session(ws: &WsClient) -> Value {
    ws.hello["session"].clone()
}

#[actix_web::test]
async fn a_session_resumed_on_another_replica_after_sigkill_gets_its_token() {
    let cluster = Cluster::new(false);
    let (mut a, b) = (cluster.replica(), cluster.replica());
    let http = http_client();
    let mut ws = cluster.connect(&a).await;
    let session = ws.session();
    let secret = ws.resume_secret();
    let link = ws.begin("mock").await;
    routing::wait_resumable(&mut redis_writer(&cluster), 1);
    a.kill();
    drop(ws);

    let state = follow(&http, &b, &link).await;
    let page = complete(&http, &b, "survivor", &state).await;
    assert_eq!(page.status, 200, "{}", page.body);

    let mut resumed = cluster.resume(&b, &secret).await;
    assert_eq!(
        resumed.session(),
        session,
        "same session on the other replica"
    );
    let signedin = resumed.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-survivor");
    assert!(resumed.try_recv(Duration::from_millis(300)).await.is_none());
}

#[actix_web::test]
async fn two_replicas_racing_on_one_ticket_or_one_state_let_exactly_one_win() {
    let cluster = Cluster::new(false);
    let (a, b) = (cluster.replica(), cluster.replica());
    let http = http_client();
    for round in 0..5 {
        let mut ws = cluster.connect(&a).await;
        let link = ws.begin("mock").await;
        let (on_a, on_b) = (on(&a, &link), on(&b, &link));
        let (x, y) = tokio::join!(get(&http, &on_a), get(&http, &on_b));
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [303, 400],
            "round {round}: one ticket, one winner"
        );
        let winner = if x.status == 303 { x } else { y };
        let location = Url::parse(winner.header("location").unwrap()).unwrap();
        let state = query_value(&location, "state").unwrap();

        let code = format!("race{round}");
        let (x, y) = tokio::join!(
            complete(&http, &a, &code, &state),
            complete(&http, &b, &code, &state)
        );
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(statuses, [200, 400], "round {round}: one state, one winner");
        assert_eq!(
            ws.expect("signedin").await["access_token"],
            format!("at-{code}")
        );
        assert!(ws.try_recv(Duration::from_millis(200)).await.is_none());
    }
    assert_eq!(
        cluster.mock.requests().len(),
        5,
        "one token request per state"
    );
}

/// How one sign-in ended while Redis was paused.
#[derive(Debug)]
enum Ending {
    Token,
    Refused(String),
}

#[actix_web::test]
async fn a_redis_pause_during_200_sign_ins_ends_each_cleanly_and_never_misroutes() {
    const FLOWS: usize = 200;
    let cluster = Cluster::new(false);
    let (a, b) = (cluster.replica(), cluster.replica());
    let http = http_client();
    let mut sockets = Vec::new();
    for _ in 0..FLOWS {
        sockets.push(cluster.connect(&a).await);
    }

    let flows = sockets.into_iter().enumerate().map(|(i, mut ws)| {
        let (a, b, http) = (&a, &b, &http);
        async move {
            // Spread the flows over the pause.
            actix_rt::time::sleep(Duration::from_millis((i as u64 % 40) * 50)).await;
            let code = format!("p{i}x{}", ws.session());
            ws.send_json(&json!({"type": "begin", "provider": "mock"}))
                .await;
            let frame = ws.recv().await;
            if frame["type"] == "error" {
                return (
                    ws,
                    code,
                    Ending::Refused(frame["code"].as_str().unwrap().to_owned()),
                );
            }
            let link = frame["url"].as_str().unwrap().to_owned();
            let response = get(http, &on(b, &link)).await;
            if response.status != 303 {
                return (
                    ws,
                    code,
                    Ending::Refused(format!("signin {}", response.status)),
                );
            }
            let location = Url::parse(response.header("location").unwrap()).unwrap();
            let state = query_value(&location, "state").unwrap();
            let page = complete(http, a, &code, &state).await;
            if page.status != 200 {
                return (
                    ws,
                    code,
                    Ending::Refused(format!("complete {}", page.status)),
                );
            }
            let frame = ws.recv().await;
            assert_eq!(frame["type"], "signedin", "{frame}");
            assert_eq!(frame["access_token"], format!("at-{code}"), "its own token");
            (ws, code, Ending::Token)
        }
    });
    let pause = async {
        actix_rt::time::sleep(Duration::from_millis(400)).await;
        cluster.redis.pause();
        actix_rt::time::sleep(Duration::from_secs(3)).await;
        cluster.redis.resume();
    };
    let (mut results, ()) = tokio::join!(join_all(flows), pause);

    let completed = results
        .iter()
        .filter(|r| matches!(r.2, Ending::Token))
        .count();
    let refused: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.2 {
            Ending::Refused(why) => Some(why.clone()),
            Ending::Token => None,
        })
        .collect();
    for why in &refused {
        {
            assert!(
                why == "unavailable" || why.ends_with("503") || why.ends_with("502"),
                "a clear refusal: {why}"
            );
        }
    }
    assert!(completed > 0, "sign-ins outside the pause complete");
    // No socket got anything more: no second token, no stray one.
    let extra = join_all(
        results
            .iter_mut()
            .map(|r| r.0.try_recv(Duration::from_millis(300))),
    )
    .await;
    assert!(
        extra.iter().all(Option::is_none),
        "no duplicate or stray frames"
    );
    eprintln!("completed {completed}, refused {}", refused.len());
}

/// Parking and publishing under load: every sign-in across replicas completes. (A subscribed
/// connection that published inside MULTI once mixed up replies and failed two thirds of
/// these with 503.)
#[actix_web::test]
async fn concurrent_sign_ins_across_replicas_all_complete() {
    let cluster = Cluster::new(false);
    let (a, b) = (cluster.replica(), cluster.replica());
    let http = http_client();
    let mut sockets = Vec::new();
    for _ in 0..64 {
        sockets.push(cluster.connect(&a).await);
    }
    let flows = sockets.into_iter().enumerate().map(|(i, mut ws)| {
        let (b, http) = (&b, &http);
        async move {
            for round in 0..5 {
                let code = format!("c{i}r{round}");
                let link = ws.begin("mock").await;
                let state = follow(http, b, &link).await;
                let page = complete(http, b, &code, &state).await;
                assert_eq!(page.status, 200, "{}", page.body);
                assert_eq!(
                    ws.expect("signedin").await["access_token"],
                    format!("at-{code}")
                );
            }
        }
    });
    join_all(flows).await;
    assert_eq!(cluster.mock.requests().len(), 64 * 5);
}

/// How long until `/readyz` answers `want`, polling every 50 ms, at most `within`.
pub(crate) fn readyz_turns(replica: &Replica, want: u16, within: Duration) -> Option<Duration> {
    let url = format!("{}/readyz", replica.base);
    let started = std::time::Instant::now();
    while started.elapsed() < within {
        if http_status_within(&url, Duration::from_millis(500)) == Some(want) {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn readiness_turns_503_within_3_s_of_a_frozen_redis_and_back_within_3_s() {
    let cluster = Cluster::new(false);
    let replica = cluster.replica();
    assert!(readyz_turns(&replica, 200, Duration::from_secs(1)).is_some());

    cluster.redis.pause();
    let unready = readyz_turns(&replica, 503, Duration::from_secs(5));
    cluster.redis.resume();
    let unready = unready.expect("/readyz turned 503 while Redis was frozen");
    assert!(
        unready <= Duration::from_secs(3),
        "503 only after {unready:?}"
    );

    let ready = readyz_turns(&replica, 200, Duration::from_secs(5))
        .expect("/readyz turned 200 again once Redis answered");
    assert!(ready <= Duration::from_secs(3), "200 only after {ready:?}");
}

/// Someone who can write to Redis but has no seal key.
fn redis_writer(cluster: &Cluster) -> redis::Connection {
    redis::Client::open(cluster.redis.url())
        .and_then(|client| client.get_connection())
        .expect("Redis answers")
}

const PREFIX: &str = "oauth-broker:";

#[actix_web::test]
async fn a_parked_frame_copied_under_another_session_is_refused_and_counted() {
    let mut cluster = Cluster::new(false);
    let metrics_port = free_port();
    cluster.env.insert(
        "BROKER__SERVER__METRICS_BIND".into(),
        format!("127.0.0.1:{metrics_port}"),
    );
    let replica = cluster.replica();
    let http = http_client();
    let mut victim = cluster.connect(&replica).await;
    let (victim_session, victim_secret) = (victim.session(), victim.resume_secret());
    let link = victim.begin("mock").await;
    victim.close().await;
    let mut attacker = cluster.connect(&replica).await;

    let state = follow(&http, &replica, &link).await;
    assert_eq!(
        complete(&http, &replica, "victim", &state).await.status,
        200
    );
    let mut redis = redis_writer(&cluster);
    let parked = format!("{PREFIX}o:{{{victim_session}}}");
    wait_until("the victim's frame is parked", || {
        redis::cmd("EXISTS").arg(&parked).query::<i64>(&mut redis) == Ok(1)
    });
    let copied: i64 = redis::cmd("COPY")
        .arg(&parked)
        .arg(format!("{PREFIX}o:{{{}}}", attacker.session()))
        .query(&mut redis)
        .unwrap();
    assert_eq!(copied, 1);
    // Nudge the attacker's replica to collect, as a real delivery would.
    let listeners = routing::announce_parked(&mut redis, &attacker.session());
    assert_eq!(listeners, 1, "the attacker's replica heard the nudge");

    assert!(
        attacker
            .try_recv(Duration::from_millis(700))
            .await
            .is_none(),
        "the copied frame reached the attacker"
    );
    let metrics = get(&http, &format!("http://127.0.0.1:{metrics_port}/metrics")).await;
    assert!(
        metrics
            .body
            .contains("oauth_broker_rejected_total{reason=\"store_record_unopenable\"} 1"),
        "{}",
        metrics.body
    );
    let mut resumed = cluster.resume(&replica, &victim_secret).await;
    assert_eq!(
        resumed.expect("signedin").await["access_token"],
        "at-victim"
    );
}

#[actix_web::test]
async fn a_held_grant_copied_under_another_session_releases_nothing() {
    let cluster = Cluster::new(true);
    let replica = cluster.replica();
    let http = http_client();
    let mut victim = cluster.connect(&replica).await;
    let link = victim.begin("mock").await;
    let mut attacker = cluster.connect(&replica).await;
    let state = follow(&http, &replica, &link).await;
    let page = complete(&http, &replica, "victim", &state).await;
    let code = confirmation_code(&page.body).expect("code on the page");
    victim.expect("confirm").await;

    // The attacker copies the held grant (its code digest included) under their own session,
    // and even knows the code.
    let mut redis = redis_writer(&cluster);
    let copied: i64 = redis::cmd("COPY")
        .arg(format!("{PREFIX}h:{{{}}}", victim.session()))
        .arg(format!("{PREFIX}h:{{{}}}", attacker.session()))
        .query(&mut redis)
        .unwrap();
    assert_eq!(copied, 1);
    attacker
        .send_json(&json!({"type": "confirm", "code": code}))
        .await;
    let refused = attacker.expect("error").await;
    assert_ne!(refused["type"], "signedin");
    assert!(refused.get("access_token").is_none(), "{refused}");

    victim
        .send_json(&json!({"type": "confirm", "code": code}))
        .await;
    assert_eq!(victim.expect("signedin").await["access_token"], "at-victim");
}
