//! The per-address limit on `/signin` and `/complete` (`limits.requests_per_client`): a 429
//! page with `Retry-After`, before any other work.

use crate::access_log::client_ip;
use crate::broker::Broker;
use crate::limits::{Decision, Limit};
use crate::pages::Page;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
#[error("too many sign-in requests from this address")]
pub struct TooManyRequests {
    retry_after_secs: u64,
}

pub async fn check(broker: &Broker, req: &HttpRequest) -> Result<(), TooManyRequests> {
    match broker
        .limits
        .check(Limit::RequestsPerClient, &client_ip(req))
        .await
    {
        Decision::Allowed => Ok(()),
        Decision::Limited { retry_after_secs } => Err(TooManyRequests { retry_after_secs }),
    }
}

impl ResponseError for TooManyRequests {
    fn status_code(&self) -> StatusCode {
        StatusCode::TOO_MANY_REQUESTS
    }

    fn error_response(&self) -> HttpResponse {
        let retry_after_secs = self.retry_after_secs;
        let mut response = Page::problem("Too many requests", "Too many sign-in requests")
            .para("This network has made too many sign-in requests in a short time.")
            .para(format!(
                "Wait {retry_after_secs} seconds, then go back to your dashboard and press Sign in again."
            ))
            .respond(self.status_code());
        if let Ok(value) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
