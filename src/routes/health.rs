//! Liveness and readiness for load balancers and orchestrators.

use crate::broker::Broker;
use crate::telemetry::catalog;
use actix_web::{HttpResponse, web};

/// 200 while the process serves at all.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body("ok\n")
}

/// 200 when this replica can take traffic: not draining, its store reachable, and every
/// OpenID provider's metadata and keys loaded.
pub async fn readyz(broker: web::Data<Broker>) -> HttpResponse {
    let (ready, why) = if broker.is_draining() {
        (false, "draining\n")
    } else if !broker.store.is_ready().await {
        (false, "store unavailable\n")
    } else if !broker.providers.iter().all(|p| p.is_ready()) {
        (false, "OpenID Connect metadata not loaded yet\n")
    } else {
        (true, "ready\n")
    };
    catalog::set_ready(ready);
    let mut builder = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    builder
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(why)
}
