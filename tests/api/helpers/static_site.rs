//! A web site of its own origin (a real HTTP server on 127.0.0.1, port 0) serving one folder,
//! for pages that use the broker from elsewhere, as an extension author's page does.

use actix_web::{App, HttpResponse, HttpServer, web};
use std::net::TcpListener;
use std::path::PathBuf;

pub struct StaticSite {
    /// `http://127.0.0.1:PORT`, the page's origin.
    pub origin: String,
    server: actix_web::dev::ServerHandle,
}

impl StaticSite {
    /// Serves the files of `dir` (no subfolders), `/` being `index.html`.
    pub fn serve(dir: PathBuf) -> StaticSite {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            let dir = dir.clone();
            App::new().default_service(web::to(move |req: actix_web::HttpRequest| {
                let dir = dir.clone();
                async move {
                    let name = match req.path().trim_start_matches('/') {
                        "" => "index.html",
                        other => other,
                    };
                    if name.contains('/') || name.contains("..") {
                        return HttpResponse::NotFound().finish();
                    }
                    let kind = if name.ends_with(".html") {
                        "text/html; charset=utf-8"
                    } else if name.ends_with(".js") {
                        "text/javascript; charset=utf-8"
                    } else {
                        "application/octet-stream"
                    };
                    match std::fs::read(dir.join(name)) {
                        Ok(bytes) => HttpResponse::Ok().content_type(kind).body(bytes),
                        Err(_) => HttpResponse::NotFound().finish(),
                    }
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_rt::spawn(server);
        StaticSite {
            origin,
            server: handle,
        }
    }
}

impl Drop for StaticSite {
    fn drop(&mut self) {
        let server = self.server.clone();
        actix_rt::spawn(async move { server.stop(false).await });
    }
}
