//! `check-config`: the effective settings as TOML, secrets redacted, every problem one per
//! line, `--config`, and a copy of `config/` in another directory.

use super::{SEAL_KEY, broker, demo_client_secret, lines, run};

#[test]
fn check_config_prints_effective_settings_as_toml_and_exits_0() {
    let outcome = run(broker(
        &["check-config"],
        &[("BROKER__SESSIONS__HEARTBEAT_SECS", "7")],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let printed: toml::Table = toml::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("stdout is not TOML ({e}):\n{}", outcome.stdout));
    assert_eq!(printed["sessions"]["heartbeat_secs"].as_integer(), Some(7));
    assert_eq!(
        printed["server"]["bind"].as_str(),
        Some("127.0.0.1:8080"),
        "from config/default.toml"
    );
    assert_eq!(
        printed["providers"]["demo"]["preset"].as_str(),
        Some("demo")
    );
}

#[test]
fn check_config_redacts_every_secret() {
    let spotify_secret = "spotify-secret-4f9a1c";
    let redis_password = "redis-password-77b2e0";
    let redis_url = format!("redis://:{redis_password}@127.0.0.1:6379/0");
    let outcome = run(broker(
        &["check-config"],
        &[
            ("SPOTIFY_CLIENT_ID", "spotify-id"),
            ("SPOTIFY_CLIENT_SECRET", spotify_secret),
            ("REDIS_URL", &redis_url),
            ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY),
        ],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let printed: toml::Table = toml::from_str(&outcome.stdout).unwrap();
    assert_eq!(
        printed["providers"]["spotify"]["client_secret"].as_str(),
        Some("[redacted]")
    );
    assert_eq!(
        printed["providers"]["demo"]["client_secret"].as_str(),
        Some("[redacted]")
    );
    assert_eq!(printed["secrets"]["seal_key"].as_str(), Some("[redacted]"));
    let shown_redis = printed["store"]["redis_url"].as_str().unwrap();
    assert!(shown_redis.contains("127.0.0.1:6379"), "{shown_redis}");
    let both = outcome.both();
    for secret in [
        spotify_secret,
        redis_password,
        SEAL_KEY,
        &demo_client_secret(),
    ] {
        assert!(!both.contains(secret), "{secret:?} printed:\n{both}");
    }
}

#[test]
fn check_config_lists_every_problem_one_per_line_and_exits_1() {
    let outcome = run(broker(
        &["check-config"],
        &[
            ("BROKER__SERVER__BIND", "not-an-address"),
            ("BROKER__SERVER__TRUSTED_PROXIES", "10.0.0.0/33"),
            ("BROKER__SESSIONS__IDLE_TIMEOUT_SECS", "5"),
        ],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let problems = lines(&outcome.stderr);
    assert_eq!(problems.len(), 3, "{}", outcome.describe());
    for line in &problems {
        assert!(line.starts_with("configuration: "), "{line:?}");
    }
    assert!(problems.iter().any(|l| l.contains("server.bind")));
    assert!(
        problems
            .iter()
            .any(|l| l.contains("server.trusted_proxies"))
    );
    assert!(
        problems
            .iter()
            .any(|l| l.contains("sessions.idle_timeout_secs"))
    );
    assert!(outcome.stdout.trim().is_empty(), "{}", outcome.describe());
}

#[test]
fn check_config_refuses_an_unknown_key_naming_it() {
    let outcome = run(broker(
        &["check-config"],
        &[("BROKER__SERVER__BND", "0.0.0.0:8080")],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let problems = lines(&outcome.stderr);
    assert_eq!(problems.len(), 1, "{}", outcome.describe());
    assert!(
        problems[0].starts_with("configuration: "),
        "{}",
        problems[0]
    );
    assert!(problems[0].contains("bnd"), "{}", problems[0]);
}

#[test]
fn check_config_in_production_refuses_the_demo_and_a_missing_seal_key() {
    let outcome = run(broker(
        &["check-config"],
        &[
            ("BROKER_ENV", "production"),
            ("BROKER__PROVIDERS__DEMO__ENABLED", "true"),
        ],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let problems = lines(&outcome.stderr);
    assert_eq!(problems.len(), 2, "{}", outcome.describe());
    assert!(
        problems
            .iter()
            .any(|l| l.contains("providers.demo") && l.contains("BROKER_ENV=production")),
        "{}",
        outcome.describe()
    );
    assert!(
        problems.iter().any(|l| l.contains("secrets.seal_key")),
        "{}",
        outcome.describe()
    );
}

#[test]
fn config_flag_adds_a_file_over_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra.toml");
    std::fs::write(&extra, "[sessions]\nheartbeat_secs = 3\n").unwrap();
    let outcome = run(broker(
        &["check-config", "--config", extra.to_str().unwrap()],
        &[],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let printed: toml::Table = toml::from_str(&outcome.stdout).unwrap();
    assert_eq!(printed["sessions"]["heartbeat_secs"].as_integer(), Some(3));
}

#[test]
fn config_flag_naming_a_missing_file_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = broker(&["check-config", "--config", "missing.toml"], &[]);
    command.current_dir(dir.path());
    let outcome = run(command);
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    assert!(
        outcome.stderr.contains("missing.toml"),
        "{}",
        outcome.describe()
    );
}

#[test]
fn runs_from_a_directory_holding_a_copy_of_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/default.toml"),
        "[server]\nbind = \"127.0.0.1:7777\"\n[providers.demo]\npreset = \"demo\"\nclient_id = \"id\"\nclient_secret = \"s\"\n",
    )
    .unwrap();
    let mut command = broker(&["check-config"], &[]);
    command.current_dir(dir.path());
    let outcome = run(command);
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let printed: toml::Table = toml::from_str(&outcome.stdout).unwrap();
    assert_eq!(printed["server"]["bind"].as_str(), Some("127.0.0.1:7777"));
}
