//! `oauth-broker providers` (text and `--json`) and `check-config` with presets that take
//! `params`, through the real binary.

use crate::cli::{broker, run};
use oauth_broker::oauth::presets;

#[test]
fn providers_lists_every_preset_with_its_redirect_uri() {
    let outcome = run(broker(
        &["providers"],
        &[("BROKER__SERVER__CALLBACK_URL", "https://broker.example.com")],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    for preset in presets::all() {
        assert!(
            outcome
                .stdout
                .contains(&format!("{} ({}", preset.name, preset.label)),
            "{}",
            preset.name
        );
        assert!(outcome.stdout.contains(&format!(
            "https://broker.example.com/complete/{}",
            preset.name
        )));
    }
    assert!(
        outcome
            .stdout
            .contains("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"),
        "placeholders are shown as they are"
    );
    assert!(outcome.stdout.contains("providers.microsoft.params.tenant"));
    assert!(outcome.stdout.contains("google (Google, OpenID Connect)"));
    assert!(outcome.stdout.contains("spotify (Spotify, OAuth 2.0)"));
}

#[test]
fn providers_json_is_one_array_with_urls_scopes_oidc_and_redirect_uri() {
    let outcome = run(broker(&["providers", "--json"], &[]));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let list: Vec<serde_json::Value> = serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("{e}:\n{}", outcome.stdout));
    assert_eq!(list.len(), presets::all().len());
    let snowflake = list.iter().find(|p| p["name"] == "snowflake").unwrap();
    assert_eq!(
        snowflake["authorize_url"],
        "https://{account}.snowflakecomputing.com/oauth/authorize"
    );
    assert_eq!(snowflake["placeholders"], serde_json::json!(["account"]));
    assert_eq!(snowflake["oidc"], false);
    assert_eq!(
        snowflake["redirect_uri"], "http://127.0.0.1:8080/complete/snowflake",
        "from config/default.toml's callback_url"
    );
    let google = list.iter().find(|p| p["name"] == "google").unwrap();
    assert_eq!(google["oidc"], true);
    assert_eq!(
        google["scopes"],
        serde_json::json!(["openid", "email", "profile"])
    );
    assert_eq!(google["extra_authorize_params"]["access_type"], "offline");
}

fn snowflake_env(account: Option<&str>) -> Vec<(&'static str, String)> {
    let mut env = vec![
        (
            "BROKER__PROVIDERS__SNOWFLAKE__CLIENT_ID",
            "sf-id".to_owned(),
        ),
        (
            "BROKER__PROVIDERS__SNOWFLAKE__CLIENT_SECRET",
            "sf-secret".to_owned(),
        ),
    ];
    if let Some(account) = account {
        env.push((
            "BROKER__PROVIDERS__SNOWFLAKE__PARAMS__ACCOUNT",
            account.to_owned(),
        ));
    }
    env
}

fn check_config(env: &[(&'static str, String)]) -> crate::cli::Outcome {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run(broker(&["check-config"], &pairs))
}

#[test]
fn check_config_prints_a_presets_urls_filled_from_params_and_the_redirect_uri() {
    let outcome = check_config(&snowflake_env(Some("myorg-myaccount")));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let line = outcome
        .stdout
        .lines()
        .find(|l| l.contains("#   snowflake:"))
        .unwrap_or_else(|| panic!("{}", outcome.stdout));
    assert!(
        line.contains("authorize https://myorg-myaccount.snowflakecomputing.com/oauth/authorize"),
        "{line}"
    );
    assert!(
        line.contains("token https://myorg-myaccount.snowflakecomputing.com/oauth/token-request"),
        "{line}"
    );
    assert!(
        line.contains("redirect URI to register: http://127.0.0.1:8080/complete/snowflake"),
        "{line}"
    );
}

#[test]
fn a_missing_param_is_a_startup_error_naming_the_key() {
    let outcome = check_config(&snowflake_env(None));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let problems: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| l.contains("providers.snowflake"))
        .collect();
    assert_eq!(
        problems.len(),
        1,
        "one line for the one problem: {problems:#?}"
    );
    assert!(
        problems[0].contains("providers.snowflake.params.account"),
        "{}",
        problems[0]
    );
}

#[test]
fn a_param_that_would_change_the_host_or_path_is_refused() {
    for smuggled in ["evil.example/", "evil.example/x?", "me@evil.example", "a:1"] {
        let outcome = check_config(&snowflake_env(Some(smuggled)));
        assert_eq!(
            outcome.code(),
            Some(1),
            "{smuggled}: {}",
            outcome.describe()
        );
        assert!(
            outcome
                .stderr
                .contains("providers.snowflake.params.account must be a host name"),
            "{smuggled}: {}",
            outcome.stderr
        );
        assert!(
            !outcome.stdout.contains("evil.example"),
            "{}",
            outcome.stdout
        );
    }
}

#[test]
fn a_param_the_preset_does_not_take_is_named() {
    let mut env = snowflake_env(Some("acme"));
    env.push((
        "BROKER__PROVIDERS__SNOWFLAKE__PARAMS__TENANT",
        "x".to_owned(),
    ));
    let outcome = check_config(&env);
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    assert!(
        outcome
            .stderr
            .contains("providers.snowflake.params.tenant is not a placeholder"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn an_unknown_preset_lists_the_known_ones() {
    let outcome = run(broker(
        &["check-config"],
        &[
            ("BROKER__PROVIDERS__ACME__PRESET", "acmecorp"),
            ("BROKER__PROVIDERS__ACME__CLIENT_ID", "id"),
            ("BROKER__PROVIDERS__ACME__CLIENT_SECRET", "secret"),
        ],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    assert!(
        outcome.stderr.contains("providers.acme.preset"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("servicenow"), "{}", outcome.stderr);
}
