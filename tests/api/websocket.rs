//! The WebSocket as the contract describes it: heartbeats and idle timeouts, frame size, origin
//! and connection limits, malformed input, and resuming a dropped session without losing what
//! was addressed to it.

use crate::helpers;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::ws_client::Closed;
use crate::helpers::{TestApp, WAIT, WsClient, confirmation_code, query_value, settings_with};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type RawStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test listens to be sure that nothing (more) arrives.
const QUIET: Duration = Duration::from_millis(700);

/// The HTTP status of a refused upgrade.
fn refusal_status(result: Result<RawStream, WsError>) -> u16 {
    match result {
        Ok(_) => panic!("the upgrade was accepted"),
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("the upgrade failed without an HTTP answer: {e}"),
    }
}

/// The first text frame of a raw stream, which must be `hello`.
async fn read_hello(stream: &mut RawStream) -> Value {
    let wait = async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => return serde_json::from_str::<Value>(&text),
                Some(Ok(_)) => continue,
                other => panic!("connection ended before hello: {other:?}"),
            }
        }
    };
    let hello = tokio::time::timeout(WAIT, wait)
        .await
        .expect("hello in time")
        .expect("hello is JSON");
    assert_eq!(hello["type"], "hello", "{hello}");
    hello
}

fn open_sessions(app: &TestApp) -> usize {
    app.handle.broker().open_sessions.load(Ordering::SeqCst)
}

/// Waits (bounded) until the server counts exactly `expected` open connections.
async fn wait_for_open_sessions(app: &TestApp, expected: usize) {
    let deadline = Instant::now() + WAIT;
    while open_sessions(app) != expected {
        assert!(
            Instant::now() < deadline,
            "server still counts {} open connections, expected {expected}",
            open_sessions(app)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Closes from the client side and waits until the server has let the connection go, so
/// that what follows happens "while disconnected" and not in a race with the close.
async fn drop_connection(app: &TestApp, ws: WsClient) {
    let before = open_sessions(app);
    ws.close().await;
    wait_for_open_sessions(app, before - 1).await;
    // The connection hands its resume secret back to the store in a task spawned as it stops.
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn resume(app: &TestApp, secret: &str) -> WsClient {
    WsClient::connect(
        &format!("{}?resume={secret}", app.ws_url()),
        Some(&app.base),
    )
    .await
}

/// `begin`, answered by a sign-in link (not followed yet).
async fn begin(ws: &mut WsClient) -> String {
    ws.send_json(&json!({"type": "begin", "provider": "mock"}))
        .await;
    let signin = ws.expect("signin").await;
    signin["url"].as_str().unwrap().to_owned()
}

/// Follows a sign-in link and lets the provider send the browser back with `code`: the
/// completion page.
async fn finish_in_browser(app: &TestApp, link: &str, code: &str) -> helpers::Response {
    let response = app.get(link).await;
    assert_eq!(response.status, 303, "{}", response.body);
    let authorize = url::Url::parse(response.header("location").unwrap()).unwrap();
    let state = query_value(&authorize, "state").unwrap();
    let page = app
        .complete("mock", &[("code", code), ("state", &state)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

async fn assert_still_usable(ws: &mut WsClient) {
    ws.send_json(&json!({"type": "begin"})).await;
    let signin = ws.expect("signin").await;
    assert_eq!(signin["provider"], "mock");
}

// --- heartbeats and idle connections ---------------------------------------------------------

#[actix_web::test]
async fn server_pings_every_heartbeat() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut stream = WsClient::open(&app.ws_url(), Some(&app.base))
        .await
        .unwrap();
    let hello = read_hello(&mut stream).await;
    assert_eq!(hello["heartbeat_secs"], 1);
    let mut next_ping = async || {
        loop {
            match stream.next().await {
                Some(Ok(Message::Ping(_))) => return,
                Some(Ok(_)) => continue,
                other => panic!("connection ended before a ping: {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_millis(2500), next_ping())
        .await
        .expect("a ping within 2.5 s with heartbeat_secs = 1");
    tokio::time::timeout(Duration::from_millis(2500), next_ping())
        .await
        .expect("and another one a heartbeat later");
}

#[actix_web::test]
async fn a_client_that_never_answers_pings_is_closed_after_the_idle_timeout() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.sessions.idle_timeout_secs = 2;
    let app = TestApp::spawn(settings).await;
    let mut stream = WsClient::open(&app.ws_url(), Some(&app.base))
        .await
        .unwrap();
    // Not reading means tungstenite never answers the pings: the client is silent.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let ended = async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(3), ended)
        .await
        .expect("the server closed the silent connection");
    wait_for_open_sessions(&app, 0).await;
}

#[actix_web::test]
async fn a_client_that_answers_pings_outlives_the_idle_timeout() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.sessions.idle_timeout_secs = 2;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    // Reading answers the pings (tungstenite's automatic pong); nothing else is said.
    assert_eq!(ws.try_recv(Duration::from_secs(4)).await, None);
    assert_still_usable(&mut ws).await;
}

// --- frame size --------------------------------------------------------------------------------

#[actix_web::test]
async fn a_frame_over_max_message_bytes_closes_with_1009() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_text(&"x".repeat(9000)).await;
    match ws.closed().await {
        Closed::Frame(Some(frame)) => assert_eq!(frame.code, CloseCode::Size, "{frame:?}"),
        other => panic!("expected a close frame with 1009, got {other:?}"),
    }
}

#[actix_web::test]
async fn a_frame_one_byte_over_the_limit_closes_and_one_at_the_limit_does_not() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_text(&"y".repeat(8192)).await;
    assert_eq!(ws.expect("error").await["code"], "invalid_message");
    ws.send_text(&"y".repeat(8193)).await;
    match ws.closed().await {
        Closed::Frame(Some(frame)) => assert_eq!(frame.code, CloseCode::Size, "{frame:?}"),
        other => panic!("expected a close frame with 1009, got {other:?}"),
    }
    wait_for_open_sessions(&app, 0).await;
}

#[actix_web::test]
async fn a_large_frame_under_the_limit_is_an_ordinary_invalid_message() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_text(&"x".repeat(8000)).await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "invalid_message");
    assert_still_usable(&mut ws).await;
}

// --- origin check ------------------------------------------------------------------------------

#[actix_web::test]
async fn a_foreign_origin_is_refused_with_403() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let refused = WsClient::open(&app.ws_url(), Some("https://evil.example")).await;
    assert_eq!(refusal_status(refused), 403);
}

#[actix_web::test]
async fn the_public_urls_origin_and_non_browser_clients_are_accepted() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut from_page = WsClient::open(&app.ws_url(), Some(&app.base))
        .await
        .unwrap();
    read_hello(&mut from_page).await;
    let mut without_origin = WsClient::open(&app.ws_url(), None).await.unwrap();
    read_hello(&mut without_origin).await;
}

#[actix_web::test]
async fn allowed_origins_replace_the_public_urls_origin() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.sessions.allowed_origins = vec!["https://tableau.example.com".into()];
    let app = TestApp::spawn(settings).await;
    let mut tableau = WsClient::open(&app.ws_url(), Some("https://tableau.example.com"))
        .await
        .unwrap();
    read_hello(&mut tableau).await;
    let refused = WsClient::open(&app.ws_url(), Some(&app.base)).await;
    assert_eq!(refusal_status(refused), 403);
    let refused = WsClient::open(&app.ws_url(), Some("https://evil.example")).await;
    assert_eq!(refusal_status(refused), 403);
}

// --- connection limit --------------------------------------------------------------------------

#[actix_web::test]
async fn connections_beyond_max_connections_get_503_until_one_closes() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.sessions.max_connections = 3;
    let app = TestApp::spawn(settings).await;
    let first = app.connect().await;
    let _second = app.connect().await;
    let _third = app.connect().await;
    let refused = WsClient::open(&app.ws_url(), Some(&app.base)).await;
    assert_eq!(refusal_status(refused), 503);

    first.close().await;
    // The slot is freed when the server's actor stops, a moment after the close.
    let deadline = Instant::now() + WAIT;
    let mut fourth = loop {
        match WsClient::open(&app.ws_url(), Some(&app.base)).await {
            Ok(stream) => break stream,
            Err(WsError::Http(r)) if r.status() == 503 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("a freed slot takes a new connection, got: {e}"),
        }
    };
    read_hello(&mut fourth).await;
    assert_eq!(open_sessions(&app), 3);
    let refused = WsClient::open(&app.ws_url(), Some(&app.base)).await;
    assert_eq!(refusal_status(refused), 503);
}

// --- malformed input ---------------------------------------------------------------------------

#[actix_web::test]
async fn each_malformed_frame_gets_invalid_message_and_the_connection_stays_open() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let bad_frames = [
        "not json",
        "",
        "[1, 2, 3]",
        r#"{"provider": "mock"}"#,
        r#"{"type": "launch"}"#,
        r#"{"type": 1}"#,
        r#"{"type": "begin", "provider": 7}"#,
        r#"{"type": "confirm", "code": 1234}"#,
        r#"{"type": "confirm"}"#,
        r#"{"type": "refresh", "refresh": ["v1"]}"#,
        "\"begin\"",
        "null",
    ];
    for bad in bad_frames {
        ws.send_text(bad).await;
        let error = ws.expect("error").await;
        assert_eq!(error["code"], "invalid_message", "for {bad:?}: {error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "for {bad:?} the error says why: {error}"
        );
    }
    ws.send_raw(Message::binary(br#"{"type":"begin"}"#.to_vec()))
        .await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "invalid_message", "binary frame: {error}");
    assert!(!error["message"].as_str().unwrap_or_default().is_empty());

    assert_still_usable(&mut ws).await;
}

#[actix_web::test]
async fn begin_with_an_unknown_provider_is_unknown_provider() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_json(&json!({"type": "begin", "provider": "myspace"}))
        .await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "unknown_provider", "{error}");
    assert!(!error["message"].as_str().unwrap_or_default().is_empty());
    assert_still_usable(&mut ws).await;
}

#[actix_web::test]
async fn confirm_with_nothing_held_is_expired() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_json(&json!({"type": "confirm", "code": "ABCD2345"}))
        .await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "expired", "{error}");
    assert_still_usable(&mut ws).await;
}

// --- resume ------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_sign_in_finished_while_disconnected_is_delivered_after_resume() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    let link = begin(&mut ws).await;
    drop_connection(&app, ws).await;

    let page = finish_in_browser(&app, &link, "away").await;
    let shown = confirmation_code(&page.body).expect("the page shows a code");

    let mut back = resume(&app, &secret).await;
    assert_eq!(back.session(), session, "the same session");
    assert_ne!(back.resume_secret(), secret, "a new resume secret");
    let confirm = back.expect("confirm").await;
    assert_eq!(confirm["provider"], "mock");
    back.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    let signedin = back.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-away");
    assert_eq!(back.try_recv(QUIET).await, None, "signedin comes once");
}

#[actix_web::test]
async fn without_confirmation_parked_tokens_arrive_once_after_resume() {
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.signin.confirm_code = false;
    let app = TestApp::spawn(settings).await;
    let mut ws = app.connect().await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    let link = begin(&mut ws).await;
    drop_connection(&app, ws).await;
    finish_in_browser(&app, &link, "parked").await;

    let mut back = resume(&app, &secret).await;
    assert_eq!(back.session(), session);
    let signedin = back.expect("signedin").await;
    assert_eq!(signedin["access_token"], "at-parked");
    assert_eq!(back.try_recv(QUIET).await, None, "signedin comes once");

    let newest = back.resume_secret();
    drop_connection(&app, back).await;
    let mut again = resume(&app, &newest).await;
    assert_eq!(again.session(), session);
    assert_eq!(
        again.try_recv(QUIET).await,
        None,
        "a second resume does not repeat the tokens"
    );
}

#[actix_web::test]
async fn a_resume_secret_works_once() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let ws = app.connect().await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    drop_connection(&app, ws).await;
    let back = resume(&app, &secret).await;
    assert_eq!(back.session(), session);

    let mut replay = resume(&app, &secret).await;
    assert_ne!(
        replay.session(),
        session,
        "a replayed secret gets a new session"
    );
    assert_eq!(replay.session().len(), 20);
    let error = replay.expect("error").await;
    assert_eq!(error["code"], "expired", "{error}");
    assert_still_usable(&mut replay).await;
}

#[actix_web::test]
async fn a_resume_after_the_grace_period_gets_a_new_session() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let ws = app.connect().await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    drop_connection(&app, ws).await;
    app.clock.advance_secs(121);

    let mut late = resume(&app, &secret).await;
    assert_ne!(late.session(), session);
    let error = late.expect("error").await;
    assert_eq!(error["code"], "expired", "{error}");
}

#[actix_web::test]
async fn a_resume_within_the_grace_period_keeps_the_session() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let ws = app.connect().await;
    let (session, secret) = (ws.session(), ws.resume_secret());
    drop_connection(&app, ws).await;
    app.clock.advance_secs(119);

    let mut back = resume(&app, &secret).await;
    assert_eq!(back.session(), session);
    assert_eq!(back.try_recv(QUIET).await, None, "no expired error");
}

#[actix_web::test]
async fn a_resume_while_the_old_socket_is_open_closes_it_with_1008_and_takes_its_frames() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut old = app.connect().await;
    let (session, secret) = (old.session(), old.resume_secret());
    let link = begin(&mut old).await;

    let mut new = resume(&app, &secret).await;
    assert_eq!(new.session(), session);
    match old.closed().await {
        Closed::Frame(Some(frame)) => assert_eq!(frame.code, CloseCode::Policy, "{frame:?}"),
        other => panic!("expected the old socket closed with 1008, got {other:?}"),
    }
    wait_for_open_sessions(&app, 1).await;

    // The sign-in the old socket began finishes on the new one.
    let page = finish_in_browser(&app, &link, "moved").await;
    new.expect("confirm").await;
    let shown = confirmation_code(&page.body).unwrap();
    new.send_json(&json!({"type": "confirm", "code": shown}))
        .await;
    assert_eq!(new.expect("signedin").await["access_token"], "at-moved");
}

// --- routing -----------------------------------------------------------------------------------

#[actix_web::test]
async fn results_go_only_to_the_session_that_began_the_sign_in() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut a = app.connect().await;
    let mut b = app.connect().await;
    assert_ne!(a.session(), b.session());
    let _link_a = begin(&mut a).await;
    let link_b = begin(&mut b).await;

    finish_in_browser(&app, &link_b, "bee").await;
    let confirm = b.expect("confirm").await;
    assert_eq!(confirm["provider"], "mock");
    assert_eq!(
        a.try_recv(QUIET).await,
        None,
        "A hears nothing of B's sign-in"
    );
}

fn fragment(text: &str, first: bool, last: bool) -> Message {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let opcode = if first {
        OpCode::Data(Data::Text)
    } else {
        OpCode::Data(Data::Continue)
    };
    Message::Frame(Frame::message(text.as_bytes().to_vec(), opcode, last))
}

#[actix_web::test]
async fn a_text_message_sent_in_fragments_is_reassembled() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    ws.send_raw(fragment(r#"{"type":"be"#, true, false)).await;
    ws.send_raw(fragment(r#"gin","provider""#, false, false))
        .await;
    ws.send_raw(fragment(r#":"mock"}"#, false, true)).await;
    assert_eq!(ws.expect("signin").await["provider"], "mock");
}

#[actix_web::test]
async fn fragments_adding_up_past_the_limit_close_with_1009() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let mut ws = app.connect().await;
    let piece = "x".repeat(3000);
    ws.send_raw(fragment(&piece, true, false)).await;
    ws.send_raw(fragment(&piece, false, false)).await;
    ws.send_raw(fragment(&piece, false, true)).await;
    match ws.closed().await {
        Closed::Frame(Some(frame)) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected 1009, got {other:?}"),
    }
}

// --- the upgrade itself (served outside the HTTP/1 dispatcher) ---------------------------------

/// A masked client text frame, as RFC 6455 §5.3 requires of clients.
fn masked_text_frame(text: &str) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    assert!(text.len() < 126, "a short frame keeps the header simple");
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Writes an upgrade request for `path` (plus `extra`, sent in the same write) on a raw socket
/// and reads until the response head ends: (socket, head, bytes already read after it).
async fn raw_upgrade(
    app: &TestApp,
    path: &str,
    origin: &str,
    extra: &[u8],
) -> (TcpStream, String, Vec<u8>) {
    let socket = TcpStream::connect(app_addr(app)).await.unwrap();
    upgrade_on(socket, app, path, origin, extra).await
}

fn app_addr(app: &TestApp) -> std::net::SocketAddr {
    app.base.trim_start_matches("http://").parse().unwrap()
}

/// `raw_upgrade` on a socket the test connected itself.
async fn upgrade_on(
    mut socket: TcpStream,
    app: &TestApp,
    path: &str,
    origin: &str,
    extra: &[u8],
) -> (TcpStream, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app_addr(app);
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .into_bytes();
    request.extend_from_slice(extra);
    socket.write_all(&request).await.unwrap();
    let mut read = Vec::new();
    let head_end = loop {
        if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(WAIT, socket.read(&mut chunk))
            .await
            .expect("a response head in time")
            .unwrap();
        assert!(n > 0, "closed before a response head: {read:?}");
        read.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(read[..head_end].to_vec()).unwrap();
    (socket, head, read[head_end..].to_vec())
}

/// Everything the server sends until it closes the connection (bounded).
async fn read_to_close(socket: &mut TcpStream, mut read: Vec<u8>) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    tokio::time::timeout(WAIT, socket.read_to_end(&mut read))
        .await
        .expect("the server closes the connection")
        .unwrap();
    read
}

#[actix_web::test]
async fn a_frame_sent_together_with_the_upgrade_request_is_answered() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let early = masked_text_frame("not json");
    let (socket, head, leftover) = raw_upgrade(&app, "/ws", &app.base, &early).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    let mut ws = WsClient::from_partially_read(socket, leftover).await;
    assert_eq!(ws.expect("error").await["code"], "invalid_message");
    assert_still_usable(&mut ws).await;
}

#[actix_web::test]
async fn a_refused_upgrade_gets_its_whole_answer_then_the_connection_closes() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let (mut socket, head, leftover) = raw_upgrade(&app, "/ws", "https://evil.example", &[]).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{head}");
    let body = read_to_close(&mut socket, leftover).await;
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "WebSocket origin not allowed; add it to sessions.allowed_origins\n"
    );
    assert_eq!(open_sessions(&app), 0);
}

#[actix_web::test]
async fn an_upgrade_request_to_another_path_gets_that_paths_answer() {
    let mock = MockProvider::start();
    let app = TestApp::spawn(settings_with(&mock)).await;
    let (mut socket, head, leftover) = raw_upgrade(&app, "/healthz", &app.base, &[]).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = read_to_close(&mut socket, leftover).await;
    assert!(!body.is_empty(), "the health answer has a body");
    let (_, head, _) = raw_upgrade(&app, "/nowhere", &app.base, &[]).await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert_eq!(open_sessions(&app), 0);
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_dropped_once_a_write_waits_past_the_idle_timeout() {
    use tokio::io::AsyncWriteExt;
    let mock = MockProvider::start();
    let mut settings = settings_with(&mock);
    settings.sessions.heartbeat_secs = 1;
    settings.sessions.idle_timeout_secs = 2;
    let app = TestApp::spawn(settings).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small receive buffer: the broker's writes back up quickly once this client stops reading.
    socket.set_recv_buffer_size(4096).unwrap();
    let socket = socket.connect(app_addr(&app)).await.unwrap();
    let (mut socket, head, _) = upgrade_on(socket, &app, "/ws", &app.base, &[]).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    wait_for_open_sessions(&app, 1).await;

    // Every invalid message earns an `error` frame that is never read. Keep sending until the
    // broker stops reading too (its write is stuck), within a bound.
    let batch: Vec<u8> = (0..1000).flat_map(|_| masked_text_frame("x")).collect();
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "the broker kept reading");
        match tokio::time::timeout(Duration::from_millis(500), socket.write_all(&batch)).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) => break, // already dropped
            Err(_) => break,     // our send blocks: the broker has stopped reading
        }
    }
    // Its actor is not polled while a write waits, so only the write's own bound ends it.
    wait_for_open_sessions(&app, 0).await;
}
