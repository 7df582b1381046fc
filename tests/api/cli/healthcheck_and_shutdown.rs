//! `healthcheck` while serving and after, and SIGTERM within the grace period.

use super::{RunningBroker, broker, free_addr, http_get_status, lines, run};
use std::time::Duration;

#[test]
fn healthcheck_passes_while_serving_and_fails_once_stopped() {
    let mut server = RunningBroker::spawn(&[]);
    server.wait_until_healthy();
    assert_eq!(http_get_status(server.addr, "/healthz"), 200);
    server.kill();
    let outcome = server.healthcheck();
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    assert!(outcome.stderr.contains("healthz"), "{}", outcome.describe());
}

#[test]
fn healthcheck_without_a_server_exits_1() {
    let outcome = run(broker(
        &["healthcheck"],
        &[("BROKER__SERVER__BIND", &free_addr().to_string())],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    assert_eq!(lines(&outcome.stderr).len(), 1, "{}", outcome.describe());
}

#[test]
fn sigterm_stops_serve_with_exit_0_within_the_grace_period() {
    let grace = 4;
    let mut server =
        RunningBroker::spawn(&[("BROKER__SERVER__SHUTDOWN_GRACE_SECS", &grace.to_string())]);
    server.wait_until_healthy();
    let (status, took) = server.terminate(Duration::from_secs(grace));
    let status = status.unwrap_or_else(|| {
        panic!(
            "serve still running {grace} s after SIGTERM:\n{}",
            server.log()
        )
    });
    assert!(
        status.success(),
        "serve exited with {status:?} after {took:?}:\n{}",
        server.log()
    );
}
