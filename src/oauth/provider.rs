//! Providers as the broker uses them: a preset's URLs, overridden key by key by configuration,
//! with the exact redirect URI `{callback_url}/complete/{name}` fixed at start-up.

use super::oidc::OpenIdProvider;
use super::presets::{self, FillError, OwnUrls};
use crate::settings::{ClientAuth, ProviderSettings};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub label: String,
    /// The catalogue preset it was built from (`presets.json`), by name.
    pub preset: Option<String>,
    pub client_id: String,
    pub client_secret: SecretString,
    pub authorize_url: Url,
    pub token_url: Url,
    pub api_url: String,
    pub scopes: Vec<String>,
    /// How `scopes` are joined in the `scope` parameter.
    pub scope_separator: String,
    pub pkce: bool,
    pub client_auth: ClientAuth,
    pub extra_authorize_params: BTreeMap<String, String>,
    pub redirect_uri: String,
    pub timeout: Duration,
    /// OpenID Connect: the issuer's metadata and keys, shared by every worker.
    pub openid: Option<Arc<OpenIdProvider>>,
    /// The authorize and token URLs are the issuer's metadata's (`issuer` alone configured);
    /// `authorize_url` and `token_url` then hold the discovery URL, for people to read.
    pub endpoints_discovered: bool,
    /// Token requests to this provider in flight at once, across every worker: a slow or
    /// unreachable token endpoint then holds at most this many of each worker's outgoing
    /// connections (awc keeps 100 per worker), never the ones other providers need.
    pub token_requests: Arc<tokio::sync::Semaphore>,
}

/// The bound behind `Provider::token_requests`; a request that finds no slot waits for one
/// within the provider's own timeout.
pub const TOKEN_REQUESTS_IN_FLIGHT: usize = 32;

/// Parameters the broker sets itself; configuration may not override them.
const RESERVED_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "nonce",
];

/// Where the broker itself can be reached, for the demo preset's URLs.
#[derive(Debug, Clone)]
pub struct SelfUrls {
    /// `{callback_url}`: what the browser uses (authorize page, API).
    pub browser_base: String,
    /// How the broker reaches its own listener for the demo token endpoint.
    pub local_base: String,
}

impl Provider {
    pub fn is_preset(&self, name: &str) -> bool {
        self.preset.as_deref() == Some(name)
    }

    /// The `scope` parameter's value; OpenID Connect asks for `openid` (Core §3.1.2.1).
    pub fn scope_param(&self) -> String {
        if self.openid.is_some() && !self.scopes.iter().any(|s| s == "openid") {
            let mut scopes = vec!["openid".to_owned()];
            scopes.extend(self.scopes.iter().cloned());
            return presets::join_scopes(&scopes, &self.scope_separator);
        }
        presets::join_scopes(&self.scopes, &self.scope_separator)
    }

    /// Where the browser is sent; `None` while discovered endpoints are not loaded.
    pub fn authorize_endpoint(&self) -> Option<Url> {
        self.endpoint(&self.authorize_url, |m| &m.authorization_endpoint)
    }

    /// Where codes and refresh tokens are exchanged; `None` while not discovered yet.
    pub fn token_endpoint(&self) -> Option<Url> {
        self.endpoint(&self.token_url, |m| &m.token_endpoint)
    }

    fn endpoint(
        &self,
        configured: &Url,
        pick: fn(&super::oidc::Metadata) -> &String,
    ) -> Option<Url> {
        if !self.endpoints_discovered {
            return Some(configured.clone());
        }
        let loaded = self.openid.as_ref()?.loaded()?;
        Url::parse(pick(&loaded.metadata)).ok()
    }

    /// Whether it can serve a sign-in now: an OpenID provider needs its metadata loaded.
    pub fn is_ready(&self) -> bool {
        self.openid.as_ref().is_none_or(|o| o.is_loaded())
    }

    /// Resolves one `providers.<name>` table, listing every problem with it.
    pub fn resolve(
        name: &str,
        settings: &ProviderSettings,
        callback_base: &str,
        self_urls: &SelfUrls,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let key = |k: &str| format!("providers.{name}.{k}");

        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            problems.push(format!(
                "providers.{name}: provider names may use only a-z, 0-9, '-' and '_'"
            ));
        }

        // A provider named like a preset uses that preset unless told otherwise, so
        // `SPOTIFY_CLIENT_ID` alone is enough for Spotify.
        let preset = match settings.preset.as_deref() {
            Some(p) => match presets::find(p) {
                Some(preset) => Some(preset),
                None => {
                    problems.push(format!(
                        "{} = {p:?} is not a known preset (see `oauth-broker providers`: {})",
                        key("preset"),
                        presets::names().join(", ")
                    ));
                    None
                }
            },
            None => presets::find(name),
        };

        let own = OwnUrls {
            callback_url: &self_urls.browser_base,
            local_url: &self_urls.local_base,
        };
        let placeholders = preset.map(|p| p.placeholders()).unwrap_or_default();
        for given in settings.params.keys() {
            if !placeholders.contains(given) {
                let expected = if placeholders.is_empty() {
                    "none".to_owned()
                } else {
                    placeholders.join(", ")
                };
                problems.push(format!(
                    "{}.{given} is not a placeholder of this provider's preset (it takes: {expected})",
                    key("params")
                ));
            }
        }
        let mut fill_problems = Vec::new();
        let mut from_preset = |template: &str| -> String {
            match presets::fill(template, &settings.params, &own) {
                Ok(url) => url,
                Err(e) => {
                    let line = match e {
                        FillError::Missing(p) => format!(
                            "{}.{p} is required by the {} preset (its URLs contain {{{p}}})",
                            key("params"),
                            preset.map(|p| p.name.as_str()).unwrap_or("")
                        ),
                        FillError::Malformed(p) => format!(
                            "{}.{p} must be a host name or host labels (letters, digits, '-' and '.'), nothing that adds a path, port or host",
                            key("params")
                        ),
                    };
                    if !fill_problems.contains(&line) {
                        fill_problems.push(line);
                    }
                    String::new()
                }
            }
        };
        let (preset_authorize, preset_token, preset_api) = match preset {
            Some(p) => (
                from_preset(&p.authorize_url),
                from_preset(&p.token_url),
                from_preset(&p.api_url),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        // A URL the configuration overrides does not need the preset's placeholder filled.
        let needs_fill = preset.is_some()
            && (settings.authorize_url.is_none()
                || settings.token_url.is_none()
                || settings.api_url.is_none());
        if needs_fill {
            problems.extend(fill_problems);
        }

        let issuer = match (&settings.issuer, preset.and_then(|p| p.issuer.as_ref())) {
            (Some(issuer), _) => Some(issuer.trim().to_owned()),
            (None, Some(template)) => match presets::fill(template, &settings.params, &own) {
                Ok(issuer) => Some(issuer),
                Err(_) => {
                    if !needs_fill {
                        problems.push(format!(
                            "{} is needed for the preset's issuer (or set {})",
                            key("params"),
                            key("issuer")
                        ));
                    }
                    None
                }
            },
            (None, None) => None,
        };
        if let Some(issuer) = &issuer {
            match Url::parse(issuer) {
                Ok(url)
                    if (url.scheme() == "https" || url.scheme() == "http")
                        && url.query().is_none()
                        && url.fragment().is_none() => {}
                _ => problems.push(format!(
                    "{} = {issuer:?} is not an http(s) URL without query or fragment (OpenID Connect Discovery §2)",
                    key("issuer")
                )),
            }
        }
        // `issuer` alone: the endpoints come from its metadata.
        let endpoints_discovered = issuer.is_some()
            && preset.is_none()
            && settings.authorize_url.is_none()
            && settings.token_url.is_none();
        let discovery_url = issuer
            .as_ref()
            .map(|i| {
                format!(
                    "{}/.well-known/openid-configuration",
                    i.trim_end_matches('/')
                )
            })
            .unwrap_or_default();
        let (preset_authorize, preset_token) = if endpoints_discovered {
            (discovery_url.clone(), discovery_url)
        } else {
            (preset_authorize, preset_token)
        };
        let mut url_setting = |field: &str, value: &Option<String>, fallback: String| {
            let text = value.clone().unwrap_or(fallback);
            if text.is_empty() {
                if value.is_none() && preset.is_some_and(|p| !p.placeholders().is_empty()) {
                    // Already reported as the missing or malformed param.
                    return None;
                }
                problems.push(format!(
                    "{} is required (or set {} to a preset)",
                    key(field),
                    key("preset")
                ));
                return None;
            }
            match Url::parse(&text) {
                Ok(url) if url.scheme() == "https" || url.scheme() == "http" => Some(url),
                _ => {
                    problems.push(format!("{} = {text:?} is not an http(s) URL", key(field)));
                    None
                }
            }
        };
        let authorize_url = url_setting("authorize_url", &settings.authorize_url, preset_authorize);
        let token_url = url_setting("token_url", &settings.token_url, preset_token);
        let api_url = settings.api_url.clone().unwrap_or(preset_api);

        if settings.client_id.trim().is_empty() {
            let hint = if name == "spotify" {
                " (or SPOTIFY_CLIENT_ID)"
            } else {
                ""
            };
            problems.push(format!("{} is required{hint}", key("client_id")));
        }
        let client_secret = match &settings.client_secret {
            Some(secret) => Some(secret.clone()),
            None => {
                let hint = if name == "spotify" {
                    " (or SPOTIFY_CLIENT_SECRET / SPOTIFY_CLIENT_SECRET_FILE)"
                } else {
                    ""
                };
                problems.push(format!("{} is required{hint}", key("client_secret")));
                None
            }
        };
        for reserved in settings
            .extra_authorize_params
            .keys()
            .filter(|k| RESERVED_PARAMS.contains(&k.as_str()))
        {
            problems.push(format!(
                "{}.{reserved} is set by the broker itself and cannot be overridden",
                key("extra_authorize_params")
            ));
        }
        let scope_separator = settings
            .scope_separator
            .clone()
            .or_else(|| preset.map(|p| p.scope_separator.clone()))
            .unwrap_or_else(|| " ".to_owned());
        if scope_separator != " " && scope_separator != "," {
            problems.push(format!(
                "{} = {scope_separator:?}: use \" \" (a space, RFC 6749 §3.3) or \",\"",
                key("scope_separator")
            ));
        }
        if settings.timeout_secs == 0 || settings.timeout_secs > 120 {
            problems.push(format!("{} must be between 1 and 120", key("timeout_secs")));
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        // The preset's extra parameters (what Google needs for a refresh token, say), each
        // replaceable by configuration.
        let mut extra_authorize_params = preset
            .map(|p| p.extra_authorize_params.clone())
            .unwrap_or_default();
        extra_authorize_params.extend(settings.extra_authorize_params.clone());
        Ok(Self {
            name: name.to_owned(),
            label: settings
                .label
                .clone()
                .or_else(|| preset.map(|p| p.label.clone()))
                .unwrap_or_else(|| name.to_owned()),
            preset: preset.map(|p| p.name.clone()),
            client_id: settings.client_id.trim().to_owned(),
            client_secret: client_secret.expect("checked above"),
            authorize_url: authorize_url.expect("checked above"),
            token_url: token_url.expect("checked above"),
            api_url: api_url.trim_end_matches('/').to_owned(),
            scopes: settings
                .scopes
                .clone()
                .or_else(|| preset.map(|p| p.scopes.clone()))
                .unwrap_or_default(),
            scope_separator,
            pkce: settings.pkce.or(preset.map(|p| p.pkce)).unwrap_or(true),
            client_auth: settings
                .client_auth
                .or(preset.map(|p| p.client_auth))
                .unwrap_or(ClientAuth::Basic),
            extra_authorize_params,
            redirect_uri: format!("{callback_base}/complete/{name}"),
            timeout: Duration::from_secs(settings.timeout_secs),
            openid: issuer.map(|issuer| {
                Arc::new(OpenIdProvider::new(
                    issuer,
                    Duration::from_secs(settings.timeout_secs),
                ))
            }),
            endpoints_discovered,
            token_requests: Arc::new(tokio::sync::Semaphore::new(TOKEN_REQUESTS_IN_FLIGHT)),
        })
    }
}

/// The configured providers, in configuration order (alphabetical, as TOML tables are), with
/// the first as the default for a `begin` that names none.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    list: Vec<Arc<Provider>>,
}

impl Providers {
    pub fn new(list: Vec<Provider>) -> Self {
        Self {
            list: list.into_iter().map(Arc::new).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.list.iter().find(|p| p.name == name)
    }

    pub fn default_provider(&self) -> Option<&Arc<Provider>> {
        self.list.first()
    }

    pub fn names(&self) -> Vec<String> {
        self.list.iter().map(|p| p.name.clone()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.list.iter()
    }
}
