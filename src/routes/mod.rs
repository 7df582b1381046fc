//! The HTTP routes, each thin: they read the request, call the sign-in step it names (or the
//! hub), and answer. None uses another as a helper library: what two share (the per-address
//! limit, the pages) lives in its own module.

pub mod complete;
pub mod extension;
pub mod health;
pub mod request_limit;
pub mod signin;
pub mod ws;

use actix_web::web;

/// Every public route. Paths are at the root of the listener: a deployment under a path
/// prefix has its proxy strip the prefix (the URLs the broker builds keep it).
///
/// Routes are tried in order, so the sign-in path comes first and the static files' regex
/// pattern last (it showed in profiles when every `/complete` was matched against it).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws", web::get().to(ws::upgrade))
        .route("/signin/{ticket}", web::get().to(signin::start))
        .route("/complete/{provider}", web::get().to(complete::finish))
        .route("/", web::get().to(extension::index))
        .route("/manifest.trex", web::get().to(extension::manifest))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/{file:.+}", web::get().to(extension::static_file));
}
