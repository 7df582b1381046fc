//! `limits.sessions_per_client` (open at once), IPv6 counted per /64, and `confirm` frames that
//! cost the address budget only when there is a held grant to guess at.

use crate::helpers::from_address::{ip, ws_from, ws_from_with};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::ws_client::next_json;
use crate::helpers::{TestApp, WAIT, confirmation_code, query_value, settings_with};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Error as WsError;

fn refused_with_429(result: Result<crate::helpers::from_address::RawWs, WsError>) {
    match result {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), 429);
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1, "Retry-After {retry}");
        }
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
}

#[actix_web::test]
async fn one_address_holds_at_most_sessions_per_client_websockets_at_once() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.limits.sessions_per_client = 3;
    settings.limits.connections_per_client = 0;
    settings.sessions.max_connections = 5;
    let app = TestApp::spawn(settings).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut ws = ws_from(ip(61), app.addr()).await.unwrap();
        // Answering pings keeps them open: the hog does everything a live page does.
        assert_eq!(next_json(&mut ws).await["type"], "hello");
        held.push(ws);
    }
    refused_with_429(ws_from(ip(61), app.addr()).await);
    // The slots the hog could not take are still there for everyone else.
    let _other_a = ws_from(ip(62), app.addr()).await.expect("another address");
    let _other_b = ws_from(ip(63), app.addr()).await.expect("a third address");

    // Closing one gives the address its place back (once the server has let it go).
    let mut first = held.remove(0);
    first.close(None).await.unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        match ws_from(ip(61), app.addr()).await {
            Ok(_) => break,
            Err(WsError::Http(r)) if r.status() == 429 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("a closed connection frees its place, got: {e}"),
        }
    }
    assert!(app.metrics().await.contains("sessions_per_client"));
}

#[actix_web::test]
async fn ipv6_clients_share_one_budget_per_64() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    settings.limits.sessions_per_client = 2;
    settings.limits.connections_per_client = 0;
    let app = TestApp::spawn(settings).await;
    let via_proxy = |client: &'static str| {
        let addr = app.addr();
        async move { ws_from_with(ip(1), addr, "/ws", &[("X-Forwarded-For", client)]).await }
    };
    let _a = via_proxy("2001:db8:1:2::a").await.unwrap();
    let _b = via_proxy("2001:db8:1:2:ffff:ffff:ffff:ffff").await.unwrap();
    refused_with_429(via_proxy("2001:db8:1:2::c").await);
    let _other = via_proxy("2001:db8:1:3::a")
        .await
        .expect("the next /64 is another client");
}

#[actix_web::test]
async fn junk_confirms_do_not_spend_the_address_budget_but_guesses_at_a_held_grant_do() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.limits.confirm_attempts_per_client = 3;
    settings.signin.confirm_attempts = 10;
    let app = TestApp::spawn(settings).await;
    // Many junk frames from the honest user's address, with no sign-in behind them.
    let mut junk = app.connect().await;
    for _ in 0..20 {
        junk.send_json(&json!({"type": "confirm", "code": "NOPE"}))
            .await;
        assert_eq!(junk.expect("error").await["code"], "expired");
    }
    // The honest user's right code still works.
    let mut honest = app.connect().await;
    let signedin = app.sign_in(&mut honest, "honest").await;
    assert_eq!(signedin["access_token"], "at-honest");

    // Guesses at a grant that is really held do count: with the honest code, the address has
    // two of its three left.
    let mut guesser = app.connect().await;
    let authorize = app.start_signin(&mut guesser, None).await;
    let state = query_value(&authorize, "state").unwrap();
    let page = app
        .complete("mock", &[("code", "held"), ("state", &state)])
        .await;
    assert!(confirmation_code(&page.body).is_some());
    assert_eq!(guesser.expect("confirm").await["provider"], "mock");
    for _ in 0..2 {
        guesser
            .send_json(&json!({"type": "confirm", "code": "WRONG"}))
            .await;
        assert_eq!(guesser.expect("error").await["code"], "bad_code");
    }
    guesser
        .send_json(&json!({"type": "confirm", "code": "WRONG"}))
        .await;
    assert_eq!(guesser.expect("error").await["code"], "rate_limited");
}
