//! The built-in provider catalogue, kept as data (`presets.json`, embedded in the binary and
//! checked against `presets.schema.json` by the tests), as Nango and Grant keep theirs: each
//! provider's quirks are fields (scope separator, PKCE, client authentication, extra authorize
//! parameters), not code.
//!
//! A preset's URLs may hold `{tenant}`, `{domain}`, `{account}` or `{instance}`, filled from
//! `providers.<name>.params`. A filled value may only name what the placeholder stands for: DNS
//! labels joined by dots, so `evil.example/` or `x@evil.example` cannot move a URL to another
//! host or path. `{callback_url}` and `{local_url}` (the demo's) are the broker's own addresses.

use crate::settings::ClientAuth;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The catalogue's text, as `oauth-broker providers --json` prints it (parsed and re-serialised).
pub const CATALOGUE_JSON: &str = include_str!("presets.json");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct PresetParam {
    pub description: String,
    pub example: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Preset {
    pub name: String,
    pub label: String,
    pub docs: String,
    pub authorize_url: String,
    pub token_url: String,
    pub api_url: String,
    pub scopes: Vec<String>,
    pub scope_separator: String,
    pub client_auth: ClientAuth,
    pub pkce: bool,
    pub extra_authorize_params: BTreeMap<String, String>,
    pub oidc: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    pub params: BTreeMap<String, PresetParam>,
    pub sources: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unconfirmed: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

#[derive(Deserialize)]
struct Catalogue {
    presets: Vec<Preset>,
}

static PRESETS: LazyLock<Vec<Preset>> = LazyLock::new(|| {
    serde_json::from_str::<Catalogue>(CATALOGUE_JSON)
        // The file is part of the build and a unit test parses it: this cannot fail at run time.
        .expect("src/oauth/presets.json parses")
        .presets
});

/// Every preset, in the catalogue's order.
pub fn all() -> &'static [Preset] {
    &PRESETS
}

pub fn find(name: &str) -> Option<&'static Preset> {
    all().iter().find(|p| p.name == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|p| p.name.as_str()).collect()
}

/// The broker's own addresses, for `{callback_url}` and `{local_url}`.
#[derive(Debug, Clone)]
pub struct OwnUrls<'a> {
    pub callback_url: &'a str,
    pub local_url: &'a str,
}

/// Why a placeholder could not be filled, for a start-up line naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FillError {
    Missing(String),
    Malformed(String),
}

impl Preset {
    /// The `{placeholders}` its URLs use, other than the broker's own, sorted and once each.
    pub fn placeholders(&self) -> Vec<String> {
        let mut found = Vec::new();
        for template in self.templates() {
            let mut rest = template;
            while let Some(start) = rest.find('{') {
                let Some(len) = rest[start..].find('}') else {
                    break;
                };
                let name = &rest[start + 1..start + len];
                if name != "callback_url" && name != "local_url" && !found.iter().any(|f| f == name)
                {
                    found.push(name.to_owned());
                }
                rest = &rest[start + len + 1..];
            }
        }
        found.sort();
        found
    }

    fn templates(&self) -> impl Iterator<Item = &str> {
        [&self.authorize_url, &self.token_url, &self.api_url]
            .into_iter()
            .chain(self.issuer.as_ref())
            .map(String::as_str)
    }

    /// Sample values for every placeholder, from the catalogue's own examples.
    pub fn sample_params(&self) -> BTreeMap<String, String> {
        self.params
            .iter()
            .map(|(k, v)| (k.clone(), v.example.clone()))
            .collect()
    }
}

/// Fills a preset's URL template. Every placeholder must have a well-formed value in `params`.
pub fn fill(
    template: &str,
    params: &BTreeMap<String, String>,
    own: &OwnUrls<'_>,
) -> Result<String, FillError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = &rest[start + 1..start + len];
        match name {
            "callback_url" => out.push_str(own.callback_url),
            "local_url" => out.push_str(own.local_url),
            _ => {
                let value = params
                    .get(name)
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| FillError::Missing(name.to_owned()))?;
                if !is_host_labels(value) {
                    return Err(FillError::Malformed(name.to_owned()));
                }
                out.push_str(&value.to_ascii_lowercase());
            }
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// DNS labels (RFC 1123: letters, digits, inner hyphens, 1 to 63 characters) joined by dots, at
/// most 253 characters: what a tenant domain, an Okta or Auth0 host, a Snowflake account
/// locator or a ServiceNow instance name is. Nothing in it can end a host or start a path,
/// user info, port, query or fragment. Tenant GUIDs fit too.
pub fn is_host_labels(value: &str) -> bool {
    value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Joins scopes as the provider expects them in the `scope` parameter.
pub fn join_scopes(scopes: &[String], separator: &str) -> String {
    scopes.join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT_PROVIDERS: &[&str] = &[
        "spotify",
        "github",
        "gitlab",
        "google",
        "microsoft",
        "salesforce",
        "okta",
        "auth0",
        "slack",
        "dropbox",
        "box",
        "hubspot",
        "atlassian",
        "zoom",
        "linkedin",
        "discord",
        "notion",
        "asana",
        "strava",
        "snowflake",
        "servicenow",
        "demo",
    ];

    fn own() -> OwnUrls<'static> {
        OwnUrls {
            callback_url: "https://broker.example.com",
            local_url: "http://127.0.0.1:8080",
        }
    }

    #[test]
    fn every_provider_the_contract_lists_is_in_the_catalogue_once() {
        for name in CONTRACT_PROVIDERS {
            assert_eq!(
                all().iter().filter(|p| p.name == *name).count(),
                1,
                "{name}"
            );
        }
        assert_eq!(all().len(), CONTRACT_PROVIDERS.len(), "{:?}", names());
    }

    #[test]
    fn placeholders_the_contract_names_are_where_it_says() {
        let of = |name: &str| find(name).unwrap().placeholders();
        assert_eq!(of("microsoft"), ["tenant"]);
        assert_eq!(of("salesforce"), ["domain"]);
        assert_eq!(of("okta"), ["domain"]);
        assert_eq!(of("auth0"), ["domain"]);
        assert_eq!(of("snowflake"), ["account"]);
        assert_eq!(of("servicenow"), ["instance"]);
        assert!(of("spotify").is_empty());
    }

    #[test]
    fn each_preset_declares_exactly_the_placeholders_it_uses() {
        for preset in all() {
            let declared: Vec<String> = preset.params.keys().cloned().collect();
            assert_eq!(declared, preset.placeholders(), "{}", preset.name);
        }
    }

    #[test]
    fn every_preset_resolves_with_its_sample_params_to_https_urls() {
        for preset in all().iter().filter(|p| p.name != "demo") {
            let params = preset.sample_params();
            for template in preset.templates() {
                let filled = fill(template, &params, &own()).unwrap();
                let url = url::Url::parse(&filled).unwrap_or_else(|e| panic!("{filled}: {e}"));
                assert_eq!(url.scheme(), "https", "{}: {filled}", preset.name);
                assert!(url.host_str().is_some(), "{filled}");
                assert!(!filled.contains('{'), "{filled}");
            }
        }
    }

    #[test]
    fn openid_presets_name_their_issuer() {
        for preset in all() {
            assert_eq!(preset.oidc, preset.issuer.is_some(), "{}", preset.name);
        }
    }

    #[test]
    fn spotify_is_as_it_always_was() {
        let spotify = find("spotify").unwrap();
        assert_eq!(
            spotify.authorize_url,
            "https://accounts.spotify.com/authorize"
        );
        assert_eq!(spotify.token_url, "https://accounts.spotify.com/api/token");
        assert_eq!(spotify.api_url, "https://api.spotify.com/v1");
        assert_eq!(spotify.scopes, ["user-top-read"]);
        assert_eq!(spotify.scope_separator, " ");
        assert_eq!(spotify.client_auth, ClientAuth::Basic);
        assert!(spotify.pkce);
        assert!(spotify.extra_authorize_params.is_empty());
    }

    #[test]
    fn a_missing_param_is_named() {
        let template = &find("snowflake").unwrap().token_url;
        assert_eq!(
            fill(template, &BTreeMap::new(), &own()),
            Err(FillError::Missing("account".into()))
        );
    }

    #[test]
    fn values_that_would_change_the_host_or_path_are_refused() {
        let template = "https://{instance}.service-now.com/oauth_token.do";
        for bad in [
            "evil.example/",
            "evil.example/x",
            "x@evil.example",
            "evil.example:443",
            "evil.example?",
            "evil.example#",
            "evil%2eexample",
            "a..b",
            ".acme",
            "-acme",
            "acme\\x",
            "ac me",
            &"a".repeat(64),
        ] {
            let params = BTreeMap::from([("instance".to_owned(), bad.to_owned())]);
            assert_eq!(
                fill(template, &params, &own()),
                Err(FillError::Malformed("instance".into())),
                "{bad:?}"
            );
        }
        let good = BTreeMap::from([("instance".to_owned(), "Acme-Dev".to_owned())]);
        assert_eq!(
            fill(template, &good, &own()).unwrap(),
            "https://acme-dev.service-now.com/oauth_token.do"
        );
    }

    #[test]
    fn the_demo_uses_the_brokers_own_addresses() {
        let demo = find("demo").unwrap();
        assert_eq!(
            fill(&demo.token_url, &BTreeMap::new(), &own()).unwrap(),
            "http://127.0.0.1:8080/demo/api/token"
        );
        assert_eq!(
            fill(&demo.authorize_url, &BTreeMap::new(), &own()).unwrap(),
            "https://broker.example.com/demo/authorize"
        );
    }

    #[test]
    fn scopes_join_with_the_presets_separator() {
        let scopes = vec!["read".to_owned(), "activity:read".to_owned()];
        assert_eq!(join_scopes(&scopes, ","), "read,activity:read");
        assert_eq!(join_scopes(&scopes, " "), "read activity:read");
    }
}
