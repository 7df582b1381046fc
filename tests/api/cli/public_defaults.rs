//! Safe defaults a public deployment gets from `serve` and `check-config` alike: the demo
//! provider kept off public binds and out of production whatever layer configures it, plain
//! HTTP to providers refused in production, warnings for what weakens sign-in, and maxima on
//! durations and counts.

use super::{Outcome, broker, free_addr, lines, run};
use crate::helpers::SEAL_KEY;

const PRODUCTION: &[(&str, &str)] = &[
    ("BROKER_ENV", "production"),
    ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY),
    ("SPOTIFY_CLIENT_ID", "spotify-id"),
    ("SPOTIFY_CLIENT_SECRET", "spotify-secret"),
    ("BROKER__SERVER__METRICS_BIND", ""),
];

fn with<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

/// Both commands refuse, exit 1, with a configuration line holding every word of `words`.
fn both_refuse(env: &[(&str, &str)], config: Option<&str>, words: &[&str]) {
    for command in ["check-config", "serve"] {
        let mut args = vec![command];
        if let Some(file) = config {
            args.extend(["--config", file]);
        }
        let outcome = run(broker(&args, env));
        assert_eq!(outcome.code(), Some(1), "{command}: {}", outcome.describe());
        assert_line(&outcome, words, command);
    }
}

fn assert_line(outcome: &Outcome, words: &[&str], command: &str) {
    let both = outcome.both();
    assert!(
        lines(&both)
            .iter()
            .any(|l| words.iter().all(|w| l.contains(w))),
        "{command}: no line with {words:?}:\n{}",
        outcome.describe()
    );
}

#[test]
fn the_demo_provider_is_refused_on_a_public_bind_unless_allowed() {
    let public = format!("0.0.0.0:{}", free_addr().port());
    let env = [
        ("BROKER__SERVER__BIND", public.as_str()),
        ("BROKER__SERVER__METRICS_BIND", ""),
    ];
    both_refuse(
        &env,
        None,
        &["providers.demo", "demo.allow_public", "loopback"],
    );

    let allowed = with(&env, &[("BROKER__DEMO__ALLOW_PUBLIC", "true")]);
    let outcome = run(broker(&["check-config"], &allowed));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let local = run(broker(&["check-config"], &[]));
    assert_eq!(
        local.code(),
        Some(0),
        "loopback needs nothing: {}",
        local.describe()
    );
}

#[test]
fn production_names_a_configured_demo_provider_whatever_layer_turned_it_off() {
    let ok = run(broker(&["check-config"], PRODUCTION));
    assert_eq!(
        ok.code(),
        Some(0),
        "default.toml's demo is not loaded: {}",
        ok.describe()
    );
    assert!(!ok.stdout.contains("[providers.demo]"), "{}", ok.stdout);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("extra.toml");
    std::fs::write(
        &file,
        "[providers.demo]\npreset = \"demo\"\nclient_id = \"x\"\nclient_secret = \"y\"\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    both_refuse(
        PRODUCTION,
        Some(file),
        &["providers.demo", "BROKER_ENV=production"],
    );
    // An environment layer turning it off does not hide it.
    let off = with(PRODUCTION, &[("BROKER__PROVIDERS__DEMO__ENABLED", "false")]);
    both_refuse(&off, Some(file), &["providers.demo", "enabled = false"]);
    // Nor does another name.
    let renamed = with(
        PRODUCTION,
        &[
            ("BROKER__PROVIDERS__PLAY__PRESET", "demo"),
            ("BROKER__PROVIDERS__PLAY__CLIENT_ID", "x"),
            ("BROKER__PROVIDERS__PLAY__CLIENT_SECRET", "y"),
        ],
    );
    both_refuse(&renamed, None, &["providers.play", "BROKER_ENV=production"]);
}

#[test]
fn production_refuses_plain_http_provider_urls_other_than_loopback() {
    let acme = |token_url: &'static str| {
        with(
            PRODUCTION,
            &[
                ("BROKER__PROVIDERS__ACME__CLIENT_ID", "acme-id"),
                ("BROKER__PROVIDERS__ACME__CLIENT_SECRET", "acme-secret"),
                (
                    "BROKER__PROVIDERS__ACME__AUTHORIZE_URL",
                    "https://idp.example.com/authorize",
                ),
                ("BROKER__PROVIDERS__ACME__TOKEN_URL", token_url),
            ],
        )
    };
    both_refuse(
        &acme("http://idp.example.com/token"),
        None,
        &[
            "providers.acme.token_url",
            "http://idp.example.com/token",
            "https://",
        ],
    );
    let sidecar = run(broker(
        &["check-config"],
        &acme("http://127.0.0.1:7000/token"),
    ));
    assert_eq!(sidecar.code(), Some(0), "{}", sidecar.describe());
}

#[test]
fn turning_off_pkce_or_confirmation_codes_warns_naming_the_risk() {
    let env = with(
        PRODUCTION,
        &[
            ("BROKER__PROVIDERS__SPOTIFY__PKCE", "false"),
            ("BROKER__SIGNIN__CONFIRM_CODE", "false"),
        ],
    );
    let outcome = run(broker(&["check-config"], &env));
    assert_eq!(
        outcome.code(),
        Some(0),
        "warnings, not problems: {}",
        outcome.describe()
    );
    assert_line(
        &outcome,
        &["providers.spotify.pkce = false", "authorization code"],
        "check-config",
    );
    assert_line(
        &outcome,
        &["signin.confirm_code = false", "session swapping"],
        "check-config",
    );
    let quiet = run(broker(&["check-config"], PRODUCTION));
    assert!(
        !quiet.both().contains("pkce = false"),
        "{}",
        quiet.describe()
    );
}

#[test]
fn absurd_durations_and_limits_are_refused_naming_the_key() {
    let env = [
        ("BROKER__SERVER__METRICS_BIND", ""),
        ("BROKER__SIGNIN__STATE_TTL_SECS", "9223372036854775807"),
        ("BROKER__SESSIONS__RESUME_GRACE_SECS", "9999999999"),
        ("BROKER__LIMITS__SESSIONS_PER_CLIENT", "1000000000000"),
    ];
    for command in ["check-config", "serve"] {
        let outcome = run(broker(&[command], &env));
        assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
        for key in [
            "signin.state_ttl_secs",
            "sessions.resume_grace_secs",
            "limits.sessions_per_client",
        ] {
            assert_line(&outcome, &[key, "maximum"], command);
        }
        assert!(
            !outcome.stderr.contains("panicked"),
            "{}",
            outcome.describe()
        );
    }
}
