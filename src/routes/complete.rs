//! `GET /complete/{provider}`: the redirect URI. The sign-in step (`signin::complete`) checks
//! and spends the `state` and exchanges the code; this hands the result to the `SessionHub`
//! (`TokenReady`), which routes it to the session that began the sign-in, and answers the page
//! that tells the person what happened. Its first answer sets the cookie by which a reload in
//! the same browser shows the same page (`signin::receipt`); a reload routes nothing.

use super::request_limit;
use crate::broker::Broker;
use crate::oauth::TokenClient;
use crate::pages::{self, Page};
use crate::secrets::SessionId;
use crate::signin::complete::{Completed, CompletionError, Outcome, complete};
use crate::signin::receipt::{ReceiptCookie, Reloaded};
use crate::telemetry::catalog;
use crate::ws::answers;
use crate::ws::hub::{SessionHub, TokenReady};
use crate::ws::protocol::ServerMessage;
use actix::Addr;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

pub async fn finish(
    req: HttpRequest,
    path: web::Path<String>,
    broker: web::Data<Broker>,
    tokens: web::Data<TokenClient>,
    hub: web::Data<Addr<SessionHub>>,
) -> actix_web::Result<HttpResponse> {
    request_limit::check(&broker, &req).await?;
    let sent_cookie = |name: &str| request_cookie(&req, name);
    let outcome = complete(&broker, &tokens, &path, req.query_string(), sent_cookie).await;
    let completed = match outcome {
        Ok(Outcome::Completed(completed)) => *completed,
        Ok(Outcome::Reloaded(reloaded)) => return Ok(reloaded_page(&reloaded)),
        Err(failure) => {
            // The sign-in that session began is over: it is told, so no extension waits.
            if let (Some(session), Some(frame)) =
                (failure.session(), answers::completion_failed(&failure))
            {
                let _ = tell(&hub, session.clone(), frame).await;
            }
            return Err(failure.into());
        }
    };
    let mut page = completed_page(&broker, &completed);
    if let Some(cookie) = completed.cookie() {
        page.headers_mut()
            .append(header::SET_COOKIE, set_cookie(&broker, cookie));
    }
    let session = completed.session().clone();
    let (provider, signed_in) = match &completed {
        Completed::SignedIn { grant, .. } => (grant.provider.clone(), true),
        Completed::AwaitingCode { provider, .. } => (provider.clone(), false),
    };
    tell(&hub, session.clone(), answers::completed(completed))
        .await
        .map_err(|()| CompletionError::Unavailable)?;
    if signed_in {
        catalog::signin_completed(&provider);
        log::info!("sign-in {} for {provider} completed", session.short());
    } else {
        log::info!(
            "sign-in {} for {provider} awaiting confirmation code",
            session.short()
        );
    }
    Ok(page)
}

/// Done once the frame is written to the session's socket or parked for it.
async fn tell(hub: &Addr<SessionHub>, session: SessionId, frame: ServerMessage) -> Result<(), ()> {
    match hub.send(TokenReady { session, frame }).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

fn completed_page(broker: &Broker, completed: &Completed) -> HttpResponse {
    match completed {
        Completed::SignedIn { .. } => pages::signed_in().respond(StatusCode::OK),
        Completed::AwaitingCode { code, .. } => {
            pages::confirmation_code(code.expose(), broker.settings.signin.confirm_ttl_secs)
                .respond(StatusCode::OK)
        }
    }
}

fn reloaded_page(reloaded: &Reloaded) -> HttpResponse {
    match reloaded {
        Reloaded::AwaitingCode { code, expires_in } => {
            pages::confirmation_code(code.expose(), *expires_in).respond(StatusCode::OK)
        }
        Reloaded::Delivered => pages::signed_in().respond(StatusCode::OK),
        // The sign-in is over without this browser doing anything wrong: not a bad request.
        Reloaded::Over => pages::code_no_longer_valid().respond(StatusCode::OK),
    }
}

/// The value of the request's cookie `name`. Ours are `[a-z0-9_]=[A-Za-z0-9]`: nothing to
/// unquote or decode, and anything else is not ours.
fn request_cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// `HttpOnly` (no script reads it), only for `/complete/` under the callback URL's path,
/// `Secure` when that URL is HTTPS, and `SameSite=Lax` so that it comes back when the page is
/// reloaded after the provider's cross-site redirect (`Strict` would withhold it there).
fn set_cookie(broker: &Broker, cookie: &ReceiptCookie) -> HeaderValue {
    let line = cookie_line(&broker.callback_base, cookie);
    HeaderValue::from_str(&line).expect("cookie names, values and paths are header-safe")
}

fn cookie_line(callback_base: &str, cookie: &ReceiptCookie) -> String {
    let path = url::Url::parse(callback_base)
        .map(|url| url.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let secure = if callback_base.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={}; Path={path}/complete/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        cookie.name,
        cookie.value.expose(),
        cookie.max_age_secs
    )
}

impl ResponseError for CompletionError {
    fn status_code(&self) -> StatusCode {
        match self {
            CompletionError::BadQuery
            | CompletionError::MissingState
            | CompletionError::UnknownState
            | CompletionError::Replayed
            | CompletionError::ProviderMismatch { .. }
            | CompletionError::UnknownProvider
            | CompletionError::MissingCode { .. } => StatusCode::BAD_REQUEST,
            // Declining is the person's choice, not an error of ours or the provider's.
            CompletionError::Denied { .. } => StatusCode::OK,
            CompletionError::ProviderRefused { .. }
            | CompletionError::Exchange { .. }
            | CompletionError::IdToken { .. } => StatusCode::BAD_GATEWAY,
            CompletionError::WrongIssuer { .. } => StatusCode::BAD_REQUEST,
            CompletionError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            CompletionError::BadQuery
            | CompletionError::MissingState
            | CompletionError::MissingCode { .. } => {
                Page::problem("Sign-in link incomplete", "This sign-in address is incomplete")
                    .para("The address that brought you here is missing something the sign-in needs, or has it twice.")
                    .para("Go back to your dashboard and press Sign in again.")
                    .respond(status)
            }
            CompletionError::UnknownState
            | CompletionError::Replayed
            | CompletionError::ProviderMismatch { .. }
            | CompletionError::UnknownProvider => {
                Page::problem("Sign-in expired", "This sign-in can't be completed")
                    .para("It has expired, was already completed, or didn't start here. For your safety each sign-in works once.")
                    .para("Go back to your dashboard and press Sign in again.")
                    .respond(status)
            }
            CompletionError::Denied { provider, .. } => {
                Page::problem("Sign-in cancelled", "You didn't allow access")
                    .para(format!("Nothing was shared with the dashboard. If that was a mistake, go back to your dashboard and press Sign in again, then choose Allow at {}.", provider.label))
                    .para("You can close this window.")
                    .respond(status)
            }
            CompletionError::ProviderRefused { provider, .. } => {
                Page::problem("Sign-in failed", "The provider reported a problem")
                    .para(format!("{} could not complete the sign-in.", provider.label))
                    .para("Close this window, go back to your dashboard and press Sign in again. If it keeps happening, ask whoever runs this service to check the provider's settings.")
                    .respond(status)
            }
            CompletionError::Exchange { provider, error, .. } => {
                Page::problem("Sign-in failed", "Sign-in didn't complete")
                    .para(format!(
                        "{} accepted your sign-in, but then could not hand over access ({error}).",
                        provider.label
                    ))
                    .para("Close this window, go back to your dashboard and press Sign in again. If it keeps happening, the provider may be having trouble.")
                    .respond(status)
            }
            CompletionError::WrongIssuer { provider, .. } => {
                Page::problem("Sign-in failed", "This sign-in came back from the wrong place")
                    .para(format!("The answer did not come from {}, where this sign-in was sent, so it was not used.", provider.label))
                    .para("Close this window, go back to your dashboard and press Sign in again.")
                    .respond(status)
            }
            CompletionError::IdToken { provider, .. } => {
                Page::problem("Sign-in failed", "Sign-in couldn't be verified")
                    .para(format!(
                        "{} answered, but its proof of who signed in did not check out, so nothing was passed on.",
                        provider.label
                    ))
                    .para("Close this window, go back to your dashboard and press Sign in again. If it keeps happening, ask whoever runs this service to check the provider's settings.")
                    .respond(status)
            }
            CompletionError::Unavailable => pages::unavailable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::CompletionCookie;

    fn cookie() -> ReceiptCookie {
        ReceiptCookie {
            name: "oauth_broker_receipt_0123".into(),
            value: CompletionCookie::new("v4lue"),
            max_age_secs: 900,
        }
    }

    #[test]
    fn the_cookie_is_scoped_to_complete_under_the_callback_path_and_secure_over_https() {
        assert_eq!(
            cookie_line("http://127.0.0.1:8080", &cookie()),
            "oauth_broker_receipt_0123=v4lue; Path=/complete/; Max-Age=900; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            cookie_line("https://host.example/broker", &cookie()),
            "oauth_broker_receipt_0123=v4lue; Path=/broker/complete/; Max-Age=900; HttpOnly; SameSite=Lax; Secure"
        );
    }
}
