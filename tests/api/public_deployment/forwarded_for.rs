//! Client addresses behind a proxy: every `X-Forwarded-For` line read, walked from the right
//! through `server.trusted_proxies`; a forwarded request from an untrusted peer warned about
//! once.

use crate::helpers::from_address::{ip, raw_get_with, ws_from_with};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::processes::{Replica, http_status};
use crate::helpers::ws_client::next_json;
use crate::helpers::{SEAL_KEY, TestApp, settings_with};
use futures_util::SinkExt;
use serde_json::json;
use std::collections::HashMap;
use tokio_tungstenite::tungstenite::Message;

/// The proxy at 127.0.0.1 appends its own `X-Forwarded-For` line (the real client) below the
/// one the client wrote itself: the forged first line must not decide who the client is.
#[actix_web::test]
async fn a_forged_first_forwarded_for_line_does_not_win() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    settings.limits.requests_per_client = 2;
    let app = TestApp::spawn(settings).await;
    for forged in ["9.9.9.1", "9.9.9.2"] {
        let lines = [
            ("X-Forwarded-For", forged),
            ("X-Forwarded-For", "198.51.100.7"),
        ];
        let answer = raw_get_with(ip(1), app.addr(), "/signin/nope", &lines).await;
        assert_eq!(answer.status, 400, "{}", answer.body);
    }
    let lines = [
        ("X-Forwarded-For", "9.9.9.3"),
        ("X-Forwarded-For", "198.51.100.7"),
    ];
    let third = raw_get_with(ip(1), app.addr(), "/signin/nope", &lines).await;
    assert_eq!(
        third.status, 429,
        "the real client is limited, whatever it forged"
    );
    let other = [("X-Forwarded-For", "198.51.100.8")];
    let answer = raw_get_with(ip(1), app.addr(), "/signin/nope", &other).await;
    assert_eq!(
        answer.status, 400,
        "another user behind the same proxy is not"
    );
}

/// The abuse case: behind one proxy, throw-away sessions from one user must not use up the
/// sign-in links of everyone else.
#[actix_web::test]
async fn behind_a_trusted_proxy_one_users_sign_ins_do_not_block_anothers() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    settings.limits.signin_links_per_client = 2;
    let app = TestApp::spawn(settings).await;
    let begin = Message::text(json!({"type": "begin"}).to_string());
    for expected in ["signin", "signin", "error"] {
        let xff = [("X-Forwarded-For", "203.0.113.66")];
        let mut junk = ws_from_with(ip(1), app.addr(), "/ws", &xff).await.unwrap();
        next_json(&mut junk).await;
        junk.send(begin.clone()).await.unwrap();
        let answer = next_json(&mut junk).await;
        assert_eq!(answer["type"], expected, "{answer}");
    }
    let xff = [("X-Forwarded-For", "203.0.113.67")];
    let mut honest = ws_from_with(ip(1), app.addr(), "/ws", &xff).await.unwrap();
    next_json(&mut honest).await;
    honest.send(begin).await.unwrap();
    assert_eq!(next_json(&mut honest).await["type"], "signin");
}

#[test]
fn forwarded_for_from_an_untrusted_peer_is_warned_about_once() {
    let env: HashMap<String, String> = [("BROKER__SECRETS__SEAL_KEY", SEAL_KEY)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let replica = Replica::start(&env);
    let system = actix_rt::System::new();
    system.block_on(async {
        for _ in 0..3 {
            let xff = [("X-Forwarded-For", "203.0.113.9")];
            raw_get_with(ip(1), replica.addr(), "/healthz", &xff).await;
        }
    });
    assert_eq!(http_status(&format!("{}/healthz", replica.base)), Some(200));
    let log = replica.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("X-Forwarded-For") && l.contains("server.trusted_proxies"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning:\n{log}");
    assert!(
        warnings[0].contains("127.0.0.1"),
        "it names the peer: {}",
        warnings[0]
    );
}
