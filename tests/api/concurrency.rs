//! Many sessions at once: each gets exactly its own token, once.

use crate::helpers;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, settings_with};
use futures_util::future::join_all;
use std::time::Duration;

const SESSIONS: usize = 1000;

#[actix_web::test]
async fn a_thousand_concurrent_sign_ins_each_get_exactly_their_own_token() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    // All sessions come from 127.0.0.1: per-address limits are another test's subject.
    helpers::per_client_limits_off(&mut settings);
    let app = TestApp::spawn(settings).await;

    let mut sockets = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        sockets.push(app.connect().await);
    }
    let flows = sockets.into_iter().enumerate().map(|(i, mut ws)| {
        let app = &app;
        async move {
            // The code is unique per session, and the mock's token is derived from it.
            let code = format!("code{i}x{}", ws.session());
            let signedin = app.sign_in(&mut ws, &code).await;
            assert_eq!(signedin["access_token"], format!("at-{code}"));
            ws
        }
    });
    let mut sockets = join_all(flows).await;

    // Nothing else arrives on any socket: no stray or duplicate token.
    let strays = join_all(
        sockets
            .iter_mut()
            .map(|ws| ws.try_recv(Duration::from_millis(300))),
    )
    .await;
    assert!(
        strays.iter().all(Option::is_none),
        "no socket got a second frame"
    );
    assert_eq!(
        mock.requests().len(),
        SESSIONS,
        "one token request per sign-in"
    );
}
