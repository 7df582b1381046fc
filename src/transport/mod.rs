//! The transport: the only code that touches actix-http and actix-server. The HTTP server is
//! actix-server running actix-http around the app, as `actix_web::HttpServer` would, plus the
//! one thing `HttpServer` cannot do: hand WebSocket upgrades to [`upgrade`], so an idle session
//! does not keep the HTTP/1 dispatcher's buffers (BENCHMARKS.md).

pub mod upgrade;

use actix_http::body::MessageBody;
use actix_http::{HttpService, HttpServiceBuilder, Request};
use actix_server::{GracefulShutdownSignal, Server, ServerBuilder};
use actix_service::{IntoServiceFactory, ServiceFactory, ServiceFactoryExt, map_config};
use actix_web::dev::{AppConfig, ServiceResponse};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;
use upgrade::UpgradeFactory;

/// How connections are treated; the same figures `HttpServer` was given before.
pub struct ServerOptions {
    pub workers: usize,
    pub shutdown_grace_secs: u64,
    pub tls: Option<rustls::ServerConfig>,
}

/// Slow or silent clients are cut off at these, so none can hold a connection for free.
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const KEEP_ALIVE: Duration = Duration::from_secs(30);
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);
/// TLS handshakes in progress per worker; more wait, so a burst cannot starve the workers.
const MAX_CONCURRENT_TLS_HANDSHAKES: usize = 256;

/// Serves `make_app` on `listener` until the returned server is stopped.
pub fn serve<F, I, S, B>(
    make_app: F,
    listener: TcpListener,
    options: ServerOptions,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<
            Request,
            Config = AppConfig,
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
        > + 'static,
    S::InitError: std::fmt::Debug,
    S::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    // Each worker builds the app twice: once for ordinary requests, once for the upgrade
    // service, which runs the `/ws` request through the same middleware and route.
    //
    // The app's config is actix-web's public default (`HttpServer` builds it through a
    // doc-hidden constructor). What it holds (a host name, whether the listener is TLS) only
    // feeds `connection_info()` and `url_for`, which the broker never uses: every URL it
    // builds comes from `server.public_url` / `server.callback_url` (a test pins this).
    let app_for =
        move |make_app: &F| map_config(make_app().into_factory(), |_| AppConfig::default());
    let builder = ServerBuilder::new()
        .workers(options.workers)
        .disable_signals()
        .shutdown_timeout(options.shutdown_grace_secs);
    let signal = builder.graceful_shutdown_signal();
    let name = format!("oauth-broker-{addr}");
    let builder = match options.tls {
        None => builder.listen(name, listener, move || {
            http(HttpService::build(), addr, &signal)
                .upgrade(UpgradeFactory::new(app_for(&make_app)))
                .finish(app_for(&make_app).map_err(|e| e.error_response()))
                .tcp()
        })?,
        Some(tls) => {
            actix_tls::accept::max_concurrent_tls_connect(MAX_CONCURRENT_TLS_HANDSHAKES);
            builder.listen(name, listener, move || {
                http(HttpService::build(), addr, &signal)
                    .upgrade(UpgradeFactory::new(app_for(&make_app)))
                    .finish(app_for(&make_app).map_err(|e| e.error_response()))
                    .rustls_0_23_with_config(
                        tls.clone(),
                        actix_http::TlsAcceptorConfig::default()
                            .handshake_timeout(TLS_HANDSHAKE_TIMEOUT),
                    )
            })?
        }
    };
    Ok(builder.run())
}

/// The connection settings both listeners share, whatever the transport.
fn http<T, S>(
    builder: HttpServiceBuilder<T, S>,
    addr: SocketAddr,
    signal: &GracefulShutdownSignal,
) -> HttpServiceBuilder<T, S>
where
    S: ServiceFactory<Request, Config = ()>,
    S::Error: Into<actix_http::Response<actix_http::body::BoxBody>> + 'static,
    S::InitError: std::fmt::Debug,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
{
    let signal = signal.clone();
    builder
        .keep_alive(KEEP_ALIVE)
        .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
        .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
        // Frames and pages are small and written once: with Nagle's algorithm on, each waited
        // for the peer's delayed ACK (about 40 ms per sign-in, BENCHMARKS.md).
        .tcp_nodelay(true)
        .local_addr(addr)
        .graceful_shutdown_signal(move || {
            let signal = signal.clone();
            async move { signal.notified().await }
        })
}
