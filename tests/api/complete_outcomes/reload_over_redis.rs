//! The completion page's reload with Redis: the receipt is shared, so the reload may land on
//! any replica, and what Redis holds of it opens nothing without the seal key: neither the
//! code shown nor the cookie's value lies there in the clear.

use super::reload::{answered, get_with_cookie};
use super::{QUIET, assert_bad_request_page};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::processes::RedisServer;
use crate::helpers::{TestApp, confirmation_code, settings_with};

/// Every key and every value in Redis, as bytes.
fn everything_in(redis: &RedisServer) -> Vec<Vec<u8>> {
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    let mut all = keys.clone();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut conn).unwrap();
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(&key).query(&mut conn).unwrap()],
            "hash" => redis::cmd("HGETALL").arg(&key).query(&mut conn).unwrap(),
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(&mut conn)
                .unwrap(),
            "set" => redis::cmd("SMEMBERS").arg(&key).query(&mut conn).unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(&mut conn)
                .unwrap(),
            _ => Vec::new(),
        };
        all.extend(values);
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[actix_web::test]
async fn a_reload_on_another_replica_shows_the_same_code_and_redis_holds_it_only_sealed() {
    let redis = RedisServer::start();
    let mock = MockProvider::start();
    let a = TestApp::spawn_over_redis(settings_with(&mock), &redis.url()).await;
    let b = TestApp::spawn_over_redis(settings_with(&mock), &redis.url()).await;
    let mut ws = a.connect().await;
    let first = answered(&a, &mut ws, "shared").await;

    let on_b = first.url.replacen(&a.base, &b.base, 1);
    let again = get_with_cookie(&b, &on_b, &first.cookie).await;
    assert_eq!(confirmation_code(&again.body), Some(first.code.clone()));
    assert_eq!(mock.requests().len(), 1, "no second code exchange");
    assert_bad_request_page(&b.get(&on_b).await);
    assert!(
        ws.try_recv(QUIET).await.is_none(),
        "reloads reach no session"
    );

    let plain_code: String = first.code.chars().filter(|c| *c != '-').collect();
    let cookie_value = first.cookie.split_once('=').unwrap().1;
    let stored = everything_in(&redis);
    assert!(!stored.is_empty(), "the sign-in left records in Redis");
    for record in &stored {
        for secret in [plain_code.as_str(), first.code.as_str(), cookie_value] {
            assert!(
                !contains(record, secret),
                "{secret:?} lies in Redis in the clear: {}",
                String::from_utf8_lossy(record)
            );
        }
    }
}
