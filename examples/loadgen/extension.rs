//! The extension's side of the socket, for both services under test: oauth-broker's JSON frames
//! on `/ws`, and the Tableau sample's Socket.IO v4 over its websocket transport.

use super::net::{Ws, ws_connect};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// oauth-broker: `/ws`, `hello`, `begin` → `signin`, `/signin/{ticket}`, `/complete/{provider}`.
    Broker,
    /// The Tableau sample: Socket.IO, the socket id is the `state`, `/complete`.
    Socketio,
}

impl Service {
    pub fn ws_path(self) -> &'static str {
        match self {
            Service::Broker => "/ws",
            Service::Socketio => "/socket.io/?EIO=4&transport=websocket",
        }
    }
}

/// What arrived on the socket, reduced to what the flows need.
#[derive(Debug)]
pub enum Event {
    Signin { url: String },
    Confirm,
    Signedin,
    Error { code: String },
    Other,
}

pub struct Extension {
    ws: Ws,
    service: Service,
    /// Broker: the session ID from `hello`. Socket.IO: the socket id (the sample's `state`).
    pub id: String,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    url: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    session: Option<Cow<'a, str>>,
}

impl Extension {
    /// Connects and completes the service's greeting (`hello`, or Socket.IO's open and connect).
    pub async fn open(
        service: Service,
        source: IpAddr,
        target: SocketAddr,
    ) -> Result<Self, String> {
        let ws = ws_connect(source, target, service.ws_path()).await?;
        let mut ext = Extension {
            ws,
            service,
            id: String::new(),
        };
        match service {
            Service::Broker => {
                let text = ext.next_text().await?;
                let frame: Frame = serde_json::from_str(&text).map_err(|_| "ws_bad_frame")?;
                if frame.kind != "hello" {
                    return Err(format!("ws_first_frame_{}", frame.kind));
                }
                ext.id = frame.session.unwrap_or_default().into_owned();
            }
            Service::Socketio => {
                let open = ext.next_text().await?;
                if !open.starts_with('0') {
                    return Err("sio_no_open".into());
                }
                ext.send_text("40").await?;
                loop {
                    let text = ext.next_text().await?;
                    if let Some(body) = text.strip_prefix("40") {
                        #[derive(Deserialize)]
                        struct Connected {
                            sid: String,
                        }
                        let c: Connected =
                            serde_json::from_str(body).map_err(|_| "sio_bad_connect")?;
                        ext.id = c.sid;
                        break;
                    }
                    if text.starts_with("44") {
                        return Err("sio_connect_error".into());
                    }
                }
            }
        }
        Ok(ext)
    }

    pub async fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|_| "ws_send".to_owned())
    }

    /// The next text frame; WebSocket pings are answered by tungstenite while reading, Engine.IO
    /// pings (`2`) here.
    async fn next_text(&mut self) -> Result<String, String> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if self.service == Service::Socketio && t.as_str() == "2" {
                        self.send_text("3").await?;
                        continue;
                    }
                    return Ok(t.as_str().to_owned());
                }
                Some(Ok(Message::Close(_))) | None => return Err("ws_closed".into()),
                Some(Ok(_)) => continue,
                Some(Err(_)) => return Err("ws_read".into()),
            }
        }
    }

    pub async fn next_event(&mut self) -> Result<Event, String> {
        let text = self.next_text().await?;
        Ok(match self.service {
            Service::Broker => {
                let frame: Frame = serde_json::from_str(&text).map_err(|_| "ws_bad_frame")?;
                match &*frame.kind {
                    "signin" => Event::Signin {
                        url: frame.url.unwrap_or_default().into_owned(),
                    },
                    "confirm" => Event::Confirm,
                    "signedin" => Event::Signedin,
                    "error" => Event::Error {
                        code: frame.code.unwrap_or_default().into_owned(),
                    },
                    _ => Event::Other,
                }
            }
            Service::Socketio => match text.strip_prefix("42") {
                Some(body) if body.starts_with("[\"signedin\"") => Event::Signedin,
                _ => Event::Other,
            },
        })
    }

    /// Holds the connection: reads (so pings are answered) until it closes. Returns why.
    pub async fn hold(mut self) -> String {
        loop {
            if let Err(why) = self.next_text().await {
                return why;
            }
        }
    }
}
