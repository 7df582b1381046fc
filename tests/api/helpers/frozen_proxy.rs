//! A TCP proxy that can go silent: real sockets on both sides, forwarding bytes both ways until
//! `freeze`, then forwarding nothing in either direction while keeping both sockets open. That
//! is what a laptop that slept, or a proxy that dropped a connection without a close, looks
//! like from the broker: its writes succeed, and nobody reads them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct FrozenProxy {
    pub addr: SocketAddr,
    frozen: watch::Sender<bool>,
    /// Ends the accept loop (and, with it, every connection's halves) when the proxy drops.
    stopped: Arc<AtomicBool>,
}

impl FrozenProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> FrozenProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let (frozen, watching) = watch::channel(false);
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        actix_rt::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                actix_rt::spawn(forward(client_read, server_write, watching.clone()));
                actix_rt::spawn(forward(server_read, client_write, watching.clone()));
            }
        });
        FrozenProxy {
            addr,
            frozen,
            stopped,
        }
    }

    /// `ws://` URL of the broker's `/ws` through this proxy.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// From now on nothing is forwarded either way; no socket is closed.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }
}

impl Drop for FrozenProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}

/// Copies bytes one way until frozen; then holds both halves open, reading nothing more, so
/// the peer's writes pile up unread in the kernel's buffers as on a dead network path.
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if *frozen.borrow() {
            break;
        }
        tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    // Bytes read in the instant of the freeze are dropped, like a dead path's.
                    if *frozen.borrow() || to.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            },
            _ = frozen.changed() => {}
        }
    }
    // Until the sender (the proxy) is gone, i.e. the test is over.
    while frozen.changed().await.is_ok() {}
    drop((from, to));
}
