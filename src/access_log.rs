//! One access-log line per request, a request ID on every log line written while serving it,
//! and the client address: the peer's, or from `X-Forwarded-For` when the peer is one of
//! `server.trusted_proxies`.
//!
//! Only the path is logged, never the query string: `/complete` carries the authorization code
//! there.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, web};
use ipnet::IpNet;
use std::net::IpAddr;
use std::time::Instant;

use crate::telemetry::REQUEST_ID;

/// Who may tell us the client's address.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn parse(list: &[String]) -> Self {
        Self(
            list.iter()
                .filter_map(|s| {
                    s.parse::<IpNet>()
                        .ok()
                        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
                })
                .collect(),
        )
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client: walking `X-Forwarded-For` from the right, the first address that is not a
    /// trusted proxy (anything further left could have been written by the client itself).
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let Some(header) = forwarded_for else {
            return Some(peer);
        };
        let mut client = peer;
        for hop in header.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        Some(client)
    }
}

/// The client address of a request, as `access_log` worked it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client address worked out for this request, as a rate-limit subject.
pub fn client_ip(req: &actix_web::HttpRequest) -> String {
    req.extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Longer than any URL the broker or a provider builds (a provider's redirect with code and
/// state is a few hundred bytes).
const MAX_URL_BYTES: usize = 8 * 1024;
/// Browsers send a few kilobytes of headers; more is a scanner or an attack on memory.
const MAX_HEADER_BYTES: usize = 16 * 1024;

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let started = Instant::now();
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    let url_bytes = req.uri().path().len() + req.uri().query().map_or(0, str::len);
    if url_bytes > MAX_URL_BYTES || header_bytes > MAX_HEADER_BYTES {
        let (status, reason, text) = if url_bytes > MAX_URL_BYTES {
            (
                StatusCode::URI_TOO_LONG,
                "url_too_long",
                "The address is too long.\n",
            )
        } else {
            (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "The request headers are too large.\n",
            )
        };
        crate::telemetry::catalog::rejected(reason);
        log::info!(target: "access", "{} (oversized) {} url={url_bytes}B headers={header_bytes}B", req.method(), status.as_u16());
        let response = HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(text);
        return Ok(req.into_response(response).map_into_right_body());
    }
    let id = crate::random::opaque_token()[..12].to_owned();
    let trusted = req
        .app_data::<web::Data<TrustedProxies>>()
        .map(|t| t.get_ref().clone())
        .unwrap_or_default();
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let client = trusted.client_ip(req.peer_addr().map(|a| a.ip()), forwarded);
    if let Some(ip) = client {
        req.extensions_mut().insert(ClientIp(ip));
    }
    let method = req.method().clone();
    let path = loggable_path(req.path());
    REQUEST_ID
        .scope(id.clone(), async move {
            let outcome = next.call(req).await;
            let status = match &outcome {
                Ok(res) => res.status().as_u16(),
                Err(e) => e.as_response_error().status_code().as_u16(),
            };
            log::info!(
                target: "access",
                "{method} {path} {status} {}ms client={}",
                started.elapsed().as_millis(),
                client.map_or_else(|| "-".to_owned(), |ip| ip.to_string())
            );
            let mut res = outcome?.map_into_left_body();
            if let Ok(value) = HeaderValue::from_str(&id) {
                res.headers_mut()
                    .insert(HeaderName::from_static("x-request-id"), value);
            }
            Ok(res)
        })
        .await
}

/// The path as it may be logged: a sign-in ticket in it is a live credential until used.
fn loggable_path(path: &str) -> String {
    if path.starts_with("/signin/") {
        return "/signin/[ticket]".to_owned();
    }
    path.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into()]);
        assert_eq!(
            trusted.client_ip(Some(ip("203.0.113.9")), Some("1.2.3.4")),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.2")), Some("1.2.3.4")),
            Some(ip("1.2.3.4"))
        );
        // A client-written left part is not believed past the first untrusted hop.
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.2")), Some("6.6.6.6, 1.2.3.4, 10.0.0.7")),
            Some(ip("1.2.3.4"))
        );
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.2")), Some("garbage")),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.2")), None),
            Some(ip("10.0.0.2"))
        );
    }
}
