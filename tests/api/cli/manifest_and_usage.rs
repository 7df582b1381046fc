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
fn manifest_for_plain_http_other_than_localhost_exits_1_with_one_line() {
    for public in ["http://broker.example.com", "http://127.0.0.1:8080"] {
        let outcome = run(broker(
            &["manifest"],
            &[("BROKER__SERVER__PUBLIC_URL", public)],
        ));
        assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
        assert!(outcome.stdout.is_empty(), "{}", outcome.describe());
        let lines = super::lines(&outcome.stderr);
        assert_eq!(lines.len(), 1, "{}", outcome.describe());
        assert!(lines[0].contains("server.public_url"), "{}", lines[0]);
        assert!(lines[0].contains("https://"), "{}", lines[0]);
    }
}

#[test]
fn manifest_for_the_default_localhost_url_is_printed() {
    let outcome = run(broker(&["manifest"], &[]));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    assert!(
        outcome.stdout.contains("<url>http://localhost:8080/</url>"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn manifest_carries_the_extension_settings_escaped_and_no_template_comments() {
    let outcome = run(broker(
        &["manifest"],
        &[
            ("BROKER__SERVER__PUBLIC_URL", "https://broker.example.com"),
            ("BROKER__EXTENSION__ID", "com.acme.sales.signin"),
            ("BROKER__EXTENSION__NAME", "Acme Sales & Spotify"),
            ("BROKER__EXTENSION__DESCRIPTION", "Top <artists> per rep"),
            ("BROKER__EXTENSION__AUTHOR_NAME", "Acme BI"),
            ("BROKER__EXTENSION__AUTHOR_EMAIL", "bi@acme.example"),
            ("BROKER__EXTENSION__WEBSITE", "https://bi.acme.example/help"),
            ("BROKER__EXTENSION__VERSION", "2.3.1"),
        ],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let xml = &outcome.stdout;
    for expected in [
        r#"id="com.acme.sales.signin""#,
        r#"extension-version="2.3.1""#,
        "<text locale=\"en_US\">Acme Sales &amp; Spotify</text>",
        "<description>Top &lt;artists&gt; per rep</description>",
        r#"name="Acme BI""#,
        r#"email="bi@acme.example""#,
        r#"website="https://bi.acme.example/help""#,
    ] {
        assert!(xml.contains(expected), "{expected} missing:\n{xml}");
    }
    assert!(!xml.contains("<!--"), "a template comment is left:\n{xml}");
    assert!(!xml.contains("{{"), "a placeholder is left:\n{xml}");
}

#[test]
fn manifest_with_an_id_tableau_cannot_use_names_the_setting() {
    let outcome = run(broker(
        &["manifest"],
        &[
            ("BROKER__SERVER__PUBLIC_URL", "https://broker.example.com"),
            ("BROKER__EXTENSION__ID", "not a domain"),
        ],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    assert!(
        outcome.stderr.contains("extension.id"),
        "{}",
        outcome.describe()
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
