//! The data file against its JSON Schema: the file the binary embeds is the one checked.

use serde_json::Value;
use std::path::PathBuf;

fn read(relative: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn validator() -> jsonschema::Validator {
    let schema = read("src/oauth/presets.schema.json");
    jsonschema::meta::validate(&schema).expect("the schema is a valid 2020-12 schema");
    jsonschema::draft202012::new(&schema).unwrap()
}

fn catalogue() -> Value {
    read("src/oauth/presets.json")
}

#[test]
fn the_catalogue_matches_its_schema() {
    let catalogue = catalogue();
    let errors: Vec<String> = validator()
        .iter_errors(&catalogue)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_embedded_catalogue_is_the_file_in_the_repository() {
    let embedded: Value =
        serde_json::from_str(oauth_broker::oauth::presets::CATALOGUE_JSON).unwrap();
    assert_eq!(embedded, catalogue());
}

#[test]
fn the_schema_refuses_a_preset_without_docs_or_with_a_plain_http_url() {
    let validator = validator();
    let mut without_docs = catalogue();
    without_docs["presets"][0]
        .as_object_mut()
        .unwrap()
        .remove("docs");
    assert!(!validator.is_valid(&without_docs));

    let mut plain_http = catalogue();
    plain_http["presets"][0]["token_url"] = "http://accounts.example.com/token".into();
    assert!(!validator.is_valid(&plain_http));

    let mut unknown_placeholder = catalogue();
    unknown_placeholder["presets"][0]["params"]["region"] =
        serde_json::json!({"description": "d", "example": "e"});
    assert!(!validator.is_valid(&unknown_placeholder));

    let mut oidc_without_issuer = catalogue();
    let google = oidc_without_issuer["presets"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["name"] == "google")
        .unwrap();
    google.as_object_mut().unwrap().remove("issuer");
    assert!(!validator.is_valid(&oidc_without_issuer));
}

#[test]
fn every_preset_links_its_documentation_and_names_where_other_facts_came_from() {
    for preset in catalogue()["presets"].as_array().unwrap() {
        let docs = preset["docs"].as_str().unwrap();
        assert!(
            docs.starts_with("https://") || preset["name"] == "demo",
            "{docs}"
        );
        for (fact, source) in preset["sources"].as_object().unwrap() {
            assert!(
                source.as_str().unwrap().starts_with("https://"),
                "{}: {fact}",
                preset["name"]
            );
        }
    }
}

#[test]
fn every_preset_resolves_with_sample_params_to_https_urls() {
    use oauth_broker::oauth::Provider;
    use oauth_broker::oauth::presets;
    use oauth_broker::oauth::provider::SelfUrls;
    use oauth_broker::settings::ProviderSettings;
    let own = SelfUrls {
        browser_base: "https://broker.example.com".into(),
        local_base: "http://127.0.0.1:8080".into(),
    };
    for preset in presets::all().iter().filter(|p| p.name != "demo") {
        let settings = ProviderSettings {
            preset: Some(preset.name.clone()),
            client_id: "id".into(),
            client_secret: Some(secrecy::SecretString::from("secret")),
            params: preset.sample_params(),
            ..ProviderSettings::default()
        };
        let provider = Provider::resolve("p", &settings, "https://broker.example.com", &own)
            .unwrap_or_else(|problems| panic!("{}: {problems:#?}", preset.name));
        assert_eq!(provider.authorize_url.scheme(), "https", "{}", preset.name);
        assert_eq!(provider.token_url.scheme(), "https", "{}", preset.name);
        assert!(provider.api_url.starts_with("https://"), "{}", preset.name);
        assert_eq!(provider.openid.is_some(), preset.oidc, "{}", preset.name);
        if let Some(openid) = &provider.openid {
            assert!(openid.issuer.starts_with("https://"), "{}", preset.name);
            assert!(
                provider
                    .scope_param()
                    .split(&provider.scope_separator[..])
                    .any(|s| s == "openid")
            );
        }
        assert_eq!(
            provider.redirect_uri,
            "https://broker.example.com/complete/p"
        );
    }
}
