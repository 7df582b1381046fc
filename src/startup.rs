//! From validated settings to a running service: the app assembly, listeners, background
//! upkeep, and an orderly stop.

use crate::access_log::{ServedOverTls, TrustedProxies, access_log};
use crate::broker::Broker;
use crate::clock::SharedClock;
use crate::demo::{self, DemoProvider};
use crate::limits::RateLimiter;
use crate::oauth::{Providers, TokenClient};
use crate::routes;
use crate::routes::extension::ExtensionAssets;
use crate::settings::{ConfigProblems, Settings};
use crate::store::{MemoryStore, RedisStore, RedisTarget, SigninStore};
use crate::telemetry;
use crate::transport::{self, ServerOptions};
pub use crate::validation::{Validated, loopback_for, validate};
use crate::ws::hub::{CloseAll, Registry, SessionHub, StoreNotice};
use actix::Addr;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use secrecy::ExposeSecret;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Installs rustls' crypto provider; awc panics without one. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why the service could not start: one line naming the cause and the setting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigProblems),
    #[error("cannot listen on {addr} ({setting}): {source}")]
    Bind {
        addr: String,
        setting: &'static str,
        source: std::io::Error,
    },
    #[error("cannot start TLS (server.tls_cert / server.tls_key): {0}")]
    Tls(String),
    /// The listener failed while serving (not at start): the network, not a setting.
    #[error("the server stopped on an I/O error: {0}")]
    Serve(std::io::Error),
}

/// What the caller may choose in place of the settings: the clock (tests move time) and
/// listeners bound beforehand (tests bind port 0).
pub struct Overrides {
    pub clock: SharedClock,
    pub listener: Option<TcpListener>,
    pub metrics_listener: Option<TcpListener>,
    pub production: bool,
    pub vendor_dir: PathBuf,
}

impl Default for Overrides {
    fn default() -> Self {
        Self {
            clock: crate::clock::system(),
            listener: None,
            metrics_listener: None,
            production: false,
            vendor_dir: PathBuf::from("assets/static/vendor"),
        }
    }
}

pub struct Application {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    server: Server,
    metrics_server: Option<Server>,
    handle: AppHandle,
}

/// Stops the app from anywhere (a signal handler, a test).
#[derive(Clone)]
pub struct AppHandle {
    broker: web::Data<Broker>,
    /// The hub on the thread that built the app, for shutdown.
    hub: Addr<SessionHub>,
    server: ServerHandle,
    metrics: Option<ServerHandle>,
}

impl AppHandle {
    /// Orderly stop: readiness fails at once, sessions get 1001, in-flight requests finish
    /// within the grace period, then the listeners close.
    pub async fn shutdown(&self) {
        self.broker.start_draining();
        let closed = self.hub.send(CloseAll).await.unwrap_or(0);
        // Keep answering (readiness 503, sign-ins in progress) for a moment, so load balancers
        // see the replica leave before its listener closes: distroless images have no shell
        // for a preStop sleep.
        let grace = self.broker.settings.server.shutdown_grace_secs;
        let linger = Duration::from_millis((grace * 1000 / 4).min(5000));
        log::info!(
            "shutting down: closed {closed} sessions with 1001; draining for {} ms, then finishing requests",
            linger.as_millis()
        );
        actix_rt::time::sleep(linger).await;
        self.server.stop(true).await;
        if let Some(metrics) = &self.metrics {
            metrics.stop(true).await;
        }
    }

    pub fn broker(&self) -> &Broker {
        &self.broker
    }
}

impl Application {
    /// Binds and assembles everything; the servers run once awaited.
    pub fn build(settings: Settings, overrides: Overrides) -> Result<Self, StartupError> {
        install_crypto_provider();
        telemetry::install_metrics_in_background();
        let listener = match overrides.listener {
            Some(l) => l,
            None => {
                let bind = settings.bind_addr().map_err(|e| ConfigProblems(vec![e]))?;
                TcpListener::bind(bind).map_err(|source| StartupError::Bind {
                    addr: bind.to_string(),
                    setting: "server.bind",
                    source,
                })?
            }
        };
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.server.bind.clone(),
            setting: "server.bind",
            source,
        })?;
        let validated = validate(settings, overrides.production, Some(local_addr))?;
        for warning in &validated.warnings {
            log::warn!("{warning}");
        }
        let settings = validated.settings.clone();
        let clock = overrides.clock;

        let memory = Arc::new(MemoryStore::new(clock.clone()));
        let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel();
        let redis = settings.store.redis_url.as_ref().map(|url| {
            RedisStore::start(
                RedisTarget::from_settings(url.expose_secret(), &settings.store),
                settings.store.key_prefix.clone(),
                validated.sealer.key().clone(),
                events_tx,
            )
        });
        let store = match &redis {
            None => SigninStore::Memory(memory.clone()),
            Some(redis) => SigninStore::Redis(redis.clone()),
        };
        let limiter = RateLimiter::new(settings.limits.clone(), clock.clone(), redis);
        // A frame written to a half-open socket waits for its ack until the connection is
        // noticed dead (idle timeout), then for the grace period its drop starts.
        let unacked_ttl = settings.sessions.resume_grace_secs + settings.sessions.idle_timeout_secs;
        // One hub actor per worker thread over this one registry; this thread's hub takes the
        // store's notices and the shutdown.
        let registry = Registry::new(store.clone(), unacked_ttl);
        let hub = registry.hub_on_this_thread();
        let hub_for_events = hub.clone();
        actix_rt::spawn(async move {
            while let Some(event) = events_rx.recv().await {
                hub_for_events.do_send(StoreNotice(event));
            }
        });
        let assets = web::Data::new(ExtensionAssets::build(
            &settings,
            &validated.providers,
            &overrides.vendor_dir,
        ));
        if let Some(warning) = routes::extension::missing_tableau_library(
            &settings.extension.tableau_api_url,
            &overrides.vendor_dir,
        ) {
            log::warn!("{warning}");
        }
        let demo = demo_provider(&validated.providers, &settings, clock.clone())
            .map(|demo| demo.with_api_origins(validated.allowed_origins.clone()))
            .map(web::Data::new);
        if let Some((metadata, keys)) = demo.as_ref().and_then(|d| d.openid_documents()) {
            for provider in validated.providers.iter().filter(|p| p.is_preset("demo")) {
                if let Some(openid) = &provider.openid {
                    openid.install(metadata.clone(), keys.clone());
                }
            }
        }
        let broker = web::Data::new(Broker::new(
            settings.clone(),
            validated.providers,
            store,
            validated.sealer,
            clock,
            validated.allowed_origins,
            limiter,
        ));
        let upkeep_broker = broker.clone();
        // OpenID Connect metadata and keys: loaded in the background (retried, then
        // refreshed), so a provider that is down at start delays readiness, not the start.
        for provider in broker.providers.iter() {
            if let Some(openid) = &provider.openid {
                actix_rt::spawn(crate::oauth::oidc::keep_loaded(
                    openid.clone(),
                    provider.name.clone(),
                ));
            }
        }

        let grace = settings.server.shutdown_grace_secs;
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let app_broker = broker.clone();
        let trusted = web::Data::new(TrustedProxies::parse(&settings.server.trusted_proxies));
        let serves_tls = !settings.server.tls_cert.is_empty();
        let make_app = move || {
            let mut app = App::new()
                .wrap(actix_web::middleware::from_fn(access_log))
                .app_data(trusted.clone())
                .app_data(app_broker.clone())
                .app_data(assets.clone())
                .app_data(web::Data::new(TokenClient::new()))
                .app_data(web::Data::new(registry.hub_on_this_thread()))
                .configure(routes::configure);
            if let Some(demo) = &demo {
                app = app.app_data(demo.clone()).configure(demo::configure);
            }
            if serves_tls {
                app = app.app_data(web::Data::new(ServedOverTls));
            }
            app
        };
        let tls = if settings.server.tls_cert.is_empty() {
            None
        } else {
            Some(
                crate::tls::server_config(&settings.server.tls_cert, &settings.server.tls_key)
                    .map_err(StartupError::Tls)?,
            )
        };
        let options = ServerOptions {
            workers,
            shutdown_grace_secs: grace,
            tls,
        };
        let server =
            transport::serve(make_app, listener, options).map_err(|source| StartupError::Bind {
                addr: local_addr.to_string(),
                setting: "server.bind",
                source,
            })?;

        let (metrics_server, metrics_addr) =
            match (overrides.metrics_listener, validated.metrics_bind) {
                (None, None) => (None, None),
                (listener, bind) => {
                    let listener = match listener {
                        Some(l) => l,
                        None => {
                            let bind = bind.expect("one of the two is set");
                            TcpListener::bind(bind).map_err(|source| StartupError::Bind {
                                addr: bind.to_string(),
                                setting: "server.metrics_bind",
                                source,
                            })?
                        }
                    };
                    let addr = listener.local_addr().ok();
                    let server = HttpServer::new(|| {
                        App::new().route("/metrics", web::get().to(telemetry::render))
                    })
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener)
                    .map_err(|source| StartupError::Bind {
                        addr: settings.server.metrics_bind.clone(),
                        setting: "server.metrics_bind",
                        source,
                    })?
                    .run();
                    (Some(server), addr)
                }
            };

        // Upkeep: expired records leave memory, histogram buckets roll over.
        let mut gauge_anchored = telemetry::metrics_handle_if_ready().is_some();
        actix_rt::spawn(async move {
            let mut tick = actix_rt::time::interval(Duration::from_secs(15));
            loop {
                tick.tick().await;
                memory.sweep();
                upkeep_broker.limits.sweep();
                upkeep_broker
                    .refreshes
                    .sweep(upkeep_broker.clock.now_millis());
                if let Some(metrics) = telemetry::metrics_handle_if_ready() {
                    metrics.run_upkeep();
                    // Also between probes (compose has none), so the readiness alert has data.
                    let ready =
                        !upkeep_broker.is_draining() && upkeep_broker.store.is_ready().await;
                    telemetry::catalog::set_ready(ready);
                    telemetry::catalog::set_sessions_max(
                        upkeep_broker.settings.sessions.max_connections,
                    );
                    // Sessions that opened before the recorder was installed were never counted
                    // up: set the gauge once from the real count, then increments take over.
                    if !gauge_anchored {
                        let open = upkeep_broker.open_sessions.load(Ordering::Relaxed);
                        telemetry::catalog::set_sessions_open(open);
                        gauge_anchored = true;
                    }
                }
            }
        });

        let handle = AppHandle {
            broker,
            hub,
            server: server.handle(),
            metrics: metrics_server.as_ref().map(Server::handle),
        };
        Ok(Self {
            local_addr,
            metrics_addr,
            server,
            metrics_server,
            handle,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn handle(&self) -> AppHandle {
        self.handle.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        match self.metrics_server {
            Some(metrics) => {
                let (a, b) = futures_util::future::join(self.server, metrics).await;
                a.and(b)
            }
            None => self.server.await,
        }
    }
}

/// The built-in demo provider, when any configured provider uses the `demo` preset.
fn demo_provider(
    providers: &Providers,
    settings: &Settings,
    clock: SharedClock,
) -> Option<DemoProvider> {
    let demos: Vec<_> = providers.iter().filter(|p| p.is_preset("demo")).collect();
    let first = demos.first()?;
    let demo = DemoProvider::new(
        first.client_id.clone(),
        first.client_secret.expose_secret().to_owned(),
        demos.iter().map(|p| p.redirect_uri.clone()).collect(),
        settings.demo.access_token_ttl_secs,
        clock,
    );
    Some(match &first.openid {
        Some(openid) => demo.with_openid(openid.issuer.clone()),
        None => demo,
    })
}
