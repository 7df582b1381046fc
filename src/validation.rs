//! Settings checked and resolved: every problem listed at once, each naming its setting, and
//! warnings for what works but surprises (plain HTTP where Tableau or Spotify refuse it).

use crate::oauth::provider::SelfUrls;
use crate::oauth::{Provider, Providers};
use crate::sealing::{RefreshSealer, key_from_base64};
use crate::settings::{ConfigProblems, Settings};
use secrecy::ExposeSecret;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;
/// Far above any honest use (a corporate address with tens of thousands of users) and far
/// below where counting could overflow.
const MAX_COUNT: u64 = 100_000_000;

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
    for (name, provider_settings) in &settings.providers {
        // Any layer may have turned it on or off: in production a demo provider configured
        // anywhere is named and refused, never silently left off.
        if production && provider_settings.is_demo(name) {
            problems.push(format!(
                "providers.{name} configures the built-in demo provider (an unauthenticated stand-in identity provider), which is refused when BROKER_ENV=production{}; remove providers.{name} from the layer that sets it",
                if provider_settings.enabled { "" } else { " even with enabled = false" }
            ));
        }
    }
    for (name, provider_settings) in settings
        .providers
        .iter()
        .filter(|(name, p)| p.enabled && !(production && p.is_demo(name)))
    {
        match Provider::resolve(name, provider_settings, &callback_base, &self_urls) {
            Ok(mut provider) => {
                if provider.is_preset("demo") && !settings.demo.openid_connect {
                    provider.openid = None;
                }
                if provider.is_preset("demo")
                    && !settings.demo.allow_public
                    && let Some(bind) = bind
                    && !bind.ip().is_loopback()
                {
                    problems.push(format!(
                        "providers.{name} is the built-in demo provider (it signs anyone in without a password), refused on server.bind {bind}, which is not a loopback address; bind to 127.0.0.1, remove providers.{name}, or set demo.allow_public = true to serve it anyway"
                    ));
                }
                if production {
                    check_provider_urls_in_production(&provider, &mut problems);
                }
                if !provider.pkce {
                    warnings.push(format!(
                        "providers.{name}.pkce = false: without PKCE a stolen authorization code can be exchanged by whoever holds it (RFC 9700 §2.1.1); turn it off only for a provider that rejects PKCE"
                    ));
                }
                if provider.is_preset("spotify")
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
    if !settings.signin.confirm_code {
        warnings.push(
            "signin.confirm_code = false: tokens go to whichever session started the sign-in, so someone who sends a victim their own sign-in link gets the victim's tokens (session swapping); keep it on unless every user starts and finishes sign-in on the same device".into(),
        );
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
            warnings.push(match &settings.secrets.local_key_file {
                Some(file) => format!(
                    "secrets.seal_key is not set: `oauth-broker serve` generates a key once and keeps it in {} (mode 0600)",
                    file.display()
                ),
                None => "secrets.seal_key is not set: using a random key, so refresh handles stop working when the broker restarts".into(),
            });
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
    problems.extend(store_problems(&settings.store));
    if settings.secrets.seal_key.is_some()
        && let Some(file) = &settings.secrets.local_key_file
    {
        warnings.push(format!(
            "secrets.seal_key is not set: using the local key kept in {} (fine on one machine; set secrets.seal_key for anything shared)",
            file.display()
        ));
    }

    // Each bounded above too: an absurd value would overflow where it is added to the clock,
    // and none of these means anything useful beyond its maximum.
    let s = &settings.signin;
    let sess = &settings.sessions;
    let l = &settings.limits;
    for (key, value, min, max) in [
        ("signin.ticket_ttl_secs", s.ticket_ttl_secs, 1, HOUR),
        ("signin.state_ttl_secs", s.state_ttl_secs, 1, DAY),
        ("signin.confirm_ttl_secs", s.confirm_ttl_secs, 1, DAY),
        (
            "signin.confirm_attempts",
            u64::from(s.confirm_attempts),
            1,
            100,
        ),
        ("sessions.heartbeat_secs", sess.heartbeat_secs, 1, HOUR),
        ("sessions.idle_timeout_secs", sess.idle_timeout_secs, 1, DAY),
        ("sessions.resume_grace_secs", sess.resume_grace_secs, 0, DAY),
        (
            "sessions.max_connections",
            sess.max_connections as u64,
            1,
            10_000_000,
        ),
        (
            "server.shutdown_grace_secs",
            settings.server.shutdown_grace_secs,
            1,
            HOUR,
        ),
        ("limits.window_secs", l.window_secs, 1, DAY),
        (
            "limits.signin_links_per_session",
            l.signin_links_per_session,
            0,
            MAX_COUNT,
        ),
        (
            "limits.signin_links_per_client",
            l.signin_links_per_client,
            0,
            MAX_COUNT,
        ),
        (
            "limits.requests_per_client",
            l.requests_per_client,
            0,
            MAX_COUNT,
        ),
        (
            "limits.connections_per_client",
            l.connections_per_client,
            0,
            MAX_COUNT,
        ),
        (
            "limits.confirm_attempts_per_client",
            l.confirm_attempts_per_client,
            0,
            MAX_COUNT,
        ),
        (
            "limits.sessions_per_client",
            l.sessions_per_client,
            0,
            MAX_COUNT,
        ),
        (
            "demo.access_token_ttl_secs",
            settings.demo.access_token_ttl_secs,
            1,
            30 * DAY,
        ),
    ] {
        if value < min {
            problems.push(format!("{key} must be at least {min}"));
        } else if value > max {
            problems.push(format!("{key} = {value} is more than the maximum {max}"));
        }
    }
    if sess.idle_timeout_secs <= sess.heartbeat_secs {
        problems.push(format!(
            "sessions.idle_timeout_secs ({}) must be longer than sessions.heartbeat_secs ({}), or every connection looks idle",
            sess.idle_timeout_secs, sess.heartbeat_secs
        ));
    }
    if !(256..=1_048_576).contains(&sess.max_message_bytes) {
        problems.push("sessions.max_message_bytes must be between 256 and 1048576".into());
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
    problems.extend(extension_problems(&settings));
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

/// In production the client secret and codes travel to these URLs: plain HTTP is allowed only
/// to this machine (a sidecar or a tunnel), never across a network.
fn check_provider_urls_in_production(provider: &Provider, problems: &mut Vec<String>) {
    let api = url::Url::parse(&provider.api_url).ok();
    for (key, url) in [
        ("authorize_url", Some(&provider.authorize_url)),
        ("token_url", Some(&provider.token_url)),
        ("api_url", api.as_ref()),
    ] {
        let Some(url) = url else { continue };
        if url.scheme() == "http" && !is_loopback_host(url) {
            problems.push(format!(
                "providers.{}.{key} = {} is plain HTTP to another machine, refused when BROKER_ENV=production (the client secret, codes and tokens would cross the network in clear); use https://",
                provider.name,
                url.as_str()
            ));
        }
    }
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// What the manifest and the page's `frame-ancestors` are built from; `manifest` checks these
/// too, so a `.trex` Tableau would choke on is never printed.
pub fn extension_problems(settings: &Settings) -> Vec<String> {
    let e = &settings.extension;
    let mut problems = Vec::new();
    let reverse_domain = e.id.split('.').count() >= 2
        && e.id.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if !reverse_domain {
        problems.push(format!(
            "extension.id = {:?} must be a reverse domain name like com.example.signin",
            e.id
        ));
    }
    let numeric_version = !e.version.is_empty()
        && e.version.split('.').count() <= 4
        && e.version
            .split('.')
            .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    if !numeric_version {
        problems.push(format!(
            "extension.version = {:?} must be numbers and dots, like 1.2.0",
            e.version
        ));
    }
    for (key, value) in [
        ("extension.name", &e.name),
        ("extension.author_name", &e.author_name),
    ] {
        if value.trim().is_empty() {
            problems.push(format!("{key} must not be empty (Tableau shows it)"));
        }
    }
    let email = e.author_email.split_once('@');
    if !email.is_some_and(|(user, host)| !user.is_empty() && host.contains('.')) {
        problems.push(format!(
            "extension.author_email = {:?} must be an address like team@example.com",
            e.author_email
        ));
    }
    if !matches!(url::Url::parse(&e.website), Ok(u) if u.scheme() == "https" || u.scheme() == "http")
    {
        problems.push(format!(
            "extension.website = {:?} must be an absolute URL like https://example.com",
            e.website
        ));
    }
    for source in &e.frame_ancestors {
        if !is_frame_ancestor_source(source) {
            problems.push(format!(
                "extension.frame_ancestors: {source:?} is not a CSP source like https://tableau.example.com, https://*.online.tableau.com, 'self' or *"
            ));
        }
    }
    problems
}

/// A CSP host-source, scheme-source or keyword: nothing that could end the directive or add
/// another (`;`, `,`, spaces, quotes outside the keywords).
fn is_frame_ancestor_source(source: &str) -> bool {
    if matches!(source, "*" | "'self'" | "'none'") {
        return true;
    }
    !source.is_empty()
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '/' | '*' | '_'))
        && !source.starts_with(':')
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

/// `host:port` with a port Redis could listen on.
fn is_host_port(address: &str) -> bool {
    let port = address
        .rsplit_once(':')
        .map(|(host, port)| (host, port.parse::<u16>()));
    matches!(port, Some((host, Ok(p))) if p > 0 && !host.is_empty())
}

/// `store.redis_url` and its TLS files: a scheme Redis speaks, TLS files only with `rediss://`,
/// a client certificate with its key, and every named file there.
fn store_problems(store: &crate::settings::StoreSettings) -> Vec<String> {
    let mut problems = Vec::new();
    let tls_files = [
        ("store.tls_ca", &store.tls_ca),
        ("store.tls_cert", &store.tls_cert),
        ("store.tls_key", &store.tls_key),
    ];
    let any_tls_file = tls_files.iter().any(|(_, file)| !file.is_empty());
    let Some(url) = &store.redis_url else {
        if any_tls_file {
            problems.push("store.tls_ca / store.tls_cert / store.tls_key are set but store.redis_url is empty".into());
        }
        if !store.cluster_nodes.is_empty() {
            problems.push("store.cluster_nodes is set but store.redis_url is empty: give redis:// or rediss:// (with any credentials) for the cluster's nodes".into());
        }
        return problems;
    };
    match url::Url::parse(url.expose_secret()) {
        Ok(u) if u.scheme() == "redis" || u.scheme() == "unix" => {
            if any_tls_file {
                problems.push(
                    "store.tls_ca / store.tls_cert / store.tls_key need a rediss:// store.redis_url (TLS)"
                        .into(),
                );
            }
        }
        Ok(u) if u.scheme() == "rediss" => {}
        _ => problems.push(
            "store.redis_url must look like redis://[user:password@]host:6379/0 or rediss://… for TLS"
                .into(),
        ),
    }
    for sentinel in &store.sentinels {
        if !is_host_port(sentinel) {
            problems.push(format!(
                "store.sentinels: {sentinel:?} is not host:port (a Sentinel's address)"
            ));
        }
    }
    for node in &store.cluster_nodes {
        if !is_host_port(node) {
            problems.push(format!(
                "store.cluster_nodes: {node:?} is not host:port (a Redis Cluster node's address)"
            ));
        }
    }
    if !store.cluster_nodes.is_empty() {
        if !store.sentinels.is_empty() {
            problems.push(
                "store.cluster_nodes and store.sentinels are both set: a Redis Cluster fails over by itself, choose one"
                    .into(),
            );
        }
        // A cluster has database 0 only; a URL naming another would silently mean 0.
        if let Ok(u) = url::Url::parse(url.expose_secret())
            && !matches!(u.path().trim_matches('/'), "" | "0")
        {
            problems.push(
                "store.redis_url names a database, but a Redis Cluster has database 0 only (with store.cluster_nodes)"
                    .into(),
            );
        }
    }
    if !store.sentinels.is_empty() && store.sentinel_master.trim().is_empty() {
        problems
            .push("store.sentinel_master is empty: name the master the sentinels monitor".into());
    }
    if store.tls_cert.is_empty() != store.tls_key.is_empty() {
        problems.push(
            "store.tls_cert and store.tls_key go together (a client certificate and its key)"
                .into(),
        );
    }
    for (key, file) in tls_files {
        if !file.is_empty() && !std::path::Path::new(file).is_file() {
            problems.push(format!("{key} = {file:?}: no such file"));
        }
    }
    problems
}
