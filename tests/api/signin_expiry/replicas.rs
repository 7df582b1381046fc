//! Two replicas over one real `redis-server`, in this process so the test can move their
//! clocks: the expiry of a sign-in follows it from replica to replica.

use super::{REPORTED_AFTER, STATE_TTL, TICKET_TTL, expect_expired, nothing_arrives, settings};
use crate::helpers::TestApp;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::processes::RedisServer;

/// A replica over `redis`, once it is ready.
async fn replica(redis: &RedisServer, mock: &MockProvider) -> TestApp {
    TestApp::spawn_over_redis(settings(mock), &redis.url()).await
}

fn advance_both(a: &TestApp, b: &TestApp, secs: u64) {
    a.clock.advance_secs(secs);
    b.clock.advance_secs(secs);
}

#[actix_web::test]
async fn a_link_opened_on_another_replica_and_left_unfinished_is_reported_on_the_first() {
    let redis = RedisServer::start();
    let mock = MockProvider::start();
    let (a, b) = (replica(&redis, &mock).await, replica(&redis, &mock).await);
    let mut ws = a.connect().await;
    let link = ws.begin("mock").await;
    let opened = b.get(&link.replacen(&a.base, &b.base, 1)).await;
    assert_eq!(opened.status, 303, "{}", opened.body);

    advance_both(&a, &b, TICKET_TTL + REPORTED_AFTER + 10);
    nothing_arrives(&mut ws, "B moved the expiry to the state's").await;
    advance_both(&a, &b, STATE_TTL - TICKET_TTL);
    let error = expect_expired(&mut ws).await;
    assert!(
        error["message"].as_str().unwrap().contains("not finished"),
        "{error}"
    );
    nothing_arrives(&mut ws, "one report, though two replicas could look").await;
}

#[actix_web::test]
async fn an_expiry_while_away_reaches_the_session_resumed_on_another_replica() {
    let redis = RedisServer::start();
    let mock = MockProvider::start();
    let (a, b) = (replica(&redis, &mock).await, replica(&redis, &mock).await);
    let mut ws = a.connect().await;
    let session = ws.session();
    ws.begin("mock").await;
    let secret = ws.resume_secret();
    ws.close().await;
    advance_both(&a, &b, TICKET_TTL + REPORTED_AFTER);

    let mut moved = b.resume(&secret).await;
    assert_eq!(moved.session(), session, "the same session, on B");
    let error = expect_expired(&mut moved).await;
    assert!(
        error["message"].as_str().unwrap().contains("link"),
        "{error}"
    );
}
