//! `serve` start-up failures: one plain line naming the setting, exit 1, no panic.

use super::{Outcome, broker, free_addr, lines, run};
use std::net::TcpListener;

fn assert_one_plain_line(outcome: &Outcome) -> String {
    let lines = lines(&outcome.stderr);
    assert_eq!(lines.len(), 1, "{}", outcome.describe());
    for word in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!outcome.stderr.contains(word), "{}", outcome.describe());
    }
    lines[0].to_owned()
}

#[test]
fn serve_on_a_taken_port_prints_one_line_naming_server_bind_and_exits_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let outcome = run(broker(
        &["serve"],
        &[
            ("BROKER__SERVER__BIND", &addr),
            ("BROKER__SERVER__METRICS_BIND", ""),
        ],
    ));
    drop(taken);
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let line = assert_one_plain_line(&outcome);
    assert!(line.contains("server.bind"), "{line}");
    assert!(line.contains(&addr), "{line}");
}

#[test]
fn serve_on_a_taken_metrics_port_names_server_metrics_bind() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let outcome = run(broker(
        &["serve"],
        &[
            ("BROKER__SERVER__BIND", &free_addr().to_string()),
            ("BROKER__SERVER__METRICS_BIND", &addr),
        ],
    ));
    drop(taken);
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let failure = lines(&outcome.stderr)
        .into_iter()
        .find(|l| l.contains("cannot listen"))
        .unwrap_or_else(|| panic!("{}", outcome.describe()))
        .to_owned();
    assert!(failure.contains("server.metrics_bind"), "{failure}");
    assert!(
        !outcome.stderr.contains("panicked"),
        "{}",
        outcome.describe()
    );
}

#[test]
fn serve_with_a_bad_configuration_prints_one_configuration_line_and_exits_1() {
    let outcome = run(broker(
        &["serve"],
        &[
            ("BROKER__SERVER__BIND", &free_addr().to_string()),
            ("BROKER__SERVER__METRICS_BIND", ""),
            ("BROKER__SESSIONS__IDLE_TIMEOUT_SECS", "5"),
        ],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let line = assert_one_plain_line(&outcome);
    assert!(line.contains("configuration: "), "{line}");
    assert!(line.contains("sessions.idle_timeout_secs"), "{line}");
}

#[test]
fn serve_with_an_unknown_key_prints_one_configuration_line_and_exits_1() {
    let outcome = run(broker(
        &["serve"],
        &[("BROKER__SERVER__BND", "127.0.0.1:0")],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let line = assert_one_plain_line(&outcome);
    assert!(line.starts_with("configuration: "), "{line}");
    assert!(line.contains("bnd"), "{line}");
}

#[test]
fn serve_in_production_without_a_seal_key_refuses_to_start() {
    let outcome = run(broker(
        &["serve"],
        &[
            ("BROKER_ENV", "production"),
            ("BROKER__SERVER__BIND", &free_addr().to_string()),
            ("BROKER__SERVER__METRICS_BIND", ""),
            ("SPOTIFY_CLIENT_ID", "spotify-id"),
            ("SPOTIFY_CLIENT_SECRET", "spotify-secret"),
        ],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let line = assert_one_plain_line(&outcome);
    assert!(line.contains("configuration: "), "{line}");
    assert!(line.contains("secrets.seal_key"), "{line}");
}
