//! `/static/oauth-broker-client.js`: the JavaScript client for pages on any origin, and the
//! broker's own page built on it.

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

/// The page is built on the client: its script is a module that imports the client served
/// beside it (no second copy of the protocol), told the broker's public URL; its heading is the
/// provider's name.
#[actix_web::test]
async fn the_page_is_a_module_on_the_client_headed_by_the_providers_name() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let page = app.get("/").await;
    assert!(
        page.body
            .contains("<h1 id=\"title\">Demo music service</h1>")
            && page.body.contains("<title>Demo music service</title>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<script type=\"module\" src=\"static/app.js?v="),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("\"brokerUrl\":\"{}\"", app.base)),
        "the client is told the broker's public URL: {}",
        page.body
    );
    let script = app.get("/static/app.js").await;
    assert!(
        script
            .body
            .contains("import { BrokerClient, BrokerError } from \"./oauth-broker-client.js\";"),
        "app.js imports the client"
    );
    for frame_handling in ["new WebSocket", "\"ack\"", "resume=", "type: \"refresh\""] {
        assert!(
            !script.body.contains(frame_handling),
            "app.js leaves {frame_handling} to the client"
        );
    }
}
