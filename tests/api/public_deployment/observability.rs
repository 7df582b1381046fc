//! What operators watch: the shipped alert rules pass `promtool check rules`, every rule has a
//! `for:` and a severity, and every metric the rules and the Grafana dashboard name is one the
//! broker really exports after a sign-in, a failed sign-in, a refresh and a refusal.

use crate::helpers::mock_provider::MockProvider;
use crate::helpers::processes::run;
use crate::helpers::{TestApp, WsClient, settings_with};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn rules_text() -> String {
    std::fs::read_to_string(format!("{ROOT}/manifests/prometheus-rules.yaml")).unwrap()
}

/// Every PromQL expression of the dashboard's panels.
fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(format!("{ROOT}/manifests/grafana-dashboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().expect("a PromQL expr").to_owned())
        .collect()
}

/// The `oauth_broker_*` names in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("oauth_broker_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_alert_rules_pass_promtool_and_each_has_a_for_and_a_severity() {
    let mut promtool = Command::new("promtool");
    promtool.args([
        "check",
        "rules",
        &format!("{ROOT}/manifests/prometheus-rules.yaml"),
    ]);
    assert!(
        which("promtool"),
        "promtool is missing: run scripts/install-test-deps.sh (Debian's prometheus package)"
    );
    let outcome = run(promtool, Duration::from_secs(60));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let text = rules_text();
    let alerts = text.matches("- alert:").count();
    assert!(alerts >= 6, "the alerts README recommends, got {alerts}");
    assert_eq!(
        text.matches("\n        for: ").count(),
        alerts,
        "a for: per rule"
    );
    assert_eq!(
        text.matches("severity: ").count(),
        alerts,
        "a severity per rule"
    );
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

#[actix_web::test]
async fn every_metric_the_dashboard_and_the_rules_name_is_exported() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    // A sign-in, with a refresh: sessions, started, completed, deliveries, latency, refreshes.
    let mut ws = app.connect().await;
    let signedin = app.sign_in(&mut ws, "watched").await;
    let handle = signedin["refresh"].as_str().expect("a refresh handle");
    ws.send_json(&json!({"type": "refresh", "refresh": handle}))
        .await;
    ws.expect("signedin").await;
    // A sign-in the person refuses: failed, by reason.
    let authorize = app.start_signin(&mut ws, None).await;
    let state = crate::helpers::query_value(&authorize, "state").unwrap();
    app.complete("mock", &[("error", "access_denied"), ("state", &state)])
        .await;
    ws.expect("error").await;
    // A refusal: rejected, by reason.
    assert!(
        WsClient::open(&app.ws_url(), Some("https://evil.example"))
            .await
            .is_err()
    );
    assert_eq!(app.get("/readyz").await.status, 200);

    let exported = app.metrics().await;
    let queries = dashboard_queries();
    assert!(queries.len() >= 8, "the dashboard's panels have queries");
    let mut sources: Vec<(&str, String)> =
        queries.iter().map(|q| ("dashboard", q.clone())).collect();
    // One piece per rule, so a rule that names no broker metric is caught too.
    let rules = rules_text();
    sources.extend(
        rules
            .split("- alert:")
            .skip(1)
            .map(|rule| ("rule", rule.to_owned())),
    );
    for (what, text) in &sources {
        let names = metric_names(text);
        assert!(!names.is_empty(), "{what}: {text} names no broker metric");
        for name in names {
            let series = exported
                .lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")));
            assert!(
                series,
                "{what} names {name}, which /metrics does not export:\n{exported}"
            );
        }
    }
    // What the dashboard promises to show, by name.
    let on_dashboard = metric_names(&queries.join("\n"));
    for name in [
        "oauth_broker_sessions_open",
        "oauth_broker_signins_started_total",
        "oauth_broker_signins_completed_total",
        "oauth_broker_signins_failed_total",
        "oauth_broker_token_deliveries_total",
        "oauth_broker_token_endpoint_seconds_bucket",
        "oauth_broker_refreshes_total",
        "oauth_broker_rejected_total",
    ] {
        assert!(on_dashboard.contains(name), "the dashboard shows {name}");
    }
}
