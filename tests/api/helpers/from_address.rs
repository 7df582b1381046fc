//! Requests and WebSockets from a chosen loopback source address (127.0.0.x), so one test can
//! be many clients, with extra headers (a proxy's `X-Forwarded-For`) where a test needs them.

use super::WAIT;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// 127.0.0.`last`: every one of them reaches the loopback interface.
pub fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A TCP connection from a chosen loopback source address.
pub async fn connect_from(source: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    tokio::time::timeout(WAIT, socket.connect(to))
        .await
        .expect("connected in time")
        .expect("connects")
}

/// A raw HTTP/1.1 answer.
pub struct Raw {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }
}

/// A GET from a source address.
pub async fn raw_get(source: IpAddr, to: SocketAddr, path: &str) -> Raw {
    raw_get_with(source, to, path, &[]).await
}

/// A GET from a source address with extra header lines, each sent as given (so a test can send
/// one header name on several lines, as proxies do).
pub async fn raw_get_with(
    source: IpAddr,
    to: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Raw {
    let mut stream = connect_from(source, to).await;
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {to}\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("answered in time")
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Raw {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Status and `Retry-After` of a GET from a source address.
pub async fn get_from(source: IpAddr, to: SocketAddr, path: &str) -> (u16, Option<String>) {
    let raw = raw_get(source, to, path).await;
    (raw.status, raw.header("retry-after"))
}

pub type RawWs = tokio_tungstenite::WebSocketStream<TcpStream>;

/// A WebSocket to `/ws` from a source address, without an `Origin` (as a non-browser client).
pub async fn ws_from(
    source: IpAddr,
    to: SocketAddr,
) -> Result<RawWs, tokio_tungstenite::tungstenite::Error> {
    ws_from_with(source, to, "/ws", &[]).await
}

/// A WebSocket to `path_and_query` from a source address with extra headers.
pub async fn ws_from_with(
    source: IpAddr,
    to: SocketAddr,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> Result<RawWs, tokio_tungstenite::tungstenite::Error> {
    let stream = connect_from(source, to).await;
    let mut request = format!("ws://{to}{path_and_query}")
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().append(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(request, stream))
        .await
        .expect("handshake in time")?;
    Ok(ws)
}
