//! `GET /signin/{ticket}`: the link the extension opened. Consumes the one-time ticket, starts a
//! fresh authorization (single-use `state` and PKCE verifier) and sends the browser to the
//! provider.

use crate::broker::Broker;
use crate::oauth::authorize::authorize_url;
use crate::pages::{Page, strict_headers};
use crate::random;
use crate::sensitive::Sensitive;
use crate::store::PendingAuthorization;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};

pub async fn start(ticket: web::Path<String>, broker: web::Data<Broker>) -> HttpResponse {
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

pub fn unavailable() -> HttpResponse {
    Page::problem("Try again shortly", "Sign-in is briefly unavailable")
        .para("The sign-in service could not reach its shared store. Nothing was lost.")
        .para("Wait a moment, then go back to your dashboard and press Sign in again.")
        .respond(StatusCode::SERVICE_UNAVAILABLE)
}
