//! `GET /signin/{ticket}`: the link the extension opened. Consumes the one-time ticket, starts a
//! fresh authorization (single-use `state` and PKCE verifier) and sends the browser to the
//! provider.

use crate::broker::Broker;
use crate::limits::{Decision, Limit};
use crate::oauth::authorize::authorize_url;
use crate::pages::{Page, strict_headers};
use crate::random;
use crate::sensitive::Sensitive;
use crate::store::PendingAuthorization;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn start(
    req: HttpRequest,
    ticket: web::Path<String>,
    broker: web::Data<Broker>,
) -> HttpResponse {
    if let Some(refusal) = too_many_requests(&broker, &req).await {
        return refusal;
    }
    let ticket = ticket.into_inner();
    if ticket.is_empty() || ticket.len() > 64 || !ticket.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return link_not_valid();
    }
    let record = match broker.store.take_ticket(&ticket).await {
        Ok(Some(record)) => record,
        Ok(None) => return link_not_valid(),
        Err(_) => return unavailable(),
    };
    let Some(provider) = broker.providers.get(&record.provider).cloned() else {
        return link_not_valid();
    };
    let state = random::opaque_token();
    let verifier = random::pkce_verifier();
    let url = authorize_url(&provider, &state, &verifier);
    let pending = PendingAuthorization {
        session: record.session,
        provider: provider.name.clone(),
        verifier: Sensitive::new(verifier),
    };
    if broker
        .store
        .put_pending(&state, &pending, broker.settings.signin.state_ttl_secs)
        .await
        .is_err()
    {
        return unavailable();
    }
    let mut response = HttpResponse::SeeOther();
    strict_headers(&mut response, "'none'");
    response
        .insert_header((header::LOCATION, url.as_str()))
        .finish()
}

fn link_not_valid() -> HttpResponse {
    metrics::counter!("oauth_broker_rejected_total", "reason" => "bad_ticket").increment(1);
    Page::problem("Sign-in link expired", "This sign-in link can't be used")
        .para(
            "It has expired or was already used. Sign-in links work once, for a couple of minutes.",
        )
        .para("Go back to your dashboard and press Sign in again to get a new link.")
        .respond(StatusCode::BAD_REQUEST)
}

/// The per-address limit on `/signin` and `/complete`: a 429 page with `Retry-After`.
pub async fn too_many_requests(broker: &Broker, req: &HttpRequest) -> Option<HttpResponse> {
    let client = crate::routes::ws::client_ip(req);
    match broker.limits.check(Limit::RequestsPerClient, &client).await {
        Decision::Allowed => None,
        Decision::Limited { retry_after_secs } => {
            let mut response = Page::problem("Too many requests", "Too many sign-in requests")
                .para("This network has made too many sign-in requests in a short time.")
                .para(format!(
                    "Wait {retry_after_secs} seconds, then go back to your dashboard and press Sign in again."
                ))
                .respond(StatusCode::TOO_MANY_REQUESTS);
            if let Ok(value) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Some(response)
        }
    }
}

pub fn unavailable() -> HttpResponse {
    Page::problem("Try again shortly", "Sign-in is briefly unavailable")
        .para("The sign-in service could not reach its shared store. Nothing was lost.")
        .para("Wait a moment, then go back to your dashboard and press Sign in again.")
        .respond(StatusCode::SERVICE_UNAVAILABLE)
}
