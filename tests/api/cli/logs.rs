//! What reaches the log at debug level, and what never does.

use super::{RunningBroker, SEAL_KEY, WAIT, demo_client_secret, http_get_status};

#[test]
fn debug_logs_never_show_client_secrets_or_the_seal_key() {
    let spotify_secret = "spotify-secret-0c3d55";
    let mut server = RunningBroker::spawn(&[
        ("RUST_LOG", "debug"),
        ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY),
        ("SPOTIFY_CLIENT_ID", "spotify-id"),
        ("SPOTIFY_CLIENT_SECRET", spotify_secret),
        ("BROKER__SERVER__SHUTDOWN_GRACE_SECS", "2"),
    ]);
    server.wait_until_healthy();
    assert_eq!(http_get_status(server.addr, "/signin/whatever"), 400);
    let (status, _) = server.terminate(WAIT);
    assert!(status.is_some_and(|s| s.success()), "{}", server.log());

    let log = server.log();
    assert!(
        log.contains("GET /signin/") && log.contains(" 400 "),
        "the request reached the log:\n{log}"
    );
    assert!(
        log.contains(" DEBUG "),
        "RUST_LOG=debug took effect:\n{log}"
    );
    // The ticket is a one-use credential too: the access log shows the route, not its value.
    for secret in [
        demo_client_secret().as_str(),
        SEAL_KEY,
        spotify_secret,
        "whatever",
    ] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
}
