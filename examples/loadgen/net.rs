//! Sockets as many browsers would open them: TCP from a chosen loopback source address (so
//! ephemeral ports never run out), a minimal keep-alive HTTP/1.1 client, and WebSocket
//! connections with small buffers (20,000 of them must fit in this process too).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The `index`-th source address: 127.0.0.2 and up, `per_address` connections on each.
pub fn source_address(index: usize, per_address: usize) -> IpAddr {
    let base = u32::from(Ipv4Addr::new(127, 0, 0, 2));
    IpAddr::V4(Ipv4Addr::from(base + (index / per_address.max(1)) as u32))
}

pub async fn tcp_connect(source: IpAddr, target: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(target).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

pub type Ws = WebSocketStream<TcpStream>;

/// Opens a WebSocket at `path` (no Origin header, as a non-browser client).
pub async fn ws_connect(source: IpAddr, target: SocketAddr, path: &str) -> Result<Ws, String> {
    let stream = tcp_connect(source, target)
        .await
        .map_err(|e| format!("ws_connect_{}", io_kind(&e)))?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let url = format!("ws://{target}{path}");
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(r) => {
                format!("ws_handshake_{}", r.status().as_u16())
            }
            tokio_tungstenite::tungstenite::Error::Io(e) => format!("ws_handshake_{}", io_kind(&e)),
            _ => "ws_handshake".to_owned(),
        })?;
    Ok(ws)
}

pub fn io_kind(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "refused",
        io::ErrorKind::ConnectionReset => "reset",
        io::ErrorKind::AddrNotAvailable => "addr_not_available",
        io::ErrorKind::TimedOut => "timeout",
        io::ErrorKind::UnexpectedEof => "eof",
        _ if e.raw_os_error() == Some(24) => "emfile",
        _ => "io",
    }
}

/// One answer; the body is kept only when asked for.
pub struct Response {
    pub status: u16,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// A keep-alive HTTP/1.1 connection that sends GETs one at a time.
pub struct HttpConn {
    source: IpAddr,
    target: SocketAddr,
    host: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    request: Vec<u8>,
}

impl HttpConn {
    pub fn new(source: IpAddr, target: SocketAddr) -> Self {
        Self {
            source,
            target,
            host: target.to_string(),
            stream: None,
            buf: Vec::with_capacity(8192),
            request: Vec::with_capacity(512),
        }
    }

    /// GET `path` (with query). A kept-alive connection that the server closed meanwhile is
    /// reopened once, as browsers do.
    pub async fn get(&mut self, path: &str) -> Result<Response, String> {
        self.request.clear();
        self.request.extend_from_slice(b"GET ");
        self.request.extend_from_slice(path.as_bytes());
        self.request.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        self.request.extend_from_slice(self.host.as_bytes());
        self.request.extend_from_slice(
            b"\r\nUser-Agent: oauth-broker-loadgen\r\nAccept: text/html\r\n\r\n",
        );
        let reused = self.stream.is_some();
        match self.exchange().await {
            Ok(r) => Ok(r),
            Err(Failure::BeforeAnswer(_)) if reused => {
                self.stream = None;
                self.exchange().await.map_err(Failure::into_kind)
            }
            Err(e) => {
                self.stream = None;
                Err(e.into_kind())
            }
        }
    }

    async fn exchange(&mut self) -> Result<Response, Failure> {
        if self.stream.is_none() {
            let stream = tcp_connect(self.source, self.target)
                .await
                .map_err(|e| Failure::Connect(io_kind(&e)))?;
            self.stream = Some(stream);
            self.buf.clear();
        }
        let stream = self.stream.as_mut().expect("just set");
        stream
            .write_all(&self.request)
            .await
            .map_err(|e| Failure::BeforeAnswer(io_kind(&e)))?;

        // Head.
        let (status, location, head_len, body_len, keep_alive) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&self.buf) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let status = parsed.code.unwrap_or(0);
                    let mut location = None;
                    let mut body_len = BodyLen::UntilClose;
                    let mut keep_alive = parsed.version == Some(1);
                    for h in parsed.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            let n = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .ok_or(Failure::Protocol)?;
                            body_len = BodyLen::Fixed(n);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                            && h.value.eq_ignore_ascii_case(b"chunked")
                        {
                            body_len = BodyLen::Chunked;
                        } else if h.name.eq_ignore_ascii_case("location") {
                            location = Some(String::from_utf8_lossy(h.value).into_owned());
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            keep_alive = !h.value.eq_ignore_ascii_case(b"close");
                        }
                    }
                    break (status, location, head_len, body_len, keep_alive);
                }
                Ok(httparse::Status::Partial) => {
                    let empty = self.buf.is_empty();
                    let n = read_more(stream, &mut self.buf).await;
                    match n {
                        Ok(0) | Err(_) if empty => return Err(Failure::BeforeAnswer("closed")),
                        Ok(0) => return Err(Failure::Io("eof")),
                        Err(e) => return Err(Failure::Io(io_kind(&e))),
                        Ok(_) => {}
                    }
                }
                Err(_) => return Err(Failure::Protocol),
            }
        };
        self.buf.drain(..head_len);

        // Body.
        let body = match body_len {
            BodyLen::Fixed(n) => {
                while self.buf.len() < n {
                    match read_more(stream, &mut self.buf).await {
                        Ok(0) => return Err(Failure::Io("eof")),
                        Err(e) => return Err(Failure::Io(io_kind(&e))),
                        Ok(_) => {}
                    }
                }
                self.buf.drain(..n).collect()
            }
            BodyLen::Chunked => read_chunked(stream, &mut self.buf).await?,
            BodyLen::UntilClose => {
                loop {
                    match read_more(stream, &mut self.buf).await {
                        Ok(0) => break,
                        Err(e) => return Err(Failure::Io(io_kind(&e))),
                        Ok(_) => {}
                    }
                }
                self.stream = None;
                std::mem::take(&mut self.buf)
            }
        };
        if !keep_alive {
            self.stream = None;
        }
        Ok(Response {
            status,
            location,
            body,
        })
    }
}

enum BodyLen {
    Fixed(usize),
    Chunked,
    UntilClose,
}

enum Failure {
    Connect(&'static str),
    /// Nothing came back: on a reused connection the server may have closed it while idle.
    BeforeAnswer(&'static str),
    Io(&'static str),
    Protocol,
}

impl Failure {
    fn into_kind(self) -> String {
        match self {
            Failure::Connect(k) => format!("http_connect_{k}"),
            Failure::BeforeAnswer(k) | Failure::Io(k) => format!("http_io_{k}"),
            Failure::Protocol => "http_protocol".into(),
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.reserve(4096);
    stream.read_buf(buf).await
}

async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    loop {
        // Size line.
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if read_more(stream, buf)
                .await
                .map_err(|e| Failure::Io(io_kind(&e)))?
                == 0
            {
                return Err(Failure::Io("eof"));
            }
        };
        let size_text = std::str::from_utf8(&buf[..line_end]).map_err(|_| Failure::Protocol)?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| Failure::Protocol)?;
        buf.drain(..line_end + 2);
        // Chunk data and its CRLF (for the last chunk: no trailers expected, just CRLF).
        while buf.len() < size + 2 {
            if read_more(stream, buf)
                .await
                .map_err(|e| Failure::Io(io_kind(&e)))?
                == 0
            {
                return Err(Failure::Io("eof"));
            }
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
        if size == 0 {
            return Ok(body);
        }
    }
}

/// The value of `name` in a URL's query, percent-decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Path and query of an absolute URL (`http://host:port/signin/x` → `/signin/x`).
pub fn path_of(url: &str) -> &str {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => url,
    }
}
