//! Across two replicas sharing Redis: a frame swallowed by a half-open socket (a real TCP proxy
//! that stops forwarding both ways without closing) on one replica arrives again after a resume
//! on the other, with the same `id`, and not again after `ack`; fifty refreshes of one handle
//! spread over both replicas make one token request and get one answer.

use super::{Cluster, complete, follow};
use crate::helpers::SEAL_KEY;
use crate::helpers::frozen_proxy::FrozenProxy;
use crate::helpers::mock_provider::Behaviour;
use crate::helpers::{WsClient, http_client};
use crate::refresh::assert_one_answer;
use futures_util::future::join_all;
use oauth_broker::sealing::RefreshSealer;
use oauth_broker::secrets::RefreshToken;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const QUIET: Duration = Duration::from_millis(700);

#[actix_web::test]
async fn a_frame_swallowed_on_one_replica_arrives_after_a_resume_on_the_other_until_acked() {
    let cluster = Cluster::new(false);
    let (a, b) = (cluster.replica(), cluster.replica());
    let http = http_client();
    let proxy = FrozenProxy::start(a.addr()).await;
    let mut ws = WsClient::connect(&proxy.ws_url(), Some(&cluster.public)).await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    let link = ws.begin("mock").await;

    proxy.freeze();
    let state = follow(&http, &b, &link).await;
    let page = complete(&http, &b, "swallowed", &state).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        ws.try_recv(QUIET).await,
        None,
        "the frozen path delivers nothing"
    );

    let mut on_b = cluster.resume(&b, &secret).await;
    assert_eq!(on_b.session(), session);
    let signedin = on_b.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-swallowed");
    let id = signedin["id"].as_str().expect("an id").to_owned();

    // Not acknowledged: moving back to A brings it again, with the same id.
    let secret = on_b.resume_secret();
    on_b.close().await;
    let mut on_a = cluster.resume(&a, &secret).await;
    let again = on_a.expect("signedin").await;
    assert_eq!(again["id"], id.as_str());
    on_a.send_json(&json!({"type": "ack", "id": id})).await;
    assert_eq!(on_a.try_recv(QUIET).await, None);

    let secret = on_a.resume_secret();
    on_a.close().await;
    let mut last = cluster.resume(&b, &secret).await;
    assert_eq!(last.session(), session);
    assert_eq!(
        last.try_recv(QUIET).await,
        None,
        "acknowledged on A, gone on B"
    );
}

#[actix_web::test]
async fn fifty_refreshes_of_one_handle_over_two_replicas_make_one_token_request() {
    let cluster = Cluster::new(false);
    cluster
        .mock
        .set(Behaviour::SlowTokens(Duration::from_millis(300)));
    let (a, b) = (cluster.replica(), cluster.replica());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let handle = RefreshSealer::from_base64(SEAL_KEY)
        .unwrap()
        .seal("mock", &RefreshToken::new("rt-spread"), now)
        .expose()
        .to_owned();
    let mut sockets = join_all((0..50).map(|i| {
        let replica = if i % 2 == 0 { &a } else { &b };
        cluster.connect(replica)
    }))
    .await;

    let answers = join_all(sockets.iter_mut().map(|ws| async {
        ws.send_json(&json!({"type": "refresh", "refresh": handle}))
            .await;
        ws.recv().await
    }))
    .await;
    assert_one_answer(&answers, &handle);
    assert_eq!(answers[0]["access_token"], "at-rt-spread");
    assert_eq!(cluster.mock.refresh_requests(), 1, "one token request");
}
