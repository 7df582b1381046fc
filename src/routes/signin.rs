//! `GET /signin/{ticket}`: the link the extension opened. The sign-in step
//! (`signin::authorize`) spends the ticket and starts the authorization; this sends the
//! browser on to the provider, or answers a page saying why it cannot.

use super::request_limit;
use crate::broker::Broker;
use crate::pages::{self, Page, strict_headers};
use crate::signin::authorize::{LinkError, authorize};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

pub async fn start(
    req: HttpRequest,
    ticket: web::Path<String>,
    broker: web::Data<Broker>,
) -> actix_web::Result<HttpResponse> {
    request_limit::check(&broker, &req).await?;
    let provider_url = authorize(&broker, &ticket).await?;
    let mut response = HttpResponse::SeeOther();
    strict_headers(&mut response, "'none'");
    Ok(response
        .insert_header((header::LOCATION, provider_url.as_str()))
        .finish())
}

impl ResponseError for LinkError {
    fn status_code(&self) -> StatusCode {
        match self {
            LinkError::NotValid => StatusCode::BAD_REQUEST,
            LinkError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            LinkError::NotValid => Page::problem("Sign-in link expired", "This sign-in link can't be used")
                .para("It has expired or was already used. Sign-in links work once, for a couple of minutes.")
                .para("Go back to your dashboard and press Sign in again to get a new link.")
                .respond(self.status_code()),
            LinkError::Unavailable => pages::unavailable(),
        }
    }
}
