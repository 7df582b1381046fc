//! The upgrade itself, served outside the HTTP/1 dispatcher, on raw sockets: a frame sent with
//! the request, a refused upgrade, an upgrade request to another path, a client that stops
//! reading.

use super::{assert_still_usable, open_sessions, wait_for_open_sessions};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, WAIT, WsClient, settings_with};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

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
    let socket = TcpStream::connect(app.addr()).await.unwrap();
    upgrade_on(socket, app, path, origin, extra).await
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
    let addr = app.addr();
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
    let socket = socket.connect(app.addr()).await.unwrap();
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
