//! `BROKER_ENV=production`, and environments without a file.

use super::{
    SEAL_KEY, assert_one_problem, config_dir, load, load_problems, shipped_config_dir, sources,
    validate, validation_problems,
};

#[test]
fn production_does_not_load_the_demo_provider_and_keeps_metrics_on_loopback() {
    let settings = load(&sources(
        &shipped_config_dir(),
        &[
            ("BROKER_ENV", "production"),
            ("SPOTIFY_CLIENT_ID", "spotify-id"),
            ("SPOTIFY_CLIENT_SECRET", "spotify-secret"),
            ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY),
        ],
    ));
    assert!(!settings.providers.contains_key("demo"));
    assert_eq!(settings.server.metrics_bind, "127.0.0.1:9090");
    let validated = validate(settings, true);
    assert_eq!(validated.providers.names(), ["spotify"]);
}

#[test]
fn demo_provider_is_on_outside_production() {
    let settings = load(&sources(&shipped_config_dir(), &[]));
    let validated = validate(settings, false);
    assert_eq!(validated.providers.names(), ["demo"]);
    assert_eq!(
        validated.providers.get("demo").unwrap().preset.as_deref(),
        Some("demo")
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
