//! `GET /complete/{provider}`: the redirect URI. The sign-in step (`signin::complete`) checks
//! and spends the `state` and exchanges the code; this hands the result to the `SessionHub`
//! (`TokenReady`), which routes it to the session that began the sign-in, and answers the page
//! that tells the person what happened.

use super::request_limit;
use crate::broker::Broker;
use crate::oauth::TokenClient;
use crate::pages::{self, Page};
use crate::secrets::SessionId;
use crate::signin::complete::{Completed, CompletionError, complete};
use crate::telemetry::catalog;
use crate::ws::answers;
use crate::ws::hub::{SessionHub, TokenReady};
use crate::ws::protocol::ServerMessage;
use actix::Addr;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

pub async fn finish(
    req: HttpRequest,
    path: web::Path<String>,
    broker: web::Data<Broker>,
    tokens: web::Data<TokenClient>,
    hub: web::Data<Addr<SessionHub>>,
) -> actix_web::Result<HttpResponse> {
    request_limit::check(&broker, &req).await?;
    let completed = match complete(&broker, &tokens, &path, req.query_string()).await {
        Ok(completed) => completed,
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
    let page = completed_page(&broker, &completed);
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
        Completed::SignedIn { .. } => Page::ok("Signed in", "You're signed in")
            .para("Go back to your dashboard; it has your sign-in now.")
            .para("You can close this window.")
            .respond(StatusCode::OK),
        Completed::AwaitingCode { code, .. } => {
            let code = code.expose();
            let minutes = broker.settings.signin.confirm_ttl_secs.div_ceil(60);
            Page::ok("Your confirmation code", "Almost done: type this code in your dashboard")
                .highlight(format!("{}-{}", &code[..4], &code[4..]))
                .para(format!(
                    "Go back to your dashboard and type this code where it asks for it, within {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ))
                .para("Type it only into the dashboard where you pressed Sign in yourself, just now. If anyone asks you for this code, or sent you the link that brought you here, don't give it: it would hand them your sign-in.")
                .respond(StatusCode::OK)
        }
    }
}

impl ResponseError for CompletionError {
    fn status_code(&self) -> StatusCode {
        match self {
            CompletionError::BadQuery
            | CompletionError::MissingState
            | CompletionError::UnknownState
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
