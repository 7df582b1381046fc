//! Typed settings and how they are layered: built-in defaults, `config/default.toml`,
//! `config/{BROKER_ENV}.toml`, the `--config` file (or `BROKER_CONFIG`), then `BROKER__...`
//! environment variables and the seed's shortcuts. Every secret may also come from a file named
//! by the same variable with `_FILE` appended, as Docker and Kubernetes mount secrets.
//!
//! Loading takes the environment as a map rather than reading the process's own, so tests can
//! load any layering without touching global state.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub providers: BTreeMap<String, ProviderSettings>,
    pub signin: SigninSettings,
    pub sessions: SessionSettings,
    pub store: StoreSettings,
    pub extension: ExtensionSettings,
    pub secrets: SecretSettings,
    pub log: LogSettings,
    pub demo: DemoSettings,
    pub limits: LimitSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub bind: String,
    pub public_url: String,
    /// `None` means "the same as `public_url`".
    #[serde(deserialize_with = "empty_is_none")]
    pub callback_url: Option<String>,
    pub metrics_bind: String,
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
    pub shutdown_grace_secs: u64,
    /// PEM files for TLS in process; both or neither.
    pub tls_cert: String,
    pub tls_key: String,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            public_url: "http://localhost:8080".into(),
            callback_url: None,
            metrics_bind: "127.0.0.1:9090".into(),
            trusted_proxies: Vec::new(),
            shutdown_grace_secs: 20,
            tls_cert: String::new(),
            tls_key: String::new(),
            workers: 0,
        }
    }
}

impl ServerSettings {
    /// The public URL without a trailing slash.
    pub fn public_base(&self) -> String {
        self.public_url.trim_end_matches('/').to_owned()
    }

    /// The base of sign-in links and redirect URIs, without a trailing slash.
    pub fn callback_base(&self) -> String {
        self.callback_url
            .as_deref()
            .unwrap_or(&self.public_url)
            .trim_end_matches('/')
            .to_owned()
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// HTTP Basic, as RFC 6749 §2.3.1 prefers and Spotify documents.
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderSettings {
    /// `false` removes a provider that an earlier layer configured (production.toml turns the
    /// demo off this way, since layers can add keys but not delete tables).
    pub enabled: bool,
    #[serde(deserialize_with = "empty_is_none")]
    pub preset: Option<String>,
    pub client_id: String,
    #[serde(serialize_with = "redact", deserialize_with = "secret_or_none")]
    pub client_secret: Option<SecretString>,
    #[serde(deserialize_with = "empty_is_none")]
    pub authorize_url: Option<String>,
    #[serde(deserialize_with = "empty_is_none")]
    pub token_url: Option<String>,
    #[serde(deserialize_with = "empty_is_none")]
    pub api_url: Option<String>,
    /// OpenID Connect: the issuer whose metadata (`{issuer}/.well-known/openid-configuration`)
    /// gives the endpoints and keys; ID tokens are validated against it.
    #[serde(deserialize_with = "empty_is_none")]
    pub issuer: Option<String>,
    #[serde(deserialize_with = "option_string_or_list")]
    pub scopes: Option<Vec<String>>,
    /// How scopes are joined in the `scope` parameter (default: the preset's, else a space).
    pub scope_separator: Option<String>,
    /// Default: the preset's, else true.
    pub pkce: Option<bool>,
    pub client_auth: Option<ClientAuth>,
    pub extra_authorize_params: BTreeMap<String, String>,
    /// Values for the preset's `{placeholders}` (`tenant`, `domain`, `account`, `instance`).
    pub params: BTreeMap<String, String>,
    /// A name for people, shown on the extension page.
    #[serde(deserialize_with = "empty_is_none")]
    pub label: Option<String>,
    /// Bound on every request to this provider's token endpoint.
    pub timeout_secs: u64,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            preset: None,
            client_id: String::new(),
            client_secret: None,
            authorize_url: None,
            token_url: None,
            api_url: None,
            issuer: None,
            scopes: None,
            scope_separator: None,
            pkce: None,
            client_auth: None,
            extra_authorize_params: BTreeMap::new(),
            params: BTreeMap::new(),
            label: None,
            timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigninSettings {
    pub ticket_ttl_secs: u64,
    pub state_ttl_secs: u64,
    pub confirm_code: bool,
    pub confirm_ttl_secs: u64,
    pub confirm_attempts: u32,
    /// A sealed handle whose sign-in is older than this is refused with `reauth_required`.
    pub refresh_handle_max_age_secs: u64,
}

impl Default for SigninSettings {
    fn default() -> Self {
        Self {
            ticket_ttl_secs: 120,
            state_ttl_secs: 600,
            confirm_code: true,
            confirm_ttl_secs: 300,
            confirm_attempts: 5,
            refresh_handle_max_age_secs: 15_552_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    pub heartbeat_secs: u64,
    pub idle_timeout_secs: u64,
    pub resume_grace_secs: u64,
    pub max_connections: usize,
    pub max_message_bytes: usize,
    #[serde(deserialize_with = "string_or_list")]
    pub allowed_origins: Vec<String>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            heartbeat_secs: 10,
            idle_timeout_secs: 30,
            resume_grace_secs: 120,
            max_connections: 100_000,
            max_message_bytes: 8192,
            allowed_origins: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    #[serde(serialize_with = "redact_url", deserialize_with = "secret_or_none")]
    pub redis_url: Option<SecretString>,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub key_prefix: String,
    /// PEM file of the CA that signed Redis's certificate (`rediss://`); empty: the system's
    /// roots.
    pub tls_ca: String,
    /// PEM files of a client certificate and its key, for Redis with mutual TLS.
    pub tls_cert: String,
    pub tls_key: String,
    /// Redis Sentinel addresses (`host:port`): the master is asked of them and followed across
    /// failovers; `redis_url` then carries only scheme, credentials and database.
    #[serde(deserialize_with = "string_or_list")]
    pub sentinels: Vec<String>,
    pub sentinel_master: String,
    /// Seed nodes (`host:port`) of a Redis Cluster; `redis_url` then carries only scheme and
    /// credentials (the TLS files apply to every node).
    #[serde(deserialize_with = "string_or_list")]
    pub cluster_nodes: Vec<String>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            redis_url: None,
            key_prefix: "oauth-broker:".into(),
            tls_ca: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            sentinels: Vec::new(),
            sentinel_master: "mymaster".into(),
            cluster_nodes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtensionSettings {
    pub tableau_api_url: String,
    /// What the `.trex` manifest says about this deployment's extension: a reverse-domain id,
    /// the name and description Tableau shows, its author, and its version.
    pub id: String,
    pub name: String,
    pub description: String,
    pub author_name: String,
    pub author_email: String,
    pub website: String,
    pub version: String,
    /// CSP `frame-ancestors` sources of the extension page (Tableau Server / Cloud origins).
    #[serde(deserialize_with = "string_or_list")]
    pub frame_ancestors: Vec<String>,
}

impl Default for ExtensionSettings {
    fn default() -> Self {
        Self {
            tableau_api_url: "static/vendor/tableau.extensions.1.latest.min.js".into(),
            id: "com.example.oauthbroker".into(),
            name: "OAuth sign-in".into(),
            description: "Signs the dashboard's user in to an OAuth 2.0 provider (Spotify, or the built-in demo) through oauth-broker, and shows their top artists.".into(),
            author_name: "oauth-broker".into(),
            author_email: "oauth-broker@example.com".into(),
            website: "https://github.com/oauth-broker/oauth-broker".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            frame_ancestors: vec!["*".into()],
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecretSettings {
    #[serde(serialize_with = "redact", deserialize_with = "secret_or_none")]
    pub seal_key: Option<SecretString>,
    /// Set by the command line for local use without `seal_key`: the file the key is kept in
    /// (see `sealing::key_file`). Not a configuration key.
    #[serde(skip)]
    pub local_key_file: Option<PathBuf>,
    /// Older keys that still open what they sealed; nothing is sealed under them.
    #[serde(serialize_with = "redact_list", deserialize_with = "secret_list")]
    pub previous_seal_keys: Vec<SecretString>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// An `env_logger` filter; `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Rate limits, counted in fixed windows of `window_secs`; 0 turns one off. Defaults leave room
/// for many users behind one corporate address.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    pub window_secs: u64,
    pub signin_links_per_session: u64,
    pub signin_links_per_client: u64,
    pub requests_per_client: u64,
    pub connections_per_client: u64,
    pub confirm_attempts_per_client: u64,
    /// WebSockets one client address may hold open at once (not per window).
    pub sessions_per_client: u64,
    pub refreshes_per_session: u64,
    pub refreshes_per_client: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            window_secs: 60,
            signin_links_per_session: 10,
            signin_links_per_client: 600,
            requests_per_client: 1200,
            connections_per_client: 1200,
            confirm_attempts_per_client: 600,
            sessions_per_client: 200,
            refreshes_per_session: 30,
            refreshes_per_client: 600,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoSettings {
    /// Lifetime of the demo provider's access tokens; short values let people watch refresh.
    pub access_token_ttl_secs: u64,
    /// Serve the demo provider on a `server.bind` that is not a loopback address.
    pub allow_public: bool,
    /// The demo is an OpenID Provider too (discovery, keys, ID tokens); `false` keeps it plain
    /// OAuth 2.0.
    pub openid_connect: bool,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 3600,
            allow_public: false,
            openid_connect: true,
        }
    }
}

/// Where settings come from. `env` is a snapshot of the environment.
#[derive(Clone, Default)]
pub struct Sources {
    pub config_dir: PathBuf,
    pub config_file: Option<PathBuf>,
    pub env: HashMap<String, String>,
}

/// The environment holds client secrets and Redis passwords: only its names are shown.
impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.env.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Sources")
            .field("config_dir", &self.config_dir)
            .field("config_file", &self.config_file)
            .field("env (names only)", &names)
            .finish()
    }
}

impl Sources {
    /// The process environment and `./config`.
    pub fn from_process(config_file: Option<PathBuf>) -> Self {
        Self {
            config_dir: PathBuf::from("config"),
            config_file,
            env: std::env::vars().collect(),
        }
    }

    pub fn broker_env(&self) -> Option<&str> {
        self.env
            .get("BROKER_ENV")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    pub fn is_production(&self) -> bool {
        self.broker_env() == Some("production")
    }
}

/// Every problem found while loading or validating, each a sentence naming the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblems(pub Vec<String>);

impl std::fmt::Display for ConfigProblems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "configuration: {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigProblems {}

/// Shortcuts kept for the seed's users, mapped to their keys.
const SHORTCUTS: &[(&str, &str)] = &[
    ("SPOTIFY_CLIENT_ID", "providers.spotify.client_id"),
    ("SPOTIFY_CLIENT_SECRET", "providers.spotify.client_secret"),
    ("REDIS_URL", "store.redis_url"),
];

/// Loads the layers and deserialises them; unknown keys are an error.
pub fn load(sources: &Sources) -> Result<Settings, ConfigProblems> {
    use config::{Config, File, FileFormat};
    let problem = |msg: String| ConfigProblems(vec![msg]);

    let mut builder = Config::builder();
    let default_file = sources.config_dir.join("default.toml");
    if default_file.exists() {
        builder = if sources.is_production() {
            let text = defaults_without_demo(&default_file).map_err(problem)?;
            builder.add_source(File::from_str(&text, FileFormat::Toml))
        } else {
            builder.add_source(File::from(default_file).format(FileFormat::Toml))
        };
    }
    if let Some(env_name) = sources.broker_env() {
        let file = sources.config_dir.join(format!("{env_name}.toml"));
        if !file.exists() {
            return Err(problem(format!(
                "BROKER_ENV={env_name} but {} does not exist; create it or change BROKER_ENV",
                file.display()
            )));
        }
        builder = builder.add_source(File::from(file).format(FileFormat::Toml));
    }
    let extra = sources
        .config_file
        .clone()
        .or_else(|| sources.env.get("BROKER_CONFIG").map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(file) = extra {
        if !file.is_file() {
            return Err(problem(format!(
                "config file {} does not exist (from --config or BROKER_CONFIG)",
                file.display()
            )));
        }
        builder = builder.add_source(File::from(file).format(FileFormat::Toml));
    }

    for (key, value) in environment_overrides(&sources.env)? {
        builder = builder
            .set_override(key.as_str(), value)
            .map_err(|e| problem(format!("{key}: {e}")))?;
    }

    let merged = builder.build().map_err(|e| problem(describe(e)))?;
    merged
        .try_deserialize::<Settings>()
        .map_err(|e| problem(describe(e)))
}

/// `config/default.toml` as production reads it: without the demo provider it turns on for
/// local use. Production refuses any demo provider, so dropping this one here (rather than
/// turning it off in a later layer) means one that any layer configures is refused by name
/// instead of silently staying off.
fn defaults_without_demo(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", file.display()))?;
    if let Some(toml::Value::Table(providers)) = table.get_mut("providers") {
        providers.retain(|name, provider| !is_demo_table(name, provider));
    }
    toml::to_string(&table).map_err(|e| format!("{}: {e}", file.display()))
}

fn is_demo_table(name: &str, provider: &toml::Value) -> bool {
    match provider.get("preset").and_then(toml::Value::as_str) {
        Some(preset) => preset == DEMO_PRESET,
        None => name == DEMO_PRESET,
    }
}

/// The built-in demo provider's preset name (a provider of that name uses it unless told
/// otherwise).
pub const DEMO_PRESET: &str = "demo";

impl ProviderSettings {
    /// Whether this provider table is the built-in demo provider, as `Provider::resolve` reads
    /// it: the `demo` preset, named or implied by the provider's name.
    pub fn is_demo(&self, name: &str) -> bool {
        match self.preset.as_deref() {
            Some(preset) => preset == DEMO_PRESET,
            None => name == DEMO_PRESET,
        }
    }
}

/// Reads the shortcut and `BROKER__` variables (and their `_FILE` forms) into dotted keys, in
/// the order they apply: shortcuts first, so the explicit `BROKER__` form wins over them.
fn environment_overrides(
    env: &HashMap<String, String>,
) -> Result<Vec<(String, String)>, ConfigProblems> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (var, key) in SHORTCUTS {
        if let Some(value) = lookup_with_file(env, var, &mut problems) {
            out.push(((*key).to_owned(), value));
        }
    }
    let mut vars: Vec<&String> = env.keys().filter(|k| k.starts_with("BROKER__")).collect();
    vars.sort();
    for var in vars {
        let rest = &var["BROKER__".len()..];
        let (path, from_file) = match rest.strip_suffix("_FILE") {
            Some(stripped) => (stripped, true),
            None => (rest, false),
        };
        if from_file && env.contains_key(&format!("BROKER__{path}")) {
            problems.push(format!(
                "both BROKER__{path} and {var} are set; keep only one"
            ));
            continue;
        }
        let key = path
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(".");
        if key.is_empty() || key.split('.').any(|s| s.is_empty()) {
            problems.push(format!("{var} is not of the form BROKER__SECTION__KEY"));
            continue;
        }
        let value = if from_file {
            match read_secret_file(Path::new(&env[var])) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("{var}: cannot read {}: {e}", env[var]));
                    continue;
                }
            }
        } else {
            env[var].clone()
        };
        out.push((key, value));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ConfigProblems(problems))
    }
}

fn lookup_with_file(
    env: &HashMap<String, String>,
    var: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    let file_var = format!("{var}_FILE");
    match (env.get(var), env.get(&file_var)) {
        (Some(_), Some(_)) => {
            problems.push(format!("both {var} and {file_var} are set; keep only one"));
            None
        }
        (Some(v), None) => Some(v.clone()),
        (None, Some(path)) => match read_secret_file(Path::new(path)) {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(format!("{file_var}: cannot read {path}: {e}"));
                None
            }
        },
        (None, None) => None,
    }
}

/// Secret files usually end with a newline that is not part of the secret.
fn read_secret_file(path: &Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

fn describe(e: config::ConfigError) -> String {
    let text = e.to_string();
    if text.contains("unknown field") {
        format!("{text} (unknown keys are refused so a typo cannot silently change nothing)")
    } else {
        text
    }
}

impl Settings {
    /// Prints the effective settings with every secret redacted, as TOML.
    pub fn redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render settings: {e}"))
    }

    pub fn bind_addr(&self) -> Result<SocketAddr, String> {
        self.server.bind.parse().map_err(|_| {
            format!(
                "server.bind = {:?} is not an address like 127.0.0.1:8080",
                self.server.bind
            )
        })
    }
}

fn empty_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(d)?;
    Ok(value.filter(|s| !s.trim().is_empty()))
}

fn secret_or_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    let value: Option<String> = Option::deserialize(d)?;
    Ok(value.filter(|s| !s.is_empty()).map(SecretString::from))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    /// Environment variables carry lists as comma- or space-separated text.
    fn into_vec(self) -> Vec<String> {
        match self {
            StringOrList::One(s) => s
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            StringOrList::Many(v) => v,
        }
    }
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(StringOrList::deserialize(d)?.into_vec())
}

fn option_string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Option::<StringOrList>::deserialize(d)?.map(StringOrList::into_vec))
}

fn secret_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SecretString>, D::Error> {
    Ok(StringOrList::deserialize(d)?
        .into_vec()
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(SecretString::from)
        .collect())
}

fn redact_list<S: Serializer>(value: &[SecretString], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(value.iter().map(|_| "[redacted]"))
}

fn redact<S: Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_str(""),
    }
}

fn redact_url<S: Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        None => s.serialize_str(""),
        Some(secret) => match url::Url::parse(secret.expose_secret()) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("[redacted]"));
                }
                s.serialize_str(url.as_str())
            }
            Err(_) => s.serialize_str("[redacted: not a URL]"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_snapshot_debugs_without_values() {
        let sources = Sources {
            env: HashMap::from([("SPOTIFY_CLIENT_SECRET".into(), "s3cr3t-value".into())]),
            ..Sources::default()
        };
        let shown = format!("{sources:?}");
        assert!(shown.contains("SPOTIFY_CLIENT_SECRET"), "{shown}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
    }
}
