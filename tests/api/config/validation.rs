//! Validation (`startup::validate`): every problem at once, and each setting's rule.

use super::{
    ACME_PROVIDER, acme_problems, assert_one_problem, assert_some_problem, config_dir, load,
    sources, validate,
};

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
