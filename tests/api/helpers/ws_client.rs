//! A real WebSocket client (tokio-tungstenite) with bounded waits.

use super::WAIT;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub hello: Value,
}

/// How a connection ended, when a test waits for that.
#[derive(Debug)]
pub enum Closed {
    Frame(Option<CloseFrame>),
    Dropped,
}

impl WsClient {
    /// Connects with an `Origin` header (as browsers send) and reads the `hello`.
    pub async fn connect(url: &str, origin: Option<&str>) -> WsClient {
        let mut stream = Self::open(url, origin).await.expect("WebSocket connects");
        let hello = read_hello(&mut stream).await;
        WsClient { stream, hello }
    }

    /// `connect` for a broker that may refuse (a replica whose store is failing over):
    /// `None` when the upgrade is refused or fails.
    pub async fn try_connect(url: &str, origin: Option<&str>) -> Option<WsClient> {
        let mut stream = Self::open(url, origin).await.ok()?;
        let hello = next_json(&mut stream).await;
        (hello["type"] == "hello").then_some(WsClient { stream, hello })
    }

    /// A socket whose upgrade a test did by hand: `read` holds what came after the response head.
    pub async fn from_partially_read(socket: TcpStream, read: Vec<u8>) -> WsClient {
        use tokio_tungstenite::tungstenite::protocol::Role;
        let mut stream = WebSocketStream::from_partially_read(
            MaybeTlsStream::Plain(socket),
            read,
            Role::Client,
            None,
        )
        .await;
        let hello = read_hello(&mut stream).await;
        WsClient { stream, hello }
    }

    /// The upgrade itself, for tests that expect it to be refused.
    pub async fn open(
        url: &str,
        origin: Option<&str>,
    ) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, tokio_tungstenite::tungstenite::Error>
    {
        let mut request = url.into_client_request().unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().unwrap());
        }
        let connect = tokio_tungstenite::connect_async(request);
        let (stream, _) = tokio::time::timeout(WAIT, connect)
            .await
            .expect("upgrade answered in time")?;
        Ok(stream)
    }

    /// Connects again with an earlier connection's resume secret (`?resume=`).
    pub async fn resume(url: &str, origin: Option<&str>, secret: &str) -> WsClient {
        Self::connect(&format!("{url}?resume={secret}"), origin).await
    }

    pub fn session(&self) -> String {
        self.hello["session"].as_str().unwrap().to_owned()
    }

    pub fn resume_secret(&self) -> String {
        self.hello["resume"].as_str().unwrap().to_owned()
    }

    pub async fn send_json(&mut self, value: &Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text.to_owned()))
            .await
            .expect("frame sent");
    }

    pub async fn send_raw(&mut self, message: Message) {
        let _ = self.stream.send(message).await;
    }

    /// The next JSON frame (pings are answered by the library and skipped).
    pub async fn recv(&mut self) -> Value {
        next_json(&mut self.stream).await
    }

    /// The next JSON frame, which must be of this type.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let frame = self.recv().await;
        assert_eq!(frame["type"], kind, "expected a {kind} frame, got {frame}");
        frame
    }

    /// `begin` with `provider`, answered by a sign-in link (not followed yet): the link.
    pub async fn begin(&mut self, provider: &str) -> String {
        self.send_json(&serde_json::json!({"type": "begin", "provider": provider}))
            .await;
        let signin = self.expect("signin").await;
        signin["url"].as_str().unwrap().to_owned()
    }

    /// Waits at most `within` for a text frame; `None` if none came.
    pub async fn try_recv(&mut self, within: std::time::Duration) -> Option<Value> {
        match tokio::time::timeout(within, next_json_or_close(&mut self.stream)).await {
            Ok(Ok(v)) => Some(v),
            _ => None,
        }
    }

    /// Reads until the server closes; returns how.
    pub async fn closed(&mut self) -> Closed {
        let wait = async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Close(frame))) => return Closed::Frame(frame),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return Closed::Dropped,
                }
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .expect("connection closed in time")
    }

    /// Closes from the client side.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// The first frame of a raw stream, which must be `hello`.
pub async fn read_hello<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut WebSocketStream<S>,
) -> Value {
    let hello = next_json(stream).await;
    assert_eq!(hello["type"], "hello", "first frame is hello: {hello}");
    hello
}

/// The next JSON text frame of a raw stream, within `WAIT`; other frames are skipped (pings are
/// answered by the library).
pub async fn next_json<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut WebSocketStream<S>,
) -> Value {
    tokio::time::timeout(WAIT, next_json_or_close(stream))
        .await
        .expect("a frame arrived in time")
        .expect("the connection stayed open")
}

async fn next_json_or_close<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut WebSocketStream<S>,
) -> Result<Value, String> {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame = serde_json::from_str(&text).expect("server frames are JSON");
                super::schema::assert_server_frame(&frame);
                return Ok(frame);
            }
            Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("ended".into()),
        }
    }
}

/// A text frame of raw bytes, as one piece of a message: the first (or only) piece when
/// `first`, the last when `last`. Lets a test send fragments, or bytes that are not UTF-8.
pub fn text_piece(bytes: &[u8], first: bool, last: bool) -> Message {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let opcode = if first {
        OpCode::Data(Data::Text)
    } else {
        OpCode::Data(Data::Continue)
    };
    Message::Frame(Frame::message(bytes.to_vec(), opcode, last))
}
