//! Secrets from files (`X_FILE`), as Docker and Kubernetes mount them.

use super::{
    ACME_PROVIDER, SEAL_KEY, assert_some_problem, config_dir, load, load_problems, sources,
    validate,
};
use secrecy::ExposeSecret;
use tempfile::TempDir;

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
