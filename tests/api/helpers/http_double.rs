//! A real HTTP server on a loopback port for the tests' stand-ins for outside services (the
//! mock OAuth provider, the mock OpenID Provider): each runs on its own thread and actix
//! system, so it keeps answering whatever the test's runtime is doing.

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::sync::Arc;

/// A running server, stopped when the last clone drops. The tests are one process: a server
/// left to run until the process exits would keep its threads and port for the rest of the run,
/// one set for every test.
#[derive(Clone)]
pub struct HttpDouble {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    _running: Arc<Running>,
}

struct Running(ServerHandle);

impl Drop for Running {
    fn drop(&mut self) {
        // The stop is sent at once; its future, which waits for it, is not needed.
        drop(self.0.stop(false));
    }
}

impl HttpDouble {
    /// Starts a server whose app `routes` configures (its data and routes), with `workers`
    /// worker threads.
    pub fn start<F>(workers: usize, routes: F) -> HttpDouble
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        Self::start_on(
            TcpListener::bind("127.0.0.1:0").expect("a loopback port"),
            workers,
            routes,
        )
    }

    /// Like `start`, on a listener bound already (for a server that must know its own URL,
    /// such as an issuer, before it starts).
    pub fn start_on<F>(listener: TcpListener, workers: usize, routes: F) -> HttpDouble
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let system = actix_rt::System::new();
            system.block_on(async move {
                let server = HttpServer::new(move || App::new().configure(routes.clone()))
                    .workers(workers)
                    .disable_signals()
                    .listen(listener)
                    .expect("the server listens")
                    .run();
                tx.send(server.handle())
                    .expect("the test waits for the handle");
                server.await.expect("the server runs");
            });
        });
        let handle = rx.recv().expect("the server starts");
        HttpDouble {
            base,
            _running: Arc::new(Running(handle)),
        }
    }
}
