//! Abuse resistance: every rate limit refuses with `rate_limited` or 429 + `Retry-After`, limits
//! hold across replicas through Redis, and a junk flood from one address neither stops honest
//! sign-ins from others nor grows the broker's memory without bound.

use crate::helpers::from_address::{connect_from, get_from, ip, raw_get, ws_from};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::processes::{RedisServer, Replica};
use crate::helpers::ws_client::next_json;
use crate::helpers::{SEAL_KEY, TestApp, WAIT, confirmation_code, query_value, settings_with};
use futures_util::SinkExt;
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use url::Url;

#[actix_web::test]
async fn sign_in_links_per_session_are_limited() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.limits.signin_links_per_session = 3;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    for _ in 0..3 {
        ws.send_json(&json!({"type": "begin"})).await;
        ws.expect("signin").await;
    }
    ws.send_json(&json!({"type": "begin"})).await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "rate_limited");
    assert!(error["message"].as_str().unwrap().contains("Wait"));
    // Another session is not affected.
    let mut other = app.connect().await;
    other.send_json(&json!({"type": "begin"})).await;
    other.expect("signin").await;
    assert!(
        app.metrics()
            .await
            .contains("rate_limited_links_per_session")
    );
}

#[actix_web::test]
async fn sign_in_links_per_client_address_are_limited_across_sessions() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.limits.signin_links_per_client = 2;
    let app = TestApp::spawn(settings).await;
    let mut first = ws_from(ip(11), app.addr()).await.unwrap();
    let mut second = ws_from(ip(11), app.addr()).await.unwrap();
    let mut elsewhere = ws_from(ip(12), app.addr()).await.unwrap();
    for ws in [&mut first, &mut second, &mut elsewhere] {
        next_json(ws).await; // hello
    }
    let begin = Message::text(json!({"type": "begin"}).to_string());
    first.send(begin.clone()).await.unwrap();
    assert_eq!(next_json(&mut first).await["type"], "signin");
    second.send(begin.clone()).await.unwrap();
    assert_eq!(next_json(&mut second).await["type"], "signin");
    first.send(begin.clone()).await.unwrap();
    assert_eq!(next_json(&mut first).await["code"], "rate_limited");
    elsewhere.send(begin).await.unwrap();
    assert_eq!(next_json(&mut elsewhere).await["type"], "signin");
}

#[actix_web::test]
async fn signin_and_complete_requests_per_client_answer_429_with_retry_after() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.limits.requests_per_client = 5;
    let app = TestApp::spawn(settings).await;
    for i in 0..5 {
        let path = if i % 2 == 0 {
            "/signin/nope"
        } else {
            "/complete/mock?state=nope&code=x"
        };
        assert_eq!(get_from(ip(21), app.addr(), path).await.0, 400);
    }
    let (status, retry_after) = get_from(ip(21), app.addr(), "/complete/mock?state=a&code=b").await;
    assert_eq!(status, 429);
    let retry_after: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(get_from(ip(21), app.addr(), "/signin/x").await.0, 429);
    // Other addresses, and the rest of the site, are untouched.
    assert_eq!(get_from(ip(22), app.addr(), "/signin/nope").await.0, 400);
    assert_eq!(get_from(ip(21), app.addr(), "/healthz").await.0, 200);
    // A new window lets the address in again.
    app.clock.advance_secs(retry_after);
    assert_eq!(get_from(ip(21), app.addr(), "/signin/nope").await.0, 400);
}

#[actix_web::test]
async fn websocket_connections_per_client_answer_429() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.limits.connections_per_client = 2;
    let app = TestApp::spawn(settings).await;
    let _a = ws_from(ip(31), app.addr()).await.unwrap();
    let _b = ws_from(ip(31), app.addr()).await.unwrap();
    match ws_from(ip(31), app.addr()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
    assert!(ws_from(ip(32), app.addr()).await.is_ok());
}

#[actix_web::test]
async fn limits_hold_across_replicas_through_redis() {
    let redis = RedisServer::start();
    let env: HashMap<String, String> = [
        ("BROKER__STORE__REDIS_URL", redis.url()),
        ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY.into()),
        ("BROKER__LIMITS__CONNECTIONS_PER_CLIENT", "3".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let (a, b) = (Replica::start(&env), Replica::start(&env));
    let _1 = ws_from(ip(41), a.addr()).await.unwrap();
    let _2 = ws_from(ip(41), b.addr()).await.unwrap();
    let _3 = ws_from(ip(41), a.addr()).await.unwrap();
    assert!(
        ws_from(ip(41), b.addr()).await.is_err(),
        "the fourth, on another replica, is refused"
    );
    assert!(ws_from(ip(42), b.addr()).await.is_ok());
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// One honest extension from its own address: a whole sign-in with the confirmation code.
async fn honest_sign_in(source: IpAddr, to: SocketAddr, n: usize) {
    let mut ws = ws_from(source, to).await.expect("honest client connects");
    next_json(&mut ws).await;
    let send = |v: Value| Message::text(v.to_string());
    ws.send(send(json!({"type": "begin", "provider": "mock"})))
        .await
        .unwrap();
    let signin = next_json(&mut ws).await;
    assert_eq!(signin["type"], "signin", "{signin}");
    let link = Url::parse(signin["url"].as_str().unwrap()).unwrap();
    let redirect = raw_get(source, to, link.path()).await;
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    let authorize = Url::parse(&redirect.header("location").unwrap()).unwrap();
    let state = query_value(&authorize, "state").unwrap();
    let code = format!("honest{n}");
    let page = raw_get(
        source,
        to,
        &format!("/complete/mock?code={code}&state={state}"),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let shown = confirmation_code(&page.body).expect("the page shows the code");
    assert_eq!(next_json(&mut ws).await["type"], "confirm");
    ws.send(send(json!({"type": "confirm", "code": shown})))
        .await
        .unwrap();
    let signedin = next_json(&mut ws).await;
    assert_eq!(
        signedin["access_token"],
        format!("at-{code}"),
        "its own token"
    );
}

#[actix_web::test]
async fn a_junk_flood_from_one_address_leaves_honest_sign_ins_working_and_memory_bounded() {
    let mock = MockProvider::start();
    let mut env = mock.broker_env();
    env.insert("RUST_LOG".into(), "warn".into());
    let replica = Replica::start(&env);
    let to = replica.addr();
    let flooder = ip(66);

    // Warm up (allocator arenas, worker buffers), then take the baseline.
    for i in 0..200 {
        get_from(ip(70), to, &format!("/complete/mock?state=warm{i}&code=x")).await;
    }
    let before = rss_kib(replica.pid());

    // 10,000 invalid /complete requests, 100 at a time.
    let junk_requests = async {
        let mut statuses = HashMap::<u16, usize>::new();
        for batch in 0..100 {
            let replies = join_all((0..100).map(|i| {
                let path = format!("/complete/mock?state=junk{batch}x{i}&code=c&code=d");
                async move { get_from(flooder, to, &path).await.0 }
            }))
            .await;
            for status in replies {
                *statuses.entry(status).or_default() += 1;
            }
        }
        statuses
    };
    // Garbage frames and connection churn (dropped without a close handshake).
    let junk_frames = async {
        for _ in 0..50 {
            let Ok(mut ws) = ws_from(flooder, to).await else {
                continue;
            };
            for i in 0..50 {
                let junk = match i % 4 {
                    0 => Message::text("{not json"),
                    1 => Message::binary(vec![0u8; 512]),
                    2 => Message::text(json!({"type": "confirm", "code": i}).to_string()),
                    _ => Message::text("x".repeat(7000)),
                };
                if ws.send(junk).await.is_err() {
                    break;
                }
            }
            drop(ws);
        }
    };
    let honest = join_all((0..100usize).map(|n| honest_sign_in(ip(100 + n as u8), to, n)));
    let (statuses, (), _) = tokio::join!(junk_requests, junk_frames, honest);

    assert_eq!(statuses.values().sum::<usize>(), 10_000);
    assert!(
        statuses.keys().all(|s| *s == 400 || *s == 429),
        "junk answered 400 or 429, never 500: {statuses:?}"
    );
    assert!(
        statuses.get(&429).copied().unwrap_or(0) > 0,
        "the flooder was rate limited"
    );
    let after = rss_kib(replica.pid());
    eprintln!("RSS {before} KiB -> {after} KiB; junk statuses {statuses:?}");
    assert!(
        after < before + 32 * 1024,
        "memory stayed bounded: {before} KiB before, {after} KiB after"
    );
}

#[actix_web::test]
async fn oversized_urls_and_headers_are_refused_before_any_work() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let long = format!("/complete/mock?state={}", "a".repeat(9000));
    assert_eq!(get_from(ip(51), app.addr(), &long).await.0, 414);

    let mut stream = connect_from(ip(51), app.addr()).await;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(20_000)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut response)).await;
    let head = String::from_utf8_lossy(&response);
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
}

#[actix_web::test]
async fn a_client_that_never_finishes_its_request_or_handshake_is_cut_off() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let to = app.addr();
    let partials = [
        "GET /healthz HTTP/1.1\r\nHost: x\r\n",
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    ];
    join_all(partials.into_iter().map(|partial| async move {
        let mut stream = connect_from(ip(52), to).await;
        stream.write_all(partial.as_bytes()).await.unwrap();
        let mut rest = Vec::new();
        let ended = tokio::time::timeout(
            std::time::Duration::from_secs(8),
            stream.read_to_end(&mut rest),
        )
        .await;
        assert!(
            ended.is_ok(),
            "the server closed the slow connection: {partial:?}"
        );
        let text = String::from_utf8_lossy(&rest);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }))
    .await;
}
