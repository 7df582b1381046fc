//! WebSocket upgrades taken out of the HTTP/1 dispatcher.
//!
//! Through actix-web, an upgraded socket stays inside the HTTP/1 dispatcher for its whole life,
//! and with it an 8 KiB read buffer, an 8 KiB write buffer and the dispatcher's own future, sized
//! for any request: most of what an idle session cost (13.7 KiB; 3.2 KiB now, BENCHMARKS.md).
//! actix-http hands an upgrade request and its socket to an upgrade service instead, so this
//! module runs the request through the app as usual (access log, limits, the `/ws` route),
//! writes the route's answer itself, and for a `101` runs the `Connection` actor over the socket
//! in a task of its own, keeping no buffer between reads.

use crate::ws::connection::Connection;
use actix_codec::{AsyncRead, AsyncWrite, Framed, ReadBuf};
use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_http::h1::{Codec, Message};
use actix_http::ws::Codec as WsCodec;
use actix_http::{ConnectionType, Request, Response, StatusCode};
use actix_service::{Service, ServiceFactory};
use actix_web::dev::ServiceResponse;
use actix_web::error::PayloadError;
use actix_web_actors::ws::WebsocketContext;
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use futures_util::{SinkExt, Stream, StreamExt};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// What the `/ws` route leaves in its `101` response for the upgrade service to start.
pub struct PendingSession {
    pub connection: Connection,
    pub codec: WsCodec,
    /// How long one write may wait on a peer that stopped reading before the session ends:
    /// while a write waits, the actor (and so its idle timeout) is not polled.
    pub write_timeout: Duration,
}

/// Builds one [`UpgradeService`] per worker around its own instance of the app.
pub struct UpgradeFactory<F> {
    app: F,
}

impl<F> UpgradeFactory<F> {
    pub fn new(app: F) -> Self {
        Self { app }
    }
}

impl<T, F, S, B> ServiceFactory<(Request, Framed<T, Codec>)> for UpgradeFactory<F>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
    F: ServiceFactory<Request, Config = (), Service = S>,
    F::InitError: std::fmt::Debug,
    F::Future: 'static,
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ();
    type Error = actix_web::Error;
    type Config = ();
    type Service = UpgradeService<S>;
    type InitError = ();
    type Future = LocalBoxFuture<'static, Result<Self::Service, ()>>;

    fn new_service(&self, _: ()) -> Self::Future {
        let app = self.app.new_service(());
        Box::pin(async move {
            let app = app
                .await
                .map_err(|e| log::error!("cannot build the app for WebSocket upgrades: {e:?}"))?;
            Ok(UpgradeService { app: Rc::new(app) })
        })
    }
}

pub struct UpgradeService<S> {
    app: Rc<S>,
}

impl<T, S, B> Service<(Request, Framed<T, Codec>)> for UpgradeService<S>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ();
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<(), actix_web::Error>>;

    actix_service::forward_ready!(app);

    fn call(&self, (req, framed): (Request, Framed<T, Codec>)) -> Self::Future {
        let app = self.app.clone();
        Box::pin(async move {
            let response: Response<BoxBody> = match app.call(req).await {
                Ok(res) => res.map_into_boxed_body().into(),
                Err(e) => e.error_response().into(),
            };
            answer(response, framed).await.map_err(Into::into)
        })
    }
}

/// Writes the app's answer; a `101` carrying a [`PendingSession`] becomes a running session,
/// anything else is sent whole and the connection closed (the dispatcher is gone).
async fn answer<T>(response: Response<BoxBody>, mut framed: Framed<T, Codec>) -> std::io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let (mut head, body) = response.into_parts();
    let pending = head.extensions_mut().remove::<PendingSession>();
    match pending {
        Some(pending) if head.status() == StatusCode::SWITCHING_PROTOCOLS => {
            framed.send(Message::Item((head, BodySize::None))).await?;
            let parts = framed.into_parts();
            let early = (!parts.read_buf.is_empty()).then(|| parts.read_buf.freeze());
            // A task of its own: the dispatcher's future, sized for any HTTP request (about
            // 8 KiB), and the connection task that held it are freed now, not when the
            // session ends. Sessions are counted by `sessions.max_connections` instead.
            actix_rt::spawn(run_session(parts.io, early, pending));
            Ok(())
        }
        _ => {
            let body = actix_http::body::to_bytes(body)
                .await
                .unwrap_or_else(|_| Bytes::new());
            head.head_mut().set_connection_type(ConnectionType::Close);
            let size = BodySize::Sized(body.len() as u64);
            framed.send(Message::Item((head, size))).await?;
            if !body.is_empty() {
                framed.send(Message::Chunk(Some(body))).await?;
            }
            framed.send(Message::Chunk(None)).await?;
            framed.close().await
        }
    }
}

/// Feeds the socket to the actor's context and writes what it produces, until either ends.
async fn run_session<T>(io: T, early: Option<Bytes>, pending: PendingSession)
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let (read, mut write) = tokio::io::split(io);
    let input = SocketChunks { early, read };
    let write_timeout = pending.write_timeout;
    let mut output = WebsocketContext::with_codec(pending.connection, input, pending.codec);
    while let Some(chunk) = output.next().await {
        let Ok(chunk) = chunk else { break };
        match actix_rt::time::timeout(write_timeout, write.write_all(&chunk)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => break,
        }
    }
    // Dropping the context stops the actor (its `stopped` runs) if the peer went first.
    drop(output);
    let _ = write.shutdown().await;
}

/// The socket's bytes as a stream, read through a buffer on the stack so that an idle session
/// holds none.
struct SocketChunks<R> {
    early: Option<Bytes>,
    read: R,
}

/// A browser's frames are small; a bigger message arrives over several reads.
const READ_CHUNK: usize = 4096;

impl<R: AsyncRead + Unpin> Stream for SocketChunks<R> {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(early) = self.early.take() {
            return Poll::Ready(Some(Ok(early)));
        }
        let mut buf = [0u8; READ_CHUNK];
        let mut read_buf = ReadBuf::new(&mut buf);
        match Pin::new(&mut self.read).poll_read(cx, &mut read_buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(PayloadError::Io(e)))),
            Poll::Ready(Ok(())) if read_buf.filled().is_empty() => Poll::Ready(None),
            Poll::Ready(Ok(())) => Poll::Ready(Some(Ok(Bytes::copy_from_slice(read_buf.filled())))),
        }
    }
}
