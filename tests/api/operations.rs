//! Operations: graceful shutdown of a real process, and logs that never carry a secret.

use crate::helpers;
use crate::helpers::SEAL_KEY;
use crate::helpers::mock_provider::{self, Behaviour, MockProvider};
use crate::helpers::processes::{Replica, http_status, on, signal};
use crate::helpers::{WsClient, confirmation_code, get, http_client, query_value};
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use url::Url;

fn env_for(mock: &MockProvider, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env = mock.broker_env();
    env.insert("BROKER__SECRETS__SEAL_KEY".into(), SEAL_KEY.into());
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

#[actix_web::test]
async fn sigterm_closes_sessions_with_1001_finishes_in_flight_sign_ins_and_exits_0() {
    let mock = MockProvider::start();
    mock.set(Behaviour::Slow(Duration::from_millis(1500)));
    let mut replica = Replica::start(&env_for(
        &mock,
        &[
            ("BROKER__SERVER__SHUTDOWN_GRACE_SECS", "4"),
            ("BROKER__PROVIDERS__MOCK__TIMEOUT_SECS", "5"),
        ],
    ));
    let http = http_client();
    let mut sessions = Vec::new();
    for _ in 0..100 {
        sessions.push(WsClient::connect(&replica.ws_url(), None).await);
    }
    // One sign-in reaches the provider's (slow) token endpoint, then SIGTERM arrives.
    let first = &mut sessions[0];
    let link = first.begin("mock").await;
    let redirect = get(&http, &on(&replica, &link)).await;
    let location = Url::parse(redirect.header("location").unwrap()).unwrap();
    let state = query_value(&location, "state").unwrap();
    let complete_url = format!("{}/complete/mock?code=inflight&state={state}", replica.base);
    let in_flight = actix_rt::spawn(async move { get(&http_client(), &complete_url).await });
    actix_rt::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    signal(replica.pid(), "-TERM");
    actix_rt::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        http_status(&format!("{}/readyz", replica.base)),
        Some(503),
        "not ready once draining"
    );
    assert!(
        WsClient::open(&replica.ws_url(), None).await.is_err(),
        "new WebSockets are refused while draining"
    );

    for ws in sessions.iter_mut() {
        match ws.closed().await {
            helpers::ws_client::Closed::Frame(Some(frame)) => {
                assert_eq!(frame.code, CloseCode::Away, "1001 going away")
            }
            other => panic!("expected a 1001 close frame, got {other:?}"),
        }
    }
    let page = in_flight.await.unwrap();
    assert_eq!(
        page.status, 200,
        "the in-flight sign-in finished: {}",
        page.body
    );
    assert!(confirmation_code(&page.body).is_some());

    let status = actix_rt::task::spawn_blocking(move || {
        let status = replica.wait_exit(Duration::from_secs(8));
        (status, replica)
    })
    .await
    .unwrap();
    let (status, replica) = status;
    let status = status.expect("exited within the grace period");
    assert!(
        status.success(),
        "exit 0, got {status:?}\n{}",
        replica.log()
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(6),
        "{:?}",
        signalled.elapsed()
    );
}

#[actix_web::test]
async fn a_full_run_at_debug_level_logs_no_token_code_or_secret() {
    let mock = MockProvider::start();
    let mut replica = Replica::start(&env_for(&mock, &[("RUST_LOG", "debug")]));
    let http = http_client();
    let mut ws = WsClient::connect(&replica.ws_url(), None).await;
    let resume = ws.resume_secret();
    let link = ws.begin("mock").await;
    let ticket = link.rsplit('/').next().unwrap().to_owned();
    let redirect = get(&http, &on(&replica, &link)).await;
    let location = Url::parse(redirect.header("location").unwrap()).unwrap();
    let state = query_value(&location, "state").unwrap();
    let code = "AUTHCODE-0123456789";
    let page = get(
        &http,
        &format!("{}/complete/mock?code={code}&state={state}", replica.base),
    )
    .await;
    let shown = confirmation_code(&page.body).unwrap();
    ws.expect("confirm").await;
    ws.send_json(&json!({"type": "confirm", "code": "WRONG999"}))
        .await;
    ws.expect("error").await;
    ws.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    let signedin = ws.expect("signedin").await;
    let handle = signedin["refresh"].as_str().unwrap().to_owned();
    ws.send_json(&json!({"type": "refresh", "refresh": handle}))
        .await;
    let renewed = ws.expect("signedin").await;
    // Failures log too: a replayed redirect, a provider error.
    get(
        &http,
        &format!("{}/complete/mock?code={code}&state={state}", replica.base),
    )
    .await;
    mock.set(Behaviour::Status(500, "{}".into()));
    ws.send_json(&json!({"type": "refresh", "refresh": renewed["refresh"]}))
        .await;
    ws.expect("error").await;
    ws.close().await;

    signal(replica.pid(), "-TERM");
    let (_, replica) = actix_rt::task::spawn_blocking(move || {
        let status = replica.wait_exit(Duration::from_secs(30));
        (status, replica)
    })
    .await
    .unwrap();
    let log = replica.log();
    assert!(log.contains("access"), "the run was logged:\n{log}");
    let verifier_seen = mock.requests()[0].form["code_verifier"].clone();
    for (what, secret) in [
        ("access token", signedin["access_token"].as_str().unwrap()),
        (
            "renewed access token",
            renewed["access_token"].as_str().unwrap(),
        ),
        ("refresh token", "rt-AUTHCODE-0123456789"),
        ("authorization code", code),
        ("client secret", mock_provider::CLIENT_SECRET),
        ("seal key", SEAL_KEY),
        ("confirmation code", &shown.replace('-', "")),
        ("confirmation code as shown", &shown),
        ("refresh handle", &handle),
        ("resume secret", &resume),
        ("sign-in ticket", &ticket),
        ("state", &state),
        ("PKCE verifier", &verifier_seen),
    ] {
        assert!(!log.contains(secret), "the log contains the {what}:\n{log}");
    }
}
