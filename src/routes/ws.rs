//! `GET /ws`: the WebSocket upgrade. Checks the origin and the connection limits, resolves
//! `?resume=`, then answers `101` with a `Connection` actor for the transport
//! (`transport::upgrade`) to start on the socket.

use crate::access_log::client_ip;
use crate::broker::Broker;
use crate::limits::{Decision, Limit, TooManyOpen};
use crate::oauth::TokenClient;
use crate::random;
use crate::secrets::ResumeSecret;
use crate::telemetry::catalog;
use crate::transport::upgrade::PendingSession;
use crate::ws::connection::{Connection, ConnectionParts};
use crate::ws::hub::SessionHub;
use actix::Addr;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use std::time::Duration;

/// Resume secrets are 32 characters; a longer one is not ours.
const MAX_RESUME_LEN: usize = 64;

pub async fn upgrade(
    req: HttpRequest,
    broker: web::Data<Broker>,
    tokens: web::Data<TokenClient>,
    hub: web::Data<Addr<SessionHub>>,
) -> HttpResponse {
    if broker.is_draining() {
        return refuse_unavailable("this replica is shutting down; reconnect");
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .map(|o| {
                broker
                    .allowed_origins
                    .iter()
                    .any(|a| a == &normalise_origin(o))
            })
            .unwrap_or(false);
        if !allowed {
            catalog::rejected("origin");
            return HttpResponse::Forbidden()
                .content_type("text/plain; charset=utf-8")
                .body("WebSocket origin not allowed; add it to sessions.allowed_origins\n");
        }
    }
    // Checked before anything is spent on it: a resume secret is single use.
    let mut response = match ws::handshake(&req) {
        Ok(mut accept) => accept.finish(),
        Err(e) => {
            catalog::rejected("bad_handshake");
            return HttpResponse::from_error(e);
        }
    };
    let client = client_ip(&req);
    if let Decision::Limited { retry_after_secs } = broker
        .limits
        .check(Limit::ConnectionsPerClient, &client)
        .await
    {
        return refuse_too_many(
            retry_after_secs,
            "too many connections from this address; try again later",
        );
    }
    // A page cannot read the status of a refused WebSocket, so a damaged resume secret gets a
    // fresh session told `expired` (as an unknown one does) rather than an HTTP error it would
    // retry forever.
    let resume = resume_param(req.query_string()).inspect_err(|_| {
        catalog::rejected("invalid_resume");
    });
    let per_client = match broker.limits.open_session(&client) {
        Ok(counted) => counted,
        Err(TooManyOpen { retry_after_secs }) => {
            return refuse_too_many(
                retry_after_secs,
                "too many open connections from this address; close one or try again later",
            );
        }
    };
    let Some(slot) = broker.reserve_session(per_client) else {
        catalog::rejected("max_connections");
        return refuse_unavailable("too many connections; try again shortly");
    };

    // (session, resume_failed, resumed)
    let (session, resume_failed, resumed) = match resume {
        Ok(None) => (random::session_id(), false, false),
        Err(InvalidResume) => (random::session_id(), true, false),
        Ok(Some(secret)) => match broker.store.take_resume(&secret).await {
            Ok(Some(session)) => (session, false, true),
            Ok(None) => (random::session_id(), true, false),
            Err(_) => {
                // The store may still be coming up (a replica just restarted): a new session
                // now would lose the old one for good, so let the page retry its resume.
                catalog::rejected("store_unavailable");
                return refuse_unavailable(
                    "the shared store is not reachable yet; try again shortly",
                );
            }
        },
    };
    let connection = Connection::new(ConnectionParts {
        broker: broker.clone(),
        tokens: tokens.get_ref().clone(),
        hub: hub.get_ref().clone(),
        session,
        resume_failed,
        resumed,
        client,
        slot,
    });
    let max_size = broker.settings.sessions.max_message_bytes;
    response.extensions_mut().insert(PendingSession {
        connection,
        codec: actix_http::ws::Codec::new().max_size(max_size),
        write_timeout: Duration::from_secs(broker.settings.sessions.idle_timeout_secs.max(1)),
    });
    response
}

fn refuse_too_many(retry_after_secs: u64, why: &str) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, retry_after_secs.to_string()))
        .content_type("text/plain; charset=utf-8")
        .body(format!("{why}\n"))
}

fn refuse_unavailable(why: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "2"))
        .content_type("text/plain; charset=utf-8")
        .body(format!("{why}\n"))
}

/// A `resume` parameter that cannot be one of our secrets: repeated, too long, or not
/// alphanumeric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidResume;

/// `None` without a `resume` parameter (or an empty one); `Some(secret)` for exactly one
/// well-formed one. Other parameters are ignored: cache-busters and tracking parameters that
/// a page or proxy adds must not cost the user their session.
pub fn resume_param(query: &str) -> Result<Option<ResumeSecret>, InvalidResume> {
    let mut values = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, value)| name == "resume" && !value.is_empty())
        .map(|(_, value)| value);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    // Two copies: which one to trust is unknowable, so neither is.
    if values.next().is_some() {
        return Err(InvalidResume);
    }
    if value.len() <= MAX_RESUME_LEN && value.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(Some(ResumeSecret::new(value.into_owned())))
    } else {
        Err(InvalidResume)
    }
}

/// `scheme://host[:port]`, lower case, default ports dropped, as browsers send `Origin`.
pub fn normalise_origin(origin: &str) -> String {
    match url::Url::parse(origin.trim()) {
        Ok(url) => url.origin().ascii_serialization(),
        Err(_) => origin.trim().to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_parameter_is_strict_and_others_are_ignored() {
        assert_eq!(resume_param(""), Ok(None));
        assert_eq!(resume_param("other=1&v=2"), Ok(None));
        assert_eq!(
            resume_param("_=123&resume=abc"),
            Ok(Some(ResumeSecret::new("abc")))
        );
        assert_eq!(
            resume_param("resume=abc"),
            Ok(Some(ResumeSecret::new("abc")))
        );
        assert_eq!(resume_param("resume="), Ok(None));
        assert!(resume_param("resume=a&resume=b").is_err());
        assert!(resume_param("resume=a%20b").is_err());
        assert!(resume_param(&format!("resume={}", "a".repeat(65))).is_err());
    }

    #[test]
    fn origins_compare_as_browsers_send_them() {
        assert_eq!(normalise_origin("HTTP://LocalHost:80"), "http://localhost");
        assert_eq!(
            normalise_origin("https://x.example:443/"),
            "https://x.example"
        );
        assert_eq!(
            normalise_origin("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
