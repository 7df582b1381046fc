//! TLS in process: with `server.tls_cert` and `server.tls_key` the broker serves HTTPS and
//! `wss:` itself, HTTP/1.1 with WebSockets, for operators with no proxy in front. Each test makes
//! its own self-signed certificate for 127.0.0.1.

use crate::helpers;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, WAIT, confirmation_code, query_value, settings_with};
use futures_util::{SinkExt, StreamExt};
use oauth_broker::startup::{Application, Overrides};
use serde_json::{Value, json};
use std::sync::Arc;
use tempfile::TempDir;

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
struct TestCertificate {
    dir: TempDir,
    der: rustls::pki_types::CertificateDer<'static>,
}

impl TestCertificate {
    fn generate() -> TestCertificate {
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .expect("certificate generated");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).unwrap();
        std::fs::write(
            dir.path().join("key.pem"),
            certified.signing_key.serialize_pem(),
        )
        .unwrap();
        TestCertificate {
            der: certified.cert.der().clone(),
            dir,
        }
    }

    fn cert_path(&self) -> String {
        self.dir.path().join("cert.pem").display().to_string()
    }

    fn key_path(&self) -> String {
        self.dir.path().join("key.pem").display().to_string()
    }

    /// An HTTP/1.1 client that trusts this certificate and nothing else.
    fn client(&self) -> awc::Client {
        oauth_broker::startup::install_crypto_provider();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).expect("certificate is a root");
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(Arc::new(config)))
            .disable_redirects()
            .timeout(WAIT)
            .finish()
    }
}

async fn spawn_over_tls(mock: &MockProvider, certificate: &TestCertificate) -> TestApp {
    let mut settings = settings_with(mock);
    settings.server.tls_cert = certificate.cert_path();
    settings.server.tls_key = certificate.key_path();
    let mut app = TestApp::spawn_with_scheme(settings, "https").await;
    app.http = certificate.client();
    app
}

/// What `awc`'s `connect()` hands back: frames in, messages out.
trait WsFramed:
    futures_util::Stream<Item = Result<awc::ws::Frame, awc::error::WsProtocolError>>
    + futures_util::Sink<awc::ws::Message, Error = awc::error::WsProtocolError>
    + Unpin
{
}

impl<T> WsFramed for T where
    T: futures_util::Stream<Item = Result<awc::ws::Frame, awc::error::WsProtocolError>>
        + futures_util::Sink<awc::ws::Message, Error = awc::error::WsProtocolError>
        + Unpin
{
}

async fn next_json(ws: &mut impl WsFramed) -> Value {
    let read = async {
        loop {
            match ws.next().await {
                Some(Ok(awc::ws::Frame::Text(text))) => {
                    return serde_json::from_slice::<Value>(&text).expect("JSON frame");
                }
                Some(Ok(awc::ws::Frame::Ping(payload))) => {
                    ws.send(awc::ws::Message::Pong(payload)).await.unwrap();
                }
                Some(Ok(_)) => continue,
                other => panic!("the WebSocket ended: {other:?}"),
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("a frame in time")
}

async fn send_json(ws: &mut impl WsFramed, value: &Value) {
    ws.send(awc::ws::Message::Text(value.to_string().into()))
        .await
        .expect("frame sent");
}

#[actix_web::test]
async fn healthz_answers_over_https_on_http_1_1() {
    let mock = MockProvider::start();
    let certificate = TestCertificate::generate();
    let app = spawn_over_tls(&mock, &certificate).await;
    assert!(app.base.starts_with("https://127.0.0.1:"), "{}", app.base);

    let response = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("HTTPS answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), awc::http::Version::HTTP_11);

    let manifest = app.get("/manifest.trex").await;
    assert_eq!(manifest.status, 200);
    assert!(
        manifest.body.contains(&app.base),
        "the manifest names the https URL: {}",
        manifest.body
    );
}

#[actix_web::test]
async fn a_whole_signin_runs_over_wss_and_https() {
    let mock = MockProvider::start();
    let certificate = TestCertificate::generate();
    let app = spawn_over_tls(&mock, &certificate).await;

    let ws_url = format!("{}/ws", app.base.replacen("https", "wss", 1));
    let (response, mut ws) = app
        .http
        .ws(ws_url.as_str())
        .origin(app.base.as_str())
        .max_frame_size(1 << 16)
        .connect()
        .await
        .expect("wss upgrade");
    assert_eq!(response.status(), 101);
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "hello", "{hello}");
    assert_eq!(hello["providers"], json!(["mock"]));

    send_json(&mut ws, &json!({"type": "begin"})).await;
    let signin = next_json(&mut ws).await;
    assert_eq!(signin["type"], "signin", "{signin}");
    let link = signin["url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/signin/", app.base)),
        "sign-in links use the https callback URL: {link}"
    );

    let redirect = app.get(link).await;
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    let authorize = url::Url::parse(redirect.header("location").unwrap()).unwrap();
    assert!(authorize.as_str().starts_with(&mock.base), "{authorize}");
    assert_eq!(
        query_value(&authorize, "redirect_uri").as_deref(),
        Some(format!("{}/complete/mock", app.base).as_str())
    );
    let state = query_value(&authorize, "state").unwrap();

    let page = app
        .complete("mock", &[("code", "tls-code"), ("state", &state)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page
        .header("set-cookie")
        .expect("the page sets its reload cookie");
    assert!(
        cookie.ends_with("; Secure") && cookie.contains("; HttpOnly"),
        "over HTTPS the reload cookie is Secure: {cookie}"
    );
    let confirm = next_json(&mut ws).await;
    assert_eq!(confirm["type"], "confirm", "{confirm}");
    let code = confirmation_code(&page.body).expect("the page shows the code");
    send_json(&mut ws, &json!({"type": "confirm", "code": code})).await;
    let signedin = next_json(&mut ws).await;
    assert_eq!(signedin["type"], "signedin", "{signedin}");
    assert_eq!(signedin["access_token"], "at-tls-code");
}

#[actix_web::test]
async fn plain_http_to_the_tls_port_is_not_served() {
    let mock = MockProvider::start();
    let certificate = TestCertificate::generate();
    let app = spawn_over_tls(&mock, &certificate).await;
    let plain = app.base.replacen("https", "http", 1);
    let answer = helpers::http_client()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(
        answer.is_err(),
        "plain HTTP must not be answered: {:?}",
        answer.map(|r| r.status())
    );
    // A client that does not trust the certificate is refused too.
    let untrusting = helpers::http_client().get(app.url("/healthz")).send().await;
    assert!(
        untrusting.is_err(),
        "an unknown certificate must not be accepted"
    );
}

#[actix_web::test]
async fn a_certificate_without_its_key_or_with_another_key_does_not_start() {
    let mock = MockProvider::start();
    let certificate = TestCertificate::generate();
    let other = TestCertificate::generate();
    let build = |cert: String, key: String| {
        let mut settings = settings_with(&mock);
        settings.server.public_url = "https://127.0.0.1:1".into();
        settings.server.tls_cert = cert;
        settings.server.tls_key = key;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Application::build(
            settings,
            Overrides {
                listener: Some(listener),
                ..Overrides::default()
            },
        )
        .err()
        .expect("refused to start")
        .to_string()
    };

    let missing_key = build(certificate.cert_path(), String::new());
    assert!(missing_key.contains("server.tls_key"), "{missing_key}");
    let mismatched = build(certificate.cert_path(), other.key_path());
    assert!(
        mismatched.contains("server.tls_cert") && mismatched.contains("server.tls_key"),
        "{mismatched}"
    );
    let not_pem = build(certificate.key_path(), certificate.key_path());
    assert!(not_pem.contains("certificate"), "{not_pem}");
}

/// With TLS in process there is no proxy to send HSTS: every answer carries it, pages, errors
/// and the 404 alike; over plain HTTP none does (it would mean nothing there, RFC 6797 §7.2).
#[actix_web::test]
async fn every_answer_over_in_process_tls_carries_hsts() {
    let mock = MockProvider::start();
    let certificate = TestCertificate::generate();
    let app = spawn_over_tls(&mock, &certificate).await;
    for path in [
        "/",
        "/healthz",
        "/signin/unknown",
        "/complete/mock",
        "/no/such/page",
        "/static/oauth-broker-client.js",
    ] {
        let response = app.get(path).await;
        assert_eq!(
            response.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{path} answered {} without HSTS",
            response.status
        );
    }

    let plain = TestApp::spawn(settings_with(&mock)).await;
    let response = plain.get("/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("strict-transport-security"), None);
}
