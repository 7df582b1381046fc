//! The served `.trex` and the page's CSP `frame-ancestors` (`extension.frame_ancestors`).

use crate::helpers::{TestApp, demo_only_settings};

fn frame_ancestors(csp: &str) -> Option<String> {
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("frame-ancestors "))
        .map(str::to_owned)
}

#[actix_web::test]
async fn the_served_manifest_has_no_template_comment_and_the_configured_name() {
    let mut settings = demo_only_settings();
    settings.extension.name = "Sales sign-in".into();
    settings.extension.id = "com.acme.sales".into();
    let app = TestApp::spawn(settings).await;
    let manifest = app.get("/manifest.trex").await;
    assert_eq!(manifest.status, 200);
    assert!(!manifest.body.contains("<!--"), "{}", manifest.body);
    assert!(!manifest.body.contains("{{"), "{}", manifest.body);
    assert!(
        manifest.body.contains(r#"id="com.acme.sales""#),
        "{}",
        manifest.body
    );
    assert!(
        manifest.body.contains(">Sales sign-in<"),
        "{}",
        manifest.body
    );
    assert!(
        manifest.body.contains("<configure-context-menu-item/>"),
        "the Configure item for dashboard authors: {}",
        manifest.body
    );
}

#[actix_web::test]
async fn the_page_may_be_framed_by_anyone_by_default() {
    let app = TestApp::spawn(demo_only_settings()).await;
    let page = app.get("/").await;
    let csp = page.header("content-security-policy").expect("a CSP");
    assert_eq!(frame_ancestors(csp).as_deref(), Some("*"), "{csp}");
    assert!(
        page.header("x-frame-options").is_none(),
        "Tableau frames it"
    );
}

#[actix_web::test]
async fn frame_ancestors_lists_the_configured_tableau_origins() {
    let mut settings = demo_only_settings();
    settings.extension.frame_ancestors = vec![
        "https://tableau.example.com".into(),
        "https://*.online.tableau.com".into(),
    ];
    let app = TestApp::spawn(settings).await;
    let page = app.get("/").await;
    let csp = page.header("content-security-policy").expect("a CSP");
    assert_eq!(
        frame_ancestors(csp).as_deref(),
        Some("https://tableau.example.com https://*.online.tableau.com"),
        "{csp}"
    );
}
