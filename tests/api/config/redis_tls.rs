//! `store.redis_url` with TLS (`rediss://`) and its files `store.tls_ca`, `store.tls_cert`,
//! `store.tls_key`: each mistake is one problem naming the setting.

use super::{
    ACME_PROVIDER, SEAL_KEY as KEY, acme_problems, assert_one_problem, config_dir, load, sources,
    validate,
};

const SEAL_KEY: (&str, &str) = ("BROKER__SECRETS__SEAL_KEY", KEY);

#[test]
fn rediss_with_existing_tls_files_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.pem");
    std::fs::write(&file, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let file = file.to_str().unwrap();
    let config = config_dir(&[("default.toml", ACME_PROVIDER)]);
    let env = [
        SEAL_KEY,
        (
            "BROKER__STORE__REDIS_URL",
            "rediss://user:pw@redis.example:6380/0",
        ),
        ("BROKER__STORE__TLS_CA", file),
        ("BROKER__STORE__TLS_CERT", file),
        ("BROKER__STORE__TLS_KEY", file),
    ];
    let validated = validate(load(&sources(config.path(), &env)), false);
    assert_eq!(validated.settings.store.tls_ca, file);
}

#[test]
fn tls_files_with_a_plain_redis_url_are_refused() {
    let problems = acme_problems(&[
        SEAL_KEY,
        ("BROKER__STORE__REDIS_URL", "redis://127.0.0.1:6379/0"),
        ("BROKER__STORE__TLS_CA", "Cargo.toml"),
    ]);
    assert_one_problem(&problems, &["store.tls_ca", "rediss://"]);
}

#[test]
fn a_client_certificate_without_its_key_is_refused() {
    let problems = acme_problems(&[
        SEAL_KEY,
        ("BROKER__STORE__REDIS_URL", "rediss://127.0.0.1:6380/0"),
        ("BROKER__STORE__TLS_CERT", "Cargo.toml"),
    ]);
    assert_one_problem(&problems, &["store.tls_cert", "store.tls_key"]);
}

#[test]
fn a_missing_tls_file_is_named() {
    let problems = acme_problems(&[
        SEAL_KEY,
        ("BROKER__STORE__REDIS_URL", "rediss://127.0.0.1:6380/0"),
        ("BROKER__STORE__TLS_CA", "/nonexistent/ca.pem"),
    ]);
    assert_one_problem(&problems, &["store.tls_ca", "/nonexistent/ca.pem"]);
}
