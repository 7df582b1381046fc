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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::telemetry::REQUEST_ID;

/// Who may tell us the client's address.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    /// Set once the "forwarded by an untrusted peer" warning is logged: once per process is
    /// enough to point the operator at the setting, and a flood must not flood the log.
    warned: Arc<AtomicBool>,
}

impl TrustedProxies {
    pub fn parse(list: &[String]) -> Self {
        Self {
            nets: list
                .iter()
                .filter_map(|s| {
                    s.parse::<IpNet>()
                        .ok()
                        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
                })
                .collect(),
            warned: Arc::default(),
        }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Behind a proxy that is not in `server.trusted_proxies`, every user looks like the proxy
    /// and each per-address limit becomes one global limit: say so, once.
    fn warn_if_untrusted_forwarder(&self, peer: Option<IpAddr>) {
        let Some(peer) = peer else { return };
        if !self.trusts(peer) && !self.warned.swap(true, Ordering::Relaxed) {
            log::warn!(
                "a request from {peer} carries X-Forwarded-For, but {peer} is not in server.trusted_proxies: client addresses are the proxy's, so per-address limits count every user behind it as one; add the proxy's address or CIDR to server.trusted_proxies (or ignore this if {peer} is not a proxy of yours)"
            );
        }
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

/// Present (as app data) when the broker serves TLS itself: then every answer carries
/// `Strict-Transport-Security`, so a browser that once reached it over HTTPS never tries plain
/// HTTP to it again (RFC 6797). Behind a TLS-terminating proxy, HSTS is the proxy's to send.
#[derive(Debug, Clone, Copy)]
pub struct ServedOverTls;

/// One year, as browsers' preload lists expect; no `includeSubDomains`: the broker's host
/// name says nothing about what else runs under the parent domain.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

fn add_hsts<B>(req_is_tls: bool, res: &mut ServiceResponse<B>) {
    if req_is_tls {
        res.headers_mut()
            .insert(HeaderName::from_static("strict-transport-security"), HSTS);
    }
}

/// The client address of a request, as `access_log` worked it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client address worked out for this request, as the subject of every per-address limit
/// (`limits::client_subject`: an IPv6 client counts per /64).
pub fn client_ip(req: &actix_web::HttpRequest) -> String {
    req.extensions()
        .get::<ClientIp>()
        .map(|c| c.0)
        .or_else(|| req.peer_addr().map(|a| a.ip()))
        .map(crate::limits::client_subject)
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
    let tls = req.app_data::<web::Data<ServedOverTls>>().is_some();
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
        let mut res = req.into_response(response).map_into_right_body();
        add_hsts(tls, &mut res);
        return Ok(res);
    }
    let id = crate::random::opaque_token()[..12].to_owned();
    let trusted = req
        .app_data::<web::Data<TrustedProxies>>()
        .map(|t| t.get_ref().clone())
        .unwrap_or_default();
    let forwarded = forwarded_for(req.headers());
    let peer = req.peer_addr().map(|a| a.ip());
    if forwarded.is_some() {
        trusted.warn_if_untrusted_forwarder(peer);
    }
    let client = trusted.client_ip(peer, forwarded.as_deref());
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
            add_hsts(tls, &mut res);
            if let Ok(value) = HeaderValue::from_str(&id) {
                res.headers_mut()
                    .insert(HeaderName::from_static("x-request-id"), value);
            }
            Ok(res)
        })
        .await
}

/// Every `X-Forwarded-For` line, joined in order (RFC 9110 §5.3: several lines of one field are
/// one comma-separated list). A proxy may append its own line rather than extend the first, so
/// reading only the first line would believe whatever the client wrote there. A line that is not
/// text makes the whole list untrustworthy: then the client is taken to be the peer.
fn forwarded_for(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    let mut lines = headers.get_all("x-forwarded-for").peekable();
    lines.peek()?;
    let mut joined = Vec::new();
    for line in lines {
        match line.to_str() {
            Ok(text) => joined.push(text),
            Err(_) => return Some("unreadable".to_owned()),
        }
    }
    Some(joined.join(","))
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

    #[test]
    fn every_forwarded_for_line_is_read_in_order() {
        let mut headers = actix_web::http::header::HeaderMap::new();
        let name = HeaderName::from_static("x-forwarded-for");
        headers.append(name.clone(), HeaderValue::from_static("6.6.6.6"));
        headers.append(name, HeaderValue::from_static("1.2.3.4, 10.0.0.7"));
        let joined = forwarded_for(&headers);
        assert_eq!(joined.as_deref(), Some("6.6.6.6,1.2.3.4, 10.0.0.7"));
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into()]);
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.2")), joined.as_deref()),
            Some(ip("1.2.3.4")),
            "the forged first line does not win"
        );
        assert_eq!(
            forwarded_for(&actix_web::http::header::HeaderMap::new()),
            None
        );
    }
}
