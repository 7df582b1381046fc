//! A fast stand-in OAuth 2.0 provider for the benchmark kit, as its own process: the token
//! endpoint answers every code at once, so a benchmark measures the service under test, not
//! the provider.
//!
//!     cargo run --release --example mock_provider -- --bind 127.0.0.1:18090
//!
//! - `POST /token` and `POST /api/token` (the Tableau sample's path): form body with `code` (or
//!   `refresh_token`) → `{"access_token":"at-<code>","token_type":"Bearer","expires_in":3600,
//!   "scope":"user-top-read","refresh_token":"rt-<code>"}`. Client authentication (Basic or in
//!   the body) is accepted without checking.
//! - `GET /authorize?redirect_uri&state` → 302 to `redirect_uri?code=<random>&state=<state>`, for
//!   trying the flow in a browser.

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use clap::Parser;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:18090")]
    bind: String,
    /// Worker threads (each a single-threaded event loop).
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

static ISSUED: AtomicU64 = AtomicU64::new(0);

async fn token(body: web::Bytes) -> HttpResponse {
    let mut seed = None;
    let mut refresh = false;
    for (key, value) in url::form_urlencoded::parse(&body) {
        match &*key {
            "code" => seed = Some(value.into_owned()),
            "refresh_token" => {
                seed = Some(value.into_owned());
                refresh = true;
            }
            _ => {}
        }
    }
    let Some(seed) = seed else {
        return HttpResponse::BadRequest()
            .content_type("application/json")
            .body(r#"{"error":"invalid_request"}"#);
    };
    ISSUED.fetch_add(1, Ordering::Relaxed);
    // JSON-escape what came from the request; the rest is fixed.
    let quoted = serde_json::to_string(&seed).expect("a string serialises");
    let inner = &quoted[1..quoted.len() - 1];
    let refresh_token = if refresh {
        format!("{inner}-rotated")
    } else {
        format!("rt-{inner}")
    };
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            r#"{{"access_token":"at-{inner}","token_type":"Bearer","expires_in":3600,"scope":"user-top-read","refresh_token":"{refresh_token}"}}"#
        ))
}

async fn authorize(req: HttpRequest) -> HttpResponse {
    let mut redirect = None;
    let mut state = String::new();
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match &*key {
            "redirect_uri" => redirect = Some(value.into_owned()),
            "state" => state = value.into_owned(),
            _ => {}
        }
    }
    let Some(mut redirect) = redirect.and_then(|r| url::Url::parse(&r).ok()) else {
        return HttpResponse::BadRequest().body("redirect_uri is required\n");
    };
    let code = format!("mock{}", ISSUED.fetch_add(1, Ordering::Relaxed));
    redirect
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state);
    HttpResponse::Found()
        .insert_header((header::LOCATION, redirect.as_str()))
        .finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let server = HttpServer::new(|| {
        App::new()
            .route("/token", web::post().to(token))
            .route("/api/token", web::post().to(token))
            .route("/authorize", web::get().to(authorize))
    })
    .workers(args.workers)
    .backlog(4096)
    // Answer at once: without it Nagle's algorithm can hold a reply for the client's delayed ACK.
    .tcp_nodelay(true)
    .bind(&args.bind)?;
    println!(
        "mock provider listening on http://{} (pid {})",
        args.bind,
        std::process::id()
    );
    server.run().await
}
