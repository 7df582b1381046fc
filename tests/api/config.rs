//! Configuration as the contract describes it: the layers and which one wins, the shortcuts,
//! secrets from `_FILE` variables, unknown keys, production rules and start-up validation.
//!
//! Every test loads from its own temporary `config/` directory (or the repository's, for what
//! ships) and an environment given as a map, so none touches the process environment.

use oauth_broker::oauth::provider::Preset;
use oauth_broker::settings::{self, ClientAuth, Settings, Sources};
use oauth_broker::startup::{self, Validated};
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// 32 bytes, base64, as `openssl rand -base64 32` prints them.
const SEAL_KEY: &str = "A12iiBF9pMoWv7hekO25xBFTN8N5lYvap7bf8IYAKsg=";

/// A provider configured by URLs alone, so validation has something to work with.
const ACME_PROVIDER: &str = r#"
[providers.acme]
client_id = "acme-id"
client_secret = "acme-secret"
authorize_url = "https://idp.example.com/authorize"
token_url = "https://idp.example.com/token"
"#;

/// A `config/` directory holding the given files.
fn config_dir(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// The `config/` directory that ships in the repository.
fn shipped_config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn sources(dir: &Path, env: &[(&str, &str)]) -> Sources {
    Sources {
        config_dir: dir.to_path_buf(),
        config_file: None,
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<_, _>>(),
    }
}

fn load(sources: &Sources) -> Settings {
    settings::load(sources).unwrap_or_else(|p| panic!("settings load:\n{p}"))
}

fn load_problems(sources: &Sources) -> Vec<String> {
    match settings::load(sources) {
        Ok(_) => panic!("loading was expected to fail"),
        Err(problems) => problems.0,
    }
}

fn validate(settings: Settings, production: bool) -> Validated {
    startup::validate(settings, production, None).unwrap_or_else(|p| panic!("validate:\n{p}"))
}

fn validation_problems(settings: Settings, production: bool) -> Vec<String> {
    match startup::validate(settings, production, None) {
        Ok(_) => panic!("validation was expected to fail"),
        Err(problems) => problems.0,
    }
}

/// Loads `ACME_PROVIDER` plus the environment and validates; the problems found.
fn acme_problems(env: &[(&str, &str)]) -> Vec<String> {
    let dir = config_dir(&[("default.toml", ACME_PROVIDER)]);
    validation_problems(load(&sources(dir.path(), env)), false)
}

/// Asserts exactly one problem, containing every one of `needles`.
fn assert_one_problem(problems: &[String], needles: &[&str]) {
    assert_eq!(problems.len(), 1, "expected one problem, got {problems:#?}");
    for needle in needles {
        assert!(
            problems[0].contains(needle),
            "{:?} should mention {needle:?}",
            problems[0]
        );
    }
}

fn assert_some_problem(problems: &[String], needles: &[&str]) {
    assert!(
        problems
            .iter()
            .any(|p| needles.iter().all(|needle| p.contains(needle))),
        "no problem mentions all of {needles:?}: {problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Layering: built-in defaults < default.toml < {BROKER_ENV}.toml < --config < BROKER__ variables
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Shortcuts kept for the seed's users
// ---------------------------------------------------------------------------------------------

#[test]
fn spotify_shortcuts_create_a_working_spotify_provider() {
    let dir = config_dir(&[]);
    let settings = load(&sources(
        dir.path(),
        &[
            ("SPOTIFY_CLIENT_ID", "spotify-id"),
            ("SPOTIFY_CLIENT_SECRET", "spotify-secret"),
        ],
    ));
    let validated = validate(settings, false);
    assert_eq!(validated.providers.names(), ["spotify"]);
    let spotify = validated.providers.get("spotify").unwrap();
    assert_eq!(
        spotify.preset,
        Some(Preset::Spotify),
        "preset from the name"
    );
    assert_eq!(
        spotify.authorize_url.as_str(),
        "https://accounts.spotify.com/authorize"
    );
    assert_eq!(
        spotify.token_url.as_str(),
        "https://accounts.spotify.com/api/token"
    );
    assert_eq!(spotify.scopes, ["user-top-read"]);
    assert_eq!(spotify.client_auth, ClientAuth::Basic);
    assert!(spotify.pkce);
    assert_eq!(spotify.client_id, "spotify-id");
    assert_eq!(spotify.client_secret.expose_secret(), "spotify-secret");
    assert_eq!(
        spotify.redirect_uri,
        "http://localhost:8080/complete/spotify"
    );
}

#[test]
fn redis_url_shortcut_sets_store_redis_url() {
    let dir = config_dir(&[]);
    let settings = load(&sources(
        dir.path(),
        &[("REDIS_URL", "redis://:pw@redis.internal:6379/0")],
    ));
    assert_eq!(
        settings.store.redis_url.unwrap().expose_secret(),
        "redis://:pw@redis.internal:6379/0"
    );
}

#[test]
fn broker_variable_beats_the_spotify_shortcut() {
    let dir = config_dir(&[]);
    let settings = load(&sources(
        dir.path(),
        &[
            ("SPOTIFY_CLIENT_ID", "from-shortcut"),
            (
                "BROKER__PROVIDERS__SPOTIFY__CLIENT_ID",
                "from-broker-variable",
            ),
            ("SPOTIFY_CLIENT_SECRET", "spotify-secret"),
        ],
    ));
    assert_eq!(
        settings.providers["spotify"].client_id,
        "from-broker-variable"
    );
}

#[test]
fn broker_variable_beats_the_redis_url_shortcut() {
    let dir = config_dir(&[]);
    let settings = load(&sources(
        dir.path(),
        &[
            ("REDIS_URL", "redis://shortcut:6379/0"),
            ("BROKER__STORE__REDIS_URL", "redis://explicit:6379/0"),
        ],
    ));
    assert_eq!(
        settings.store.redis_url.unwrap().expose_secret(),
        "redis://explicit:6379/0"
    );
}

#[test]
fn spotify_shortcut_beats_config_files() {
    let dir = config_dir(&[(
        "default.toml",
        "[providers.spotify]\nclient_id = \"from-file\"\n",
    )]);
    let settings = load(&sources(
        dir.path(),
        &[("SPOTIFY_CLIENT_ID", "from-shortcut")],
    ));
    assert_eq!(settings.providers["spotify"].client_id, "from-shortcut");
}

// ---------------------------------------------------------------------------------------------
// Secrets from files (`X_FILE`)
// ---------------------------------------------------------------------------------------------

/// Writes a secret file as Docker and Kubernetes mount them (with a trailing newline).
fn secret_file(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn spotify_client_secret_file_is_read_without_the_trailing_newline() {
    let dir = config_dir(&[]);
    let file = secret_file(&dir, "spotify-secret", "secret-from-file\n");
    let settings = load(&sources(
        dir.path(),
        &[
            ("SPOTIFY_CLIENT_ID", "spotify-id"),
            ("SPOTIFY_CLIENT_SECRET_FILE", &file),
        ],
    ));
    let validated = validate(settings, false);
    let spotify = validated.providers.get("spotify").unwrap();
    assert_eq!(spotify.client_secret.expose_secret(), "secret-from-file");
}

#[test]
fn seal_key_file_is_read_without_the_trailing_newline() {
    let dir = config_dir(&[("default.toml", ACME_PROVIDER)]);
    let file = secret_file(&dir, "seal-key", &format!("{SEAL_KEY}\r\n"));
    let settings = load(&sources(
        dir.path(),
        &[("BROKER__SECRETS__SEAL_KEY_FILE", &file)],
    ));
    assert_eq!(
        settings.secrets.seal_key.as_ref().unwrap().expose_secret(),
        SEAL_KEY
    );
    let validated = validate(settings, false);
    assert!(
        !validated.warnings.iter().any(|w| w.contains("seal_key")),
        "a configured key is used, not a random one: {:?}",
        validated.warnings
    );
}

#[test]
fn redis_url_file_is_read_without_the_trailing_newline() {
    let dir = config_dir(&[]);
    let file = secret_file(&dir, "redis-url", "redis://:pw@redis.internal:6379/0\n");
    let settings = load(&sources(dir.path(), &[("REDIS_URL_FILE", &file)]));
    assert_eq!(
        settings.store.redis_url.unwrap().expose_secret(),
        "redis://:pw@redis.internal:6379/0"
    );
}

#[test]
fn missing_secret_file_is_a_problem_naming_the_variable() {
    let dir = config_dir(&[]);
    let missing = dir.path().join("nowhere");
    let missing = missing.to_str().unwrap();
    let problems = load_problems(&sources(
        dir.path(),
        &[
            ("SPOTIFY_CLIENT_SECRET_FILE", missing),
            ("BROKER__SECRETS__SEAL_KEY_FILE", missing),
            ("REDIS_URL_FILE", missing),
        ],
    ));
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert_some_problem(&problems, &["SPOTIFY_CLIENT_SECRET_FILE", missing]);
    assert_some_problem(&problems, &["BROKER__SECRETS__SEAL_KEY_FILE", missing]);
    assert_some_problem(&problems, &["REDIS_URL_FILE", missing]);
}

#[test]
fn variable_and_its_file_form_together_are_a_problem() {
    let dir = config_dir(&[]);
    let file = secret_file(&dir, "secret", "from-file\n");
    let problems = load_problems(&sources(
        dir.path(),
        &[
            ("SPOTIFY_CLIENT_SECRET", "inline"),
            ("SPOTIFY_CLIENT_SECRET_FILE", &file),
            ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY),
            ("BROKER__SECRETS__SEAL_KEY_FILE", &file),
        ],
    ));
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_some_problem(
        &problems,
        &["SPOTIFY_CLIENT_SECRET ", "SPOTIFY_CLIENT_SECRET_FILE"],
    );
    assert_some_problem(
        &problems,
        &[
            "BROKER__SECRETS__SEAL_KEY ",
            "BROKER__SECRETS__SEAL_KEY_FILE",
        ],
    );
    for p in &problems {
        assert!(!p.contains(SEAL_KEY), "a problem shows the secret: {p}");
    }
}

// ---------------------------------------------------------------------------------------------
// Unknown keys
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_key_in_a_file_is_an_error_naming_it() {
    let dir = config_dir(&[("default.toml", "[server]\nbnd = \"0.0.0.0:8080\"\n")]);
    assert_one_problem(&load_problems(&sources(dir.path(), &[])), &["bnd"]);
}

#[test]
fn unknown_section_in_a_file_is_an_error_naming_it() {
    let dir = config_dir(&[("default.toml", "[sever]\nbind = \"0.0.0.0:8080\"\n")]);
    assert_one_problem(&load_problems(&sources(dir.path(), &[])), &["sever"]);
}

#[test]
fn unknown_key_in_a_provider_table_is_an_error_naming_it() {
    let dir = config_dir(&[("default.toml", "[providers.acme]\nclient_secrte = \"x\"\n")]);
    assert_one_problem(
        &load_problems(&sources(dir.path(), &[])),
        &["client_secrte"],
    );
}

#[test]
fn unknown_key_from_an_environment_variable_is_an_error_naming_it() {
    let dir = config_dir(&[]);
    let problems = load_problems(&sources(
        dir.path(),
        &[("BROKER__SERVER__BND", "0.0.0.0:8080")],
    ));
    assert_one_problem(&problems, &["bnd"]);
}

// ---------------------------------------------------------------------------------------------
// Providers
// ---------------------------------------------------------------------------------------------

#[test]
fn provider_by_urls_alone_works() {
    let dir = config_dir(&[("default.toml", ACME_PROVIDER)]);
    let validated = validate(load(&sources(dir.path(), &[])), false);
    let acme = validated.providers.get("acme").unwrap();
    assert_eq!(acme.preset, None);
    assert_eq!(
        acme.authorize_url.as_str(),
        "https://idp.example.com/authorize"
    );
    assert_eq!(acme.token_url.as_str(), "https://idp.example.com/token");
    assert_eq!(acme.client_id, "acme-id");
    assert_eq!(acme.client_secret.expose_secret(), "acme-secret");
    assert_eq!(acme.client_auth, ClientAuth::Basic, "the default");
    assert!(acme.pkce, "the default");
    assert_eq!(acme.redirect_uri, "http://localhost:8080/complete/acme");
}

#[test]
fn provider_missing_client_id_client_secret_and_token_url_lists_each() {
    let dir = config_dir(&[(
        "default.toml",
        "[providers.acme]\nauthorize_url = \"https://idp.example.com/authorize\"\n",
    )]);
    let problems = validation_problems(load(&sources(dir.path(), &[])), false);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert_some_problem(&problems, &["providers.acme.client_id"]);
    assert_some_problem(&problems, &["providers.acme.client_secret"]);
    assert_some_problem(&problems, &["providers.acme.token_url"]);
}

#[test]
fn extra_authorize_params_may_not_override_state() {
    let problems = acme_problems(&[(
        "BROKER__PROVIDERS__ACME__EXTRA_AUTHORIZE_PARAMS__STATE",
        "fixed",
    )]);
    assert_one_problem(&problems, &["providers.acme.extra_authorize_params.state"]);
}

#[test]
fn extra_authorize_params_that_are_not_reserved_are_kept() {
    let dir = config_dir(&[(
        "default.toml",
        &format!(
            "{ACME_PROVIDER}\n[providers.acme.extra_authorize_params]\nshow_dialog = \"true\"\n"
        ),
    )]);
    let validated = validate(load(&sources(dir.path(), &[])), false);
    let acme = validated.providers.get("acme").unwrap();
    assert_eq!(
        acme.extra_authorize_params
            .get("show_dialog")
            .map(String::as_str),
        Some("true")
    );
}

#[test]
fn disabled_provider_is_left_out() {
    let problems = acme_problems(&[("BROKER__PROVIDERS__ACME__ENABLED", "false")]);
    assert_one_problem(&problems, &["providers", "at least one provider"]);
}

// ---------------------------------------------------------------------------------------------
// BROKER_ENV=production, and environments without a file
// ---------------------------------------------------------------------------------------------

#[test]
fn production_turns_the_demo_provider_off() {
    let settings = load(&sources(
        &shipped_config_dir(),
        &[
            ("BROKER_ENV", "production"),
            ("SPOTIFY_CLIENT_ID", "spotify-id"),
            ("SPOTIFY_CLIENT_SECRET", "spotify-secret"),
            ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY),
        ],
    ));
    assert!(!settings.providers["demo"].enabled);
    let validated = validate(settings, true);
    assert_eq!(validated.providers.names(), ["spotify"]);
}

#[test]
fn demo_provider_is_on_outside_production() {
    let settings = load(&sources(&shipped_config_dir(), &[]));
    let validated = validate(settings, false);
    assert_eq!(validated.providers.names(), ["demo"]);
    assert_eq!(
        validated.providers.get("demo").unwrap().preset,
        Some(Preset::Demo)
    );
}

#[test]
fn production_requires_a_seal_key() {
    let sources = sources(
        &shipped_config_dir(),
        &[
            ("BROKER_ENV", "production"),
            ("SPOTIFY_CLIENT_ID", "spotify-id"),
            ("SPOTIFY_CLIENT_SECRET", "spotify-secret"),
        ],
    );
    assert!(sources.is_production());
    let problems = validation_problems(load(&sources), true);
    assert_one_problem(&problems, &["secrets.seal_key", "BROKER_ENV=production"]);
}

#[test]
fn production_refuses_a_config_that_turns_the_demo_back_on() {
    let dir = config_dir(&[("extra.toml", "[providers.demo]\nenabled = true\n")]);
    let mut sources = sources(
        &shipped_config_dir(),
        &[
            ("BROKER_ENV", "production"),
            ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY),
        ],
    );
    sources.config_file = Some(dir.path().join("extra.toml"));
    let problems = validation_problems(load(&sources), true);
    assert_one_problem(&problems, &["providers.demo", "BROKER_ENV=production"]);
}

#[test]
fn production_refuses_the_demo_preset_under_another_name() {
    let problems = validation_problems(
        load(&sources(
            &shipped_config_dir(),
            &[
                ("BROKER_ENV", "production"),
                ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY),
                ("BROKER__PROVIDERS__MUSIC__PRESET", "demo"),
                ("BROKER__PROVIDERS__MUSIC__CLIENT_ID", "id"),
                ("BROKER__PROVIDERS__MUSIC__CLIENT_SECRET", "secret"),
            ],
        )),
        true,
    );
    assert_one_problem(&problems, &["providers.music", "BROKER_ENV=production"]);
}

#[test]
fn broker_env_without_its_file_is_a_clear_problem() {
    let problems = load_problems(&sources(
        &shipped_config_dir(),
        &[("BROKER_ENV", "staging")],
    ));
    assert_one_problem(&problems, &["BROKER_ENV=staging", "staging.toml"]);
}

// ---------------------------------------------------------------------------------------------
// secrets.seal_key
// ---------------------------------------------------------------------------------------------

#[test]
fn seal_key_of_32_base64_bytes_is_accepted() {
    let dir = config_dir(&[("default.toml", ACME_PROVIDER)]);
    let settings = load(&sources(
        dir.path(),
        &[("BROKER__SECRETS__SEAL_KEY", SEAL_KEY)],
    ));
    validate(settings, false);
}

#[test]
fn seal_key_of_16_bytes_is_refused() {
    let short = "4M1BIe4mRpYr+2NePpZXhw==";
    let problems = acme_problems(&[("BROKER__SECRETS__SEAL_KEY", short)]);
    assert_one_problem(&problems, &["secrets.seal_key", "32 bytes"]);
    assert!(!problems[0].contains(short), "the problem shows the key");
}

#[test]
fn seal_key_that_is_not_base64_is_refused() {
    let problems = acme_problems(&[(
        "BROKER__SECRETS__SEAL_KEY",
        "this is not base64 at all, not even close!!",
    )]);
    assert_one_problem(&problems, &["secrets.seal_key"]);
}

#[test]
fn seal_key_is_required_with_redis() {
    let problems = acme_problems(&[("REDIS_URL", "redis://127.0.0.1:6379/0")]);
    assert_one_problem(&problems, &["secrets.seal_key", "store.redis_url"]);
}

#[test]
fn seal_key_is_optional_without_redis_outside_production() {
    let dir = config_dir(&[("default.toml", ACME_PROVIDER)]);
    let validated = validate(load(&sources(dir.path(), &[])), false);
    assert!(
        validated
            .warnings
            .iter()
            .any(|w| w.contains("secrets.seal_key")),
        "a random key is used, with a warning: {:?}",
        validated.warnings
    );
}

// ---------------------------------------------------------------------------------------------
// Validation (startup::validate)
// ---------------------------------------------------------------------------------------------

#[test]
fn every_problem_is_listed_at_once() {
    let problems = acme_problems(&[
        ("BROKER__SERVER__BIND", "not-an-address"),
        ("BROKER__SERVER__TRUSTED_PROXIES", "10.0.0.0/33"),
        ("BROKER__SESSIONS__IDLE_TIMEOUT_SECS", "5"),
    ]);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert_some_problem(&problems, &["server.bind", "not-an-address"]);
    assert_some_problem(&problems, &["server.trusted_proxies", "10.0.0.0/33"]);
    assert_some_problem(&problems, &["sessions.idle_timeout_secs"]);
}

#[test]
fn unparseable_bind_address_is_refused() {
    let problems = acme_problems(&[("BROKER__SERVER__BIND", "localhost:http")]);
    assert_one_problem(&problems, &["server.bind", "localhost:http"]);
}

#[test]
fn idle_timeout_not_longer_than_heartbeat_is_refused() {
    let problems = acme_problems(&[
        ("BROKER__SESSIONS__HEARTBEAT_SECS", "10"),
        ("BROKER__SESSIONS__IDLE_TIMEOUT_SECS", "10"),
    ]);
    assert_one_problem(
        &problems,
        &["sessions.idle_timeout_secs", "sessions.heartbeat_secs"],
    );
}

#[test]
fn allowed_origin_that_is_not_an_origin_is_refused() {
    let problems = acme_problems(&[(
        "BROKER__SESSIONS__ALLOWED_ORIGINS",
        "https://ok.example,tableau.example.com",
    )]);
    assert_one_problem(
        &problems,
        &["sessions.allowed_origins", "tableau.example.com"],
    );
}

#[test]
fn allowed_origins_default_to_the_public_url_origin() {
    let dir = config_dir(&[("default.toml", ACME_PROVIDER)]);
    let validated = validate(
        load(&sources(
            dir.path(),
            &[(
                "BROKER__SERVER__PUBLIC_URL",
                "https://broker.example.com/prefix/",
            )],
        )),
        false,
    );
    assert_eq!(validated.allowed_origins, ["https://broker.example.com"]);
}

#[test]
fn trusted_proxy_that_is_not_a_cidr_is_refused() {
    let problems = acme_problems(&[(
        "BROKER__SERVER__TRUSTED_PROXIES",
        "10.0.0.0/8,proxy.internal",
    )]);
    assert_one_problem(&problems, &["server.trusted_proxies", "proxy.internal"]);
}

#[test]
fn public_url_with_a_query_is_refused() {
    let problems = acme_problems(&[(
        "BROKER__SERVER__PUBLIC_URL",
        "https://broker.example.com/?x=1",
    )]);
    assert_one_problem(&problems, &["server.public_url"]);
}

#[test]
fn callback_url_with_a_query_is_refused() {
    let problems = acme_problems(&[(
        "BROKER__SERVER__CALLBACK_URL",
        "https://broker.example.com/?x=1",
    )]);
    assert_one_problem(&problems, &["server.callback_url"]);
}
