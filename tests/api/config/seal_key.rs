//! `secrets.seal_key`: its form, and when it is required.

use super::{
    ACME_PROVIDER, SEAL_KEY, acme_problems, assert_one_problem, config_dir, load, sources, validate,
};

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
