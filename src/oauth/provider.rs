//! Providers as the broker uses them: a preset's URLs, overridden key by key by configuration,
//! with the exact redirect URI `{callback_url}/complete/{name}` fixed at start-up.

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
    pub preset: Option<Preset>,
    pub client_id: String,
    pub client_secret: SecretString,
    pub authorize_url: Url,
    pub token_url: Url,
    pub api_url: String,
    pub scopes: Vec<String>,
    pub pkce: bool,
    pub client_auth: ClientAuth,
    pub extra_authorize_params: BTreeMap<String, String>,
    pub redirect_uri: String,
    pub timeout: Duration,
    /// Token requests to this provider in flight at once, across every worker: a slow or
    /// unreachable token endpoint then holds at most this many of each worker's outgoing
    /// connections (awc keeps 100 per worker), never the ones other providers need.
    pub token_requests: Arc<tokio::sync::Semaphore>,
}

/// The bound behind `Provider::token_requests`; a request that finds no slot waits for one
/// within the provider's own timeout.
pub const TOKEN_REQUESTS_IN_FLIGHT: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Spotify,
    Demo,
}

impl Preset {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "spotify" => Some(Self::Spotify),
            "demo" => Some(Self::Demo),
            _ => None,
        }
    }
}

/// Parameters the broker sets itself; configuration may not override them.
const RESERVED_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
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
            Some(p) => match Preset::parse(p) {
                Some(preset) => Some(preset),
                None => {
                    problems.push(format!(
                        "{} = {p:?} is not a known preset (spotify, demo)",
                        key("preset")
                    ));
                    None
                }
            },
            None => Preset::parse(name),
        };

        let (preset_authorize, preset_token, preset_api, preset_scopes, preset_label) = match preset
        {
            Some(Preset::Spotify) => (
                "https://accounts.spotify.com/authorize".to_owned(),
                "https://accounts.spotify.com/api/token".to_owned(),
                "https://api.spotify.com/v1".to_owned(),
                vec!["user-top-read".to_owned()],
                "Spotify",
            ),
            Some(Preset::Demo) => (
                format!("{}/demo/authorize", self_urls.browser_base),
                format!("{}/demo/api/token", self_urls.local_base),
                format!("{}/demo/v1", self_urls.browser_base),
                vec!["user-top-read".to_owned()],
                "Demo music service",
            ),
            None => (String::new(), String::new(), String::new(), Vec::new(), ""),
        };

        let mut url_setting = |field: &str, value: &Option<String>, fallback: String| {
            let text = value.clone().unwrap_or(fallback);
            if text.is_empty() {
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
        if settings.timeout_secs == 0 || settings.timeout_secs > 120 {
            problems.push(format!("{} must be between 1 and 120", key("timeout_secs")));
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            name: name.to_owned(),
            label: settings.label.clone().unwrap_or_else(|| {
                if preset_label.is_empty() {
                    name.to_owned()
                } else {
                    preset_label.to_owned()
                }
            }),
            preset,
            client_id: settings.client_id.trim().to_owned(),
            client_secret: client_secret.expect("checked above"),
            authorize_url: authorize_url.expect("checked above"),
            token_url: token_url.expect("checked above"),
            api_url: api_url.trim_end_matches('/').to_owned(),
            scopes: settings.scopes.clone().unwrap_or(preset_scopes),
            pkce: settings.pkce,
            client_auth: settings.client_auth.unwrap_or(ClientAuth::Basic),
            extra_authorize_params: settings.extra_authorize_params.clone(),
            redirect_uri: format!("{callback_base}/complete/{name}"),
            timeout: Duration::from_secs(settings.timeout_secs),
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
