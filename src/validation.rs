//! Settings checked and resolved: every problem listed at once, each naming its setting, and
//! warnings for what works but surprises (plain HTTP where Tableau or Spotify refuse it).

use crate::oauth::provider::{Preset, SelfUrls};
use crate::oauth::{Provider, Providers};
use crate::sealing::{RefreshSealer, key_from_base64};
use crate::settings::{ConfigProblems, Settings};
use secrecy::ExposeSecret;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Settings checked and resolved into what the app runs on.
pub struct Validated {
    pub settings: Arc<Settings>,
    pub bind: SocketAddr,
    pub metrics_bind: Option<SocketAddr>,
    pub providers: Providers,
    pub sealer: RefreshSealer,
    pub allowed_origins: Vec<String>,
    /// Things that work but that an operator should know (printed by `check-config`, logged
    /// at start).
    pub warnings: Vec<String>,
}

/// Checks everything, listing every problem. `local_addr` is where the listener really is
/// (it differs from `server.bind` when binding port 0).
pub fn validate(
    settings: Settings,
    production: bool,
    local_addr: Option<SocketAddr>,
) -> Result<Validated, ConfigProblems> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    let bind = settings.bind_addr().map_err(|e| problems.push(e)).ok();
    let metrics_bind = if settings.server.metrics_bind.trim().is_empty() {
        None
    } else {
        match settings.server.metrics_bind.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                problems.push(format!(
                    "server.metrics_bind = {:?} is not an address like 127.0.0.1:9090 (empty turns metrics off)",
                    settings.server.metrics_bind
                ));
                None
            }
        }
    };
    if bind.is_some() && bind == metrics_bind && bind.is_some_and(|b| b.port() != 0) {
        problems.push("server.metrics_bind must differ from server.bind".into());
    }

    let public = check_base_url(
        "server.public_url",
        &settings.server.public_url,
        &mut problems,
    );
    let callback_key = if settings.server.callback_url.is_some() {
        "server.callback_url"
    } else {
        "server.public_url"
    };
    // Without its own callback_url the callback is the public URL, already checked above;
    // checking it again would report the same problem twice.
    let callback = if settings.server.callback_url.is_some() {
        check_base_url(
            callback_key,
            &settings.server.callback_base(),
            &mut problems,
        )
    } else {
        public.clone()
    };
    if let Some(public) = &public
        && public.scheme() == "http"
        && public.host_str() != Some("localhost")
    {
        warnings.push(format!(
            "server.public_url {} is plain HTTP: Tableau loads extensions over HTTP only from the host name localhost",
            settings.server.public_base()
        ));
    }

    let tls = !settings.server.tls_cert.is_empty() || !settings.server.tls_key.is_empty();
    if tls {
        for (key, file) in [
            ("server.tls_cert", &settings.server.tls_cert),
            ("server.tls_key", &settings.server.tls_key),
        ] {
            if file.is_empty() {
                problems.push(format!("{key} is required when the other TLS file is set"));
            } else if !std::path::Path::new(file).is_file() {
                problems.push(format!("{key} = {file:?}: no such file"));
            }
        }
    }

    let callback_base = settings.server.callback_base();
    let listener_addr = local_addr.or(bind);
    let local_base = match listener_addr {
        Some(addr) if !tls => format!("http://{}", loopback_for(addr)),
        _ => callback_base.clone(),
    };
    let self_urls = SelfUrls {
        browser_base: callback_base.clone(),
        local_base,
    };
    let mut resolved = Vec::new();
    if !settings.providers.values().any(|p| p.enabled) {
        problems.push(
            "providers: configure at least one provider, e.g. SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET".into(),
        );
    }
    for (name, provider_settings) in settings.providers.iter().filter(|(_, p)| p.enabled) {
        match Provider::resolve(name, provider_settings, &callback_base, &self_urls) {
            Ok(provider) => {
                if provider.preset == Some(Preset::Demo) && production {
                    problems.push(format!(
                        "providers.{name} uses the built-in demo provider, which is refused when BROKER_ENV=production; remove it"
                    ));
                }
                if provider.preset == Some(Preset::Spotify)
                    && let Some(cb) = &callback
                    && cb.scheme() == "http"
                    && !matches!(cb.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
                    && !matches!(cb.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
                {
                    warnings.push(format!(
                        "{callback_key} {callback_base} is plain HTTP on a name other than 127.0.0.1 or [::1]: Spotify will refuse the redirect URI {}",
                        provider.redirect_uri
                    ));
                }
                resolved.push(provider);
            }
            Err(list) => problems.extend(list),
        }
    }

    let redis = settings.store.redis_url.is_some();
    let sealer = match &settings.secrets.seal_key {
        Some(key) => match RefreshSealer::from_base64(key.expose_secret()) {
            Ok(sealer) => Some(sealer),
            Err(e) => {
                problems.push(format!("secrets.seal_key: {e}"));
                None
            }
        },
        None if production || redis => {
            problems.push(format!(
                "secrets.seal_key is required {} (32 random bytes in base64, e.g. `openssl rand -base64 32`; or BROKER__SECRETS__SEAL_KEY_FILE)",
                if production { "when BROKER_ENV=production" } else { "with store.redis_url, so every replica opens the same refresh handles" }
            ));
            None
        }
        None => {
            warnings.push(
                "secrets.seal_key is not set: using a random key, so refresh handles stop working when the broker restarts".into(),
            );
            Some(RefreshSealer::random())
        }
    };
    let mut previous_keys = Vec::new();
    for (i, key) in settings.secrets.previous_seal_keys.iter().enumerate() {
        match key_from_base64(key.expose_secret()) {
            Ok(key) => previous_keys.push(key),
            Err(e) => problems.push(format!("secrets.previous_seal_keys[{i}]: {e}")),
        }
    }
    let sealer = sealer.map(|sealer| sealer.with_previous(&previous_keys));
    if let Some(url) = &settings.store.redis_url {
        match url::Url::parse(url.expose_secret()) {
            Ok(u) if u.scheme() == "redis" || u.scheme() == "unix" => {}
            Ok(u) if u.scheme() == "rediss" => problems.push(
                "store.redis_url: rediss:// (TLS) is not supported by this build; reach Redis over a private network or a TLS tunnel".into(),
            ),
            _ => problems.push(
                "store.redis_url must look like redis://[:password@]host:6379/0".into(),
            ),
        }
    }

    let s = &settings.signin;
    for (key, value) in [
        ("signin.ticket_ttl_secs", s.ticket_ttl_secs),
        ("signin.state_ttl_secs", s.state_ttl_secs),
        ("signin.confirm_ttl_secs", s.confirm_ttl_secs),
        ("sessions.heartbeat_secs", settings.sessions.heartbeat_secs),
        (
            "sessions.idle_timeout_secs",
            settings.sessions.idle_timeout_secs,
        ),
        (
            "server.shutdown_grace_secs",
            settings.server.shutdown_grace_secs,
        ),
    ] {
        if value == 0 {
            problems.push(format!("{key} must be at least 1"));
        }
    }
    if settings.limits.window_secs == 0 {
        problems.push("limits.window_secs must be at least 1".into());
    }
    if s.confirm_attempts == 0 {
        problems.push("signin.confirm_attempts must be at least 1".into());
    }
    let sess = &settings.sessions;
    if sess.idle_timeout_secs <= sess.heartbeat_secs {
        problems.push(format!(
            "sessions.idle_timeout_secs ({}) must be longer than sessions.heartbeat_secs ({}), or every connection looks idle",
            sess.idle_timeout_secs, sess.heartbeat_secs
        ));
    }
    if !(256..=1_048_576).contains(&sess.max_message_bytes) {
        problems.push("sessions.max_message_bytes must be between 256 and 1048576".into());
    }
    if sess.max_connections == 0 {
        problems.push("sessions.max_connections must be at least 1".into());
    }
    let mut allowed_origins = Vec::new();
    for origin in &sess.allowed_origins {
        match url::Url::parse(origin) {
            Ok(url) if url.origin().is_tuple() => {
                allowed_origins.push(url.origin().ascii_serialization())
            }
            _ => problems.push(format!(
                "sessions.allowed_origins: {origin:?} is not an origin like https://tableau.example.com"
            )),
        }
    }
    if allowed_origins.is_empty()
        && let Some(public) = &public
    {
        allowed_origins.push(public.origin().ascii_serialization());
    }
    for cidr in &settings.server.trusted_proxies {
        if cidr.parse::<ipnet::IpNet>().is_err() && cidr.parse::<IpAddr>().is_err() {
            problems.push(format!(
                "server.trusted_proxies: {cidr:?} is not a CIDR like 10.0.0.0/8"
            ));
        }
    }
    if settings.server.workers > 64 {
        problems.push("server.workers must be at most 64 (0 means one per core)".into());
    }

    if !problems.is_empty() {
        return Err(ConfigProblems(problems));
    }
    Ok(Validated {
        settings: Arc::new(settings),
        bind: bind.expect("checked"),
        metrics_bind,
        providers: Providers::new(resolved),
        sealer: sealer.expect("checked"),
        allowed_origins,
        warnings,
    })
}

fn check_base_url(key: &str, text: &str, problems: &mut Vec<String>) -> Option<url::Url> {
    match url::Url::parse(text) {
        Ok(url)
            if (url.scheme() == "http" || url.scheme() == "https")
                && url.host().is_some()
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Some(url)
        }
        _ => {
            problems.push(format!(
                "{key} = {text:?} must be an absolute http(s) URL without query or fragment, e.g. https://broker.example.com"
            ));
            None
        }
    }
}

/// An address this machine can connect to for a listener bound to `addr`.
pub fn loopback_for(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}
