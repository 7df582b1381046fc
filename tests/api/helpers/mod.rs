//! Shared test set-up: the real app on port 0 with an adjustable clock, a mock OAuth provider
//! that is a real HTTP server in its own thread, and a real WebSocket client.

pub mod browser;
pub mod cluster;
pub mod from_address;
pub mod frozen_proxy;
pub mod http_double;
pub mod mock_openid;
pub mod mock_provider;
pub mod own_process;
pub mod processes;
pub mod redis_cluster;
pub mod schema;
pub mod static_site;
pub mod tls_redis;
pub mod ws_client;

use mock_provider::MockProvider;
use oauth_broker::clock::AdjustableClock;
use oauth_broker::settings::{ProviderSettings, Settings};
use oauth_broker::startup::{AppHandle, Application, Overrides};
use secrecy::SecretString;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use url::Url;
pub use ws_client::WsClient;

/// Every wait in the tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

/// A valid `secrets.seal_key` for brokers the tests configure: 32 bytes, base64, as
/// `openssl rand -base64 32` prints them.
pub const SEAL_KEY: &str = "A12iiBF9pMoWv7hekO25xBFTN8N5lYvap7bf8IYAKsg=";

pub struct TestApp {
    pub base: String,
    pub metrics_base: String,
    pub clock: Arc<AdjustableClock>,
    pub handle: AppHandle,
    pub http: awc::Client,
}

/// Turns off the per-address limits (0 = off): every test client comes from 127.0.0.1, so
/// tests that are not about limits would otherwise meet them.
pub fn per_client_limits_off(settings: &mut Settings) {
    settings.limits.signin_links_per_client = 0;
    settings.limits.requests_per_client = 0;
    settings.limits.connections_per_client = 0;
    settings.limits.confirm_attempts_per_client = 0;
    settings.limits.sessions_per_client = 0;
    settings.limits.refreshes_per_client = 0;
}

/// Settings for a test: loopback URLs filled in by `spawn`, one provider `mock` pointing at the
/// given mock provider, fast heartbeats.
pub fn settings_with(mock: &MockProvider) -> Settings {
    let mut settings = Settings::default();
    settings
        .providers
        .insert("mock".into(), mock.provider_settings());
    fast_heartbeats(&mut settings);
    settings
}

/// Heartbeats every second, idle connections closed after five, so tests about them are quick.
pub fn fast_heartbeats(settings: &mut Settings) {
    settings.sessions.heartbeat_secs = 1;
    settings.sessions.idle_timeout_secs = 5;
}

/// Settings with one provider, the built-in demo (`demo_settings`).
pub fn demo_only_settings() -> Settings {
    let mut settings = Settings::default();
    settings.providers.insert("demo".into(), demo_settings());
    settings
}

pub fn demo_settings() -> ProviderSettings {
    ProviderSettings {
        preset: Some("demo".into()),
        client_id: "demo-client".into(),
        client_secret: Some(SecretString::from("demo-secret")),
        ..ProviderSettings::default()
    }
}

impl TestApp {
    /// Starts the app on a free port; `public_url` and `callback_url` are set to it.
    pub async fn spawn(settings: Settings) -> TestApp {
        Self::start(settings, "http").await
    }

    async fn start(mut settings: Settings, scheme: &str) -> TestApp {
        oauth_broker::startup::install_crypto_provider();
        // Installed before the app, so tests count every event from the first request on.
        oauth_broker::telemetry::metrics_handle();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let metrics_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let metrics_port = metrics_listener.local_addr().unwrap().port();
        let base = format!("{scheme}://127.0.0.1:{port}");
        settings.server.bind = format!("127.0.0.1:{port}");
        settings.server.metrics_bind = format!("127.0.0.1:{metrics_port}");
        settings.server.public_url = base.clone();
        settings.server.callback_url = Some(base.clone());
        if settings.server.workers == 0 {
            settings.server.workers = 2;
        }
        let clock = Arc::new(AdjustableClock::default());
        let app = Application::build(
            settings,
            Overrides {
                clock: clock.clone(),
                listener: Some(listener),
                metrics_listener: Some(metrics_listener),
                ..Overrides::default()
            },
        )
        .expect("app builds");
        let handle = app.handle();
        actix_rt::spawn(app.run_until_stopped());
        TestApp {
            base,
            metrics_base: format!("http://127.0.0.1:{metrics_port}"),
            clock,
            handle,
            http: http_client(),
        }
    }

    /// The address it listens on, for tests that open their own sockets.
    pub fn addr(&self) -> SocketAddr {
        let (_, host_port) = self.base.split_once("://").expect("a base URL");
        host_port.parse().expect("an IP address and port")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.base.replacen("http", "ws", 1))
    }

    pub async fn connect(&self) -> WsClient {
        WsClient::connect(&self.ws_url(), Some(&self.base)).await
    }

    /// Resumes a dropped session with its resume secret.
    pub async fn resume(&self, secret: &str) -> WsClient {
        WsClient::resume(&self.ws_url(), Some(&self.base), secret).await
    }

    /// GET without following redirects: status, headers and body.
    pub async fn get(&self, path_or_url: &str) -> Response {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            self.url(path_or_url)
        };
        get(&self.http, &url).await
    }

    /// `begin` on the socket, then the sign-in link: the provider URL the broker redirected to.
    pub async fn start_signin(&self, ws: &mut WsClient, provider: Option<&str>) -> Url {
        let begin = match provider {
            Some(p) => serde_json::json!({"type": "begin", "provider": p}),
            None => serde_json::json!({"type": "begin"}),
        };
        ws.send_json(&begin).await;
        let signin = ws.expect("signin").await;
        let link = signin["url"].as_str().unwrap().to_owned();
        let response = self.get(&link).await;
        assert_eq!(
            response.status, 303,
            "sign-in link answers 303: {}",
            response.body
        );
        Url::parse(response.header("location").unwrap()).unwrap()
    }

    /// The provider's redirect back to the broker.
    pub async fn complete(&self, provider: &str, query: &[(&str, &str)]) -> Response {
        let mut url = Url::parse(&self.url(&format!("/complete/{provider}"))).unwrap();
        url.query_pairs_mut().extend_pairs(query);
        self.get(url.as_str()).await
    }

    /// A whole sign-in up to the tokens (typing the code when confirmation is on).
    pub async fn sign_in(&self, ws: &mut WsClient, code: &str) -> serde_json::Value {
        let authorize = self.start_signin(ws, None).await;
        let state = query_value(&authorize, "state").unwrap();
        let page = self
            .complete("mock", &[("code", code), ("state", &state)])
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let next = ws.recv().await;
        if next["type"] == "confirm" {
            let shown = confirmation_code(&page.body).expect("page shows the code");
            ws.send_json(&serde_json::json!({"type": "confirm", "code": shown}))
                .await;
            ws.expect("signedin").await
        } else {
            assert_eq!(next["type"], "signedin", "{next}");
            next
        }
    }

    pub async fn metrics(&self) -> String {
        get(&self.http, &format!("{}/metrics", self.metrics_base))
            .await
            .body
    }
}

pub fn http_client() -> awc::Client {
    oauth_broker::startup::install_crypto_provider();
    awc::Client::builder()
        .disable_redirects()
        .timeout(WAIT)
        .finish()
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub async fn get(http: &awc::Client, url: &str) -> Response {
    let mut response = http.get(url).send().await.expect("request is answered");
    read_response(&mut response).await.expect("body")
}

/// Status, headers and body of any awc response (GET, POST, ...).
pub async fn read_response<S>(response: &mut awc::ClientResponse<S>) -> Result<Response, String>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response
        .body()
        .limit(1 << 20)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

pub fn query_value(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The confirmation code as the completion page shows it.
pub fn confirmation_code(page: &str) -> Option<String> {
    let start = page.find("id=\"confirm-code\">")? + "id=\"confirm-code\">".len();
    let end = page[start..].find('<')?;
    Some(page[start..start + end].to_owned())
}

/// Asserts the headers the contract requires on every page the broker renders.
pub fn assert_strict_headers(response: &Response) {
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(response.header("x-frame-options"), Some("DENY"));
    let csp = response.header("content-security-policy").expect("CSP");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
}

impl TestApp {
    /// `spawn` over a real Redis (with the tests' seal key), once `/readyz` says it reached
    /// it: replicas in this process, whose clocks a test can move.
    pub async fn spawn_over_redis(mut settings: Settings, redis_url: &str) -> TestApp {
        settings.store.redis_url = Some(SecretString::from(redis_url.to_owned()));
        settings.secrets.seal_key = Some(SecretString::from(SEAL_KEY));
        let app = TestApp::spawn(settings).await;
        let deadline = std::time::Instant::now() + WAIT;
        while app.get("/readyz").await.status != 200 {
            assert!(
                std::time::Instant::now() < deadline,
                "the app never reached Redis"
            );
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        app
    }

    /// Like `spawn`, but `public_url` and `callback_url` use `scheme` (`"https"` when the
    /// settings name `server.tls_cert` and `server.tls_key`). `http` is the plain client; a test
    /// over TLS replaces it with one that trusts its certificate.
    pub async fn spawn_with_scheme(settings: Settings, scheme: &str) -> TestApp {
        Self::start(settings, scheme).await
    }
}
