//! Shortcuts kept for the seed's users (`SPOTIFY_CLIENT_ID`, `SPOTIFY_CLIENT_SECRET`,
//! `REDIS_URL`), and what wins over them.

use super::{config_dir, load, sources, validate};
use oauth_broker::settings::ClientAuth;
use secrecy::ExposeSecret;

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
        spotify.preset.as_deref(),
        Some("spotify"),
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
