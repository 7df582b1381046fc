//! Layering: built-in defaults < `default.toml` < `{BROKER_ENV}.toml` < `--config` <
//! `BROKER__` variables; how values from the environment parse.

use super::{
    ACME_PROVIDER, assert_one_problem, config_dir, load, load_problems, sources, validate,
};
use secrecy::ExposeSecret;

#[test]
fn built_in_defaults_apply_without_any_file() {
    let dir = config_dir(&[]);
    let settings = load(&sources(dir.path(), &[]));
    assert_eq!(settings.server.bind, "127.0.0.1:8080");
    assert_eq!(settings.server.public_url, "http://localhost:8080");
    assert_eq!(settings.server.callback_url, None);
    assert_eq!(settings.server.metrics_bind, "127.0.0.1:9090");
    assert!(settings.server.trusted_proxies.is_empty());
    assert_eq!(settings.server.shutdown_grace_secs, 20);
    assert!(settings.providers.is_empty());
    assert_eq!(settings.signin.ticket_ttl_secs, 120);
    assert_eq!(settings.signin.state_ttl_secs, 600);
    assert!(settings.signin.confirm_code);
    assert_eq!(settings.signin.confirm_ttl_secs, 300);
    assert_eq!(settings.signin.confirm_attempts, 5);
    assert_eq!(settings.sessions.heartbeat_secs, 10);
    assert_eq!(settings.sessions.idle_timeout_secs, 30);
    assert_eq!(settings.sessions.resume_grace_secs, 120);
    assert_eq!(settings.sessions.max_connections, 100_000);
    assert_eq!(settings.sessions.max_message_bytes, 8192);
    assert!(settings.sessions.allowed_origins.is_empty());
    assert!(settings.store.redis_url.is_none());
    assert_eq!(
        settings.extension.tableau_api_url,
        "static/vendor/tableau.extensions.1.latest.min.js"
    );
    assert!(settings.secrets.seal_key.is_none());
}

#[test]
fn default_toml_overrides_built_in_defaults() {
    let dir = config_dir(&[(
        "default.toml",
        "[server]\nbind = \"127.0.0.1:1111\"\n[sessions]\nheartbeat_secs = 4\n",
    )]);
    let settings = load(&sources(dir.path(), &[]));
    assert_eq!(settings.server.bind, "127.0.0.1:1111");
    assert_eq!(settings.sessions.heartbeat_secs, 4);
    // Keys the file does not name keep their built-in defaults.
    assert_eq!(settings.server.public_url, "http://localhost:8080");
    assert_eq!(settings.sessions.idle_timeout_secs, 30);
}

#[test]
fn broker_env_file_overrides_default_toml() {
    let dir = config_dir(&[
        (
            "default.toml",
            "[server]\nbind = \"127.0.0.1:1111\"\nshutdown_grace_secs = 11\n",
        ),
        ("staging.toml", "[server]\nbind = \"127.0.0.1:2222\"\n"),
    ]);
    let settings = load(&sources(dir.path(), &[("BROKER_ENV", "staging")]));
    assert_eq!(settings.server.bind, "127.0.0.1:2222");
    assert_eq!(
        settings.server.shutdown_grace_secs, 11,
        "default.toml still applies"
    );
}

#[test]
fn broker_env_file_is_ignored_without_broker_env() {
    let dir = config_dir(&[
        ("default.toml", "[server]\nbind = \"127.0.0.1:1111\"\n"),
        ("staging.toml", "[server]\nbind = \"127.0.0.1:2222\"\n"),
    ]);
    let settings = load(&sources(dir.path(), &[]));
    assert_eq!(settings.server.bind, "127.0.0.1:1111");
}

#[test]
fn config_file_overrides_broker_env_file() {
    let dir = config_dir(&[
        (
            "default.toml",
            "[server]\nbind = \"127.0.0.1:1111\"\nshutdown_grace_secs = 11\n",
        ),
        (
            "staging.toml",
            "[server]\nbind = \"127.0.0.1:2222\"\nworkers = 2\n",
        ),
        ("extra.toml", "[server]\nbind = \"127.0.0.1:3333\"\n"),
    ]);
    let mut sources = sources(dir.path(), &[("BROKER_ENV", "staging")]);
    sources.config_file = Some(dir.path().join("extra.toml"));
    let settings = load(&sources);
    assert_eq!(settings.server.bind, "127.0.0.1:3333");
    assert_eq!(settings.server.workers, 2, "staging.toml still applies");
    assert_eq!(
        settings.server.shutdown_grace_secs, 11,
        "default.toml still applies"
    );
}

#[test]
fn broker_config_variable_names_the_extra_file() {
    let dir = config_dir(&[
        ("default.toml", "[server]\nbind = \"127.0.0.1:1111\"\n"),
        ("extra.toml", "[server]\nbind = \"127.0.0.1:3333\"\n"),
    ]);
    let extra = dir.path().join("extra.toml");
    let settings = load(&sources(
        dir.path(),
        &[("BROKER_CONFIG", extra.to_str().unwrap())],
    ));
    assert_eq!(settings.server.bind, "127.0.0.1:3333");
}

#[test]
fn config_argument_is_used_over_broker_config() {
    let dir = config_dir(&[
        (
            "from-variable.toml",
            "[server]\nbind = \"127.0.0.1:4444\"\n",
        ),
        (
            "from-argument.toml",
            "[server]\nbind = \"127.0.0.1:5555\"\n",
        ),
    ]);
    let variable = dir.path().join("from-variable.toml");
    let mut sources = sources(dir.path(), &[("BROKER_CONFIG", variable.to_str().unwrap())]);
    sources.config_file = Some(dir.path().join("from-argument.toml"));
    assert_eq!(load(&sources).server.bind, "127.0.0.1:5555");
}

#[test]
fn missing_config_file_is_a_problem_naming_it() {
    let dir = config_dir(&[]);
    let mut sources = sources(dir.path(), &[]);
    sources.config_file = Some(dir.path().join("missing.toml"));
    assert_one_problem(&load_problems(&sources), &["missing.toml"]);
}

#[test]
fn environment_variables_override_every_file() {
    let dir = config_dir(&[
        ("default.toml", "[server]\nbind = \"127.0.0.1:1111\"\n"),
        ("staging.toml", "[server]\nbind = \"127.0.0.1:2222\"\n"),
        ("extra.toml", "[server]\nbind = \"127.0.0.1:3333\"\n"),
    ]);
    let mut sources = sources(
        dir.path(),
        &[
            ("BROKER_ENV", "staging"),
            ("BROKER__SERVER__BIND", "0.0.0.0:8080"),
        ],
    );
    sources.config_file = Some(dir.path().join("extra.toml"));
    assert_eq!(load(&sources).server.bind, "0.0.0.0:8080");
}

#[test]
fn environment_number_parses_as_a_number() {
    let dir = config_dir(&[("default.toml", "[sessions]\nheartbeat_secs = 4\n")]);
    let settings = load(&sources(
        dir.path(),
        &[("BROKER__SESSIONS__HEARTBEAT_SECS", "7")],
    ));
    assert_eq!(settings.sessions.heartbeat_secs, 7);
}

#[test]
fn environment_boolean_parses_as_a_boolean() {
    let dir = config_dir(&[]);
    let settings = load(&sources(
        dir.path(),
        &[("BROKER__SIGNIN__CONFIRM_CODE", "false")],
    ));
    assert!(!settings.signin.confirm_code);
}

#[test]
fn environment_list_splits_on_commas() {
    let dir = config_dir(&[]);
    let settings = load(&sources(
        dir.path(),
        &[(
            "BROKER__SESSIONS__ALLOWED_ORIGINS",
            "https://a.example,https://b.example",
        )],
    ));
    assert_eq!(
        settings.sessions.allowed_origins,
        ["https://a.example", "https://b.example"]
    );
}

#[test]
fn environment_scopes_split_on_spaces() {
    let dir = config_dir(&[("default.toml", ACME_PROVIDER)]);
    let settings = load(&sources(
        dir.path(),
        &[("BROKER__PROVIDERS__ACME__SCOPES", "a b")],
    ));
    assert_eq!(
        settings.providers["acme"].scopes,
        Some(vec!["a".into(), "b".into()])
    );
    let validated = validate(settings, false);
    assert_eq!(validated.providers.get("acme").unwrap().scopes, ["a", "b"]);
}

#[test]
fn lists_in_files_stay_lists() {
    let dir = config_dir(&[(
        "default.toml",
        "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.168.0.0/16\"]\n",
    )]);
    let settings = load(&sources(dir.path(), &[]));
    assert_eq!(
        settings.server.trusted_proxies,
        ["10.0.0.0/8", "192.168.0.0/16"]
    );
}

#[test]
fn environment_can_add_a_whole_provider() {
    let dir = config_dir(&[]);
    let settings = load(&sources(
        dir.path(),
        &[
            ("BROKER__PROVIDERS__ACME__CLIENT_ID", "acme-id"),
            ("BROKER__PROVIDERS__ACME__CLIENT_SECRET", "acme-secret"),
            (
                "BROKER__PROVIDERS__ACME__AUTHORIZE_URL",
                "https://idp.example.com/authorize",
            ),
            (
                "BROKER__PROVIDERS__ACME__TOKEN_URL",
                "https://idp.example.com/token",
            ),
        ],
    ));
    let validated = validate(settings, false);
    let acme = validated.providers.get("acme").expect("provider acme");
    assert_eq!(acme.client_id, "acme-id");
    assert_eq!(acme.client_secret.expose_secret(), "acme-secret");
}
