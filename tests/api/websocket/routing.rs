//! Results go only to the session that began the sign-in.

use super::{QUIET, finish_in_browser};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, settings_with};

#[actix_web::test]
async fn results_go_only_to_the_session_that_began_the_sign_in() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut a = app.connect().await;
    let mut b = app.connect().await;
    assert_ne!(a.session(), b.session());
    let _link_a = a.begin("mock").await;
    let link_b = b.begin("mock").await;

    finish_in_browser(&app, &link_b, "bee").await;
    let confirm = b.expect("confirm").await;
    assert_eq!(confirm["provider"], "mock");
    assert_eq!(
        a.try_recv(QUIET).await,
        None,
        "A hears nothing of B's sign-in"
    );
}
