//! `manifest`, `--version`, `--help`, and usage errors.

use super::{broker, run};

#[test]
fn manifest_prints_the_trex_with_the_public_url() {
    let outcome = run(broker(
        &["manifest"],
        &[("BROKER__SERVER__PUBLIC_URL", "https://broker.example.com")],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    assert!(
        outcome.stdout.trim_start().starts_with("<?xml"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("<url>https://broker.example.com/</url>"),
        "{}",
        outcome.stdout
    );
    assert!(!outcome.stdout.contains("{{PUBLIC_URL}}"));
}

#[test]
fn manifest_keeps_a_path_prefix_without_doubling_the_slash() {
    let outcome = run(broker(
        &["manifest"],
        &[("BROKER__SERVER__PUBLIC_URL", "https://example.com/broker/")],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    assert!(
        outcome
            .stdout
            .contains("<url>https://example.com/broker/</url>"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn version_flag_prints_the_version_and_exits_0() {
    let outcome = run(broker(&["--version"], &[]));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    assert!(
        outcome.stdout.contains(env!("CARGO_PKG_VERSION")),
        "{}",
        outcome.describe()
    );
}

#[test]
fn help_flag_lists_the_commands_and_exits_0() {
    let outcome = run(broker(&["--help"], &[]));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    for word in [
        "serve",
        "check-config",
        "manifest",
        "healthcheck",
        "--config",
    ] {
        assert!(outcome.stdout.contains(word), "{word}: {}", outcome.stdout);
    }
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let outcome = run(broker(&["frobnicate"], &[]));
    assert_eq!(outcome.code(), Some(2), "{}", outcome.describe());
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let outcome = run(broker(&["check-config", "--frobnicate"], &[]));
    assert_eq!(outcome.code(), Some(2), "{}", outcome.describe());
}
