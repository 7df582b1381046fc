//! `/static/oauth-broker-client.js`: the JavaScript client for pages on any origin.

use crate::helpers::{TestApp, demo_only_settings};

#[actix_web::test]
async fn the_client_module_is_served_to_any_origin_as_javascript() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let module = app.get("/static/oauth-broker-client.js").await;
    assert_eq!(module.status, 200);
    assert_eq!(module.header("access-control-allow-origin"), Some("*"));
    assert!(
        module
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/javascript")),
        "{:?}",
        module.header("content-type")
    );
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/clients/js/oauth-broker-client.js"
    ))
    .unwrap();
    assert_eq!(module.body, source, "the package's module, as it is");
    assert!(module.body.contains("export class BrokerClient"));
}

#[actix_web::test]
async fn other_static_files_are_not_opened_to_other_origins() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let script = app.get("/static/app.js").await;
    assert_eq!(script.status, 200);
    assert!(script.header("access-control-allow-origin").is_none());
}
