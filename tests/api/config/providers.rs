//! Providers: by URLs alone, what each must have, reserved parameters, `enabled = false`.

use super::{
    ACME_PROVIDER, acme_problems, assert_one_problem, assert_some_problem, config_dir, load,
    sources, validate, validation_problems,
};
use oauth_broker::settings::ClientAuth;
use secrecy::ExposeSecret;

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
