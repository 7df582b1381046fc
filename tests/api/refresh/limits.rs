//! Refresh floods: one refresh in flight per session, `limits.refreshes_per_session` and
//! `limits.refreshes_per_client` per window, and a slow token endpoint that holds at most a
//! bounded number of requests, so other sessions' refreshes go through meanwhile.

use super::{handle_for, refresh, sealed_settings};
use crate::helpers::mock_provider::{Behaviour, MockProvider};
use crate::helpers::{TestApp, per_client_limits_off};
use futures_util::future::join_all;
use oauth_broker::oauth::provider::TOKEN_REQUESTS_IN_FLIGHT;
use serde_json::json;
use std::time::{Duration, Instant};

#[actix_web::test]
async fn a_flood_from_one_session_is_refused_while_other_sessions_refresh_against_a_slow_endpoint()
{
    let mock = MockProvider::start();
    mock.set(Behaviour::SlowTokens(Duration::from_millis(800)));
    let mut settings = sealed_settings(&mock);
    per_client_limits_off(&mut settings);
    let app = TestApp::spawn(settings).await;
    let mut flooder = app.connect().await;
    let mut others = join_all((0..5).map(|_| app.connect())).await;

    let flood_handle = handle_for(&app, "mock", "rt-flood");
    for _ in 0..200 {
        flooder
            .send_json(&json!({"type": "refresh", "refresh": flood_handle}))
            .await;
    }
    let handles: Vec<String> = (0..others.len())
        .map(|i| handle_for(&app, "mock", &format!("rt-other-{i}")))
        .collect();
    let answers = join_all(
        others
            .iter_mut()
            .zip(&handles)
            .map(|(ws, handle)| refresh(ws, handle)),
    )
    .await;
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer["type"], "signedin", "{answer}");
        assert_eq!(answer["access_token"], format!("at-rt-other-{i}"));
    }

    let mut signedin = 0;
    let mut refused = 0;
    for _ in 0..200 {
        let frame = flooder.recv().await;
        match frame["type"].as_str() {
            Some("signedin") => signedin += 1,
            _ if frame["code"] == "rate_limited" => refused += 1,
            _ => panic!("unexpected answer to a flood: {frame}"),
        }
    }
    assert_eq!(signedin, 1, "one refresh in flight at a time");
    assert_eq!(refused, 199);
    assert_eq!(
        mock.refresh_requests(),
        6,
        "the flood cost one token request"
    );
    assert!(
        app.metrics()
            .await
            .contains("oauth_broker_refreshes_refused_total{limit=\"in_flight\"}")
    );
}

#[actix_web::test]
async fn refreshes_per_session_are_limited_per_window() {
    let mock = MockProvider::start();
    let mut settings = sealed_settings(&mock);
    settings.limits.refreshes_per_session = 3;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    for i in 0..3 {
        let answer = refresh(&mut ws, &handle_for(&app, "mock", &format!("rt-{i}"))).await;
        assert_eq!(answer["type"], "signedin", "{answer}");
    }
    let refused = refresh(&mut ws, &handle_for(&app, "mock", "rt-3")).await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert_eq!(mock.refresh_requests(), 3);

    // Another session is counted on its own; the next window lets this one in again.
    let mut other = app.connect().await;
    let answer = refresh(&mut other, &handle_for(&app, "mock", "rt-4")).await;
    assert_eq!(answer["type"], "signedin", "{answer}");
    app.clock.advance_secs(60);
    let answer = refresh(&mut ws, &handle_for(&app, "mock", "rt-5")).await;
    assert_eq!(answer["type"], "signedin", "{answer}");
}

#[actix_web::test]
async fn refreshes_per_client_address_are_limited_across_its_sessions() {
    let mock = MockProvider::start();
    let mut settings = sealed_settings(&mock);
    per_client_limits_off(&mut settings);
    settings.limits.refreshes_per_client = 4;
    let app = TestApp::spawn(settings).await;
    let mut sockets = join_all((0..6).map(|_| app.connect())).await;
    let mut answers = Vec::new();
    for (i, ws) in sockets.iter_mut().enumerate() {
        answers.push(refresh(ws, &handle_for(&app, "mock", &format!("rt-c{i}"))).await);
    }
    let kinds: Vec<_> = answers
        .iter()
        .map(|a| a["code"].as_str().unwrap_or("signedin").to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "signedin",
            "signedin",
            "signedin",
            "signedin",
            "rate_limited",
            "rate_limited"
        ]
    );
    assert_eq!(mock.refresh_requests(), 4);
    assert!(
        app.metrics()
            .await
            .contains("oauth_broker_refreshes_refused_total{limit=\"refreshes_per_client\"}")
    );
}

#[actix_web::test]
async fn a_hanging_token_endpoint_holds_a_bounded_number_of_requests_and_not_other_providers() {
    let hanging = MockProvider::start();
    hanging.set(Behaviour::Slow(Duration::from_secs(30)));
    let healthy = MockProvider::start();
    let mut settings = sealed_settings(&healthy);
    settings
        .providers
        .insert("hanging".into(), hanging.provider_settings());
    per_client_limits_off(&mut settings);
    let app = TestApp::spawn(settings).await;

    let stuck = TOKEN_REQUESTS_IN_FLIGHT + 8;
    let mut sockets = join_all((0..stuck).map(|_| app.connect())).await;
    let handles: Vec<String> = (0..stuck)
        .map(|i| handle_for(&app, "hanging", &format!("rt-h{i}")))
        .collect();
    let floods = join_all(
        sockets
            .iter_mut()
            .zip(&handles)
            .map(|(ws, handle)| refresh(ws, handle)),
    );
    let healthy_refresh = async {
        // Once the hanging provider's requests are all waiting.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut ws = app.connect().await;
        let started = Instant::now();
        let answer = refresh(&mut ws, &handle_for(&app, "mock", "rt-healthy")).await;
        let took = started.elapsed();
        // Before the time-out (2 s) frees any slot: the hanging endpoint holds the bound.
        let held = hanging.refresh_requests();
        (answer, took, held)
    };
    let (stuck_answers, (answer, took, held)) = tokio::join!(floods, healthy_refresh);
    assert_eq!(answer["type"], "signedin", "{answer}");
    assert!(
        took < Duration::from_secs(1),
        "the healthy provider answered in {took:?}"
    );
    for stuck_answer in &stuck_answers {
        assert_eq!(stuck_answer["code"], "provider_error", "{stuck_answer}");
    }
    assert_eq!(
        held, TOKEN_REQUESTS_IN_FLIGHT,
        "the rest wait for a slot within the time-out"
    );
}
